"""The Dagster internals mta_lake needs, in one place, each with why (dagster 1.13.27).

Nothing else in the project imports from ``dagster._...``: an upgrade checks this module. Each name
below is used because 1.13 offers no public way to do the same thing.

- ``AssetGraphSubset``: the argument of the public ``RunRequest.for_asset_graph_subset``. A sensor
  requests an *asset backfill* only this way, and only an asset backfill honours the assets'
  ``BackfillPolicy`` (weeks per run), the run queue and the ``mta_source`` pool.
- ``BulkActionStatus``: the status filter of ``DagsterInstance.get_backfills``. The sensors must know
  which weeks an unfinished backfill still targets, so that they neither request them again nor
  remove their partitions (a backfill whose partitions vanish fails as a whole).
"""

from collections.abc import Iterable, Mapping, Sequence

from dagster import AssetKey, DagsterInstance, PartitionsDefinition, RunRequest


def asset_backfill_request(
    partitions_def: PartitionsDefinition,
    partition_keys: Sequence[str],
    asset_keys: Iterable[AssetKey],
    tags: Mapping[str, str],
) -> RunRequest:
    """A sensor's request for one asset backfill of these partitions of these assets."""
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

    subset = partitions_def.subset_with_partition_keys(partition_keys)
    return RunRequest.for_asset_graph_subset(
        AssetGraphSubset(partitions_subsets_by_asset_key={key: subset for key in asset_keys}),
        tags=dict(tags),
    )


def unfinished_backfill_targets(instance: DagsterInstance) -> list[tuple[Mapping[str, str], list[str]]]:
    """Every unfinished backfill: its tags and the partition keys it targets."""
    # Imported here: dagster._core.execution.backfill loads the remote asset graph (~0.2 s), which
    # every run process would otherwise pay on import (benchmarks/startup.py).
    from dagster._core.execution.backfill import BulkActionStatus

    found = []
    for status in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING):
        for backfill in instance.get_backfills(status=status):
            if backfill.is_asset_backfill and backfill.asset_backfill_data is not None:
                subsets = backfill.asset_backfill_data.target_subset.partitions_subsets_by_asset_key
                keys = sorted({key for subset in subsets.values() for key in subset.get_partition_keys()})
            else:
                keys = list(backfill.partition_names or [])
            found.append((dict(backfill.tags), keys))
    return found
