"""How every weekly asset reports the weeks of a run to Dagster (shared by the raw and clean layers).

A run may cover several weeks (``BackfillPolicy.multi_run``). Dagster 1.13 gives a ranged run one
output for all its weeks, so:

- **Every week done:** one ``MaterializeResult`` (so the next layer's step in the same run goes
  ahead), each week with its own metadata (``add_asset_metadata(partition_key=...)``). A one-week
  run also records the week's own data version; a ranged run cannot give each week its own, so
  Dagster derives one for the run, and the week's own version stays in its metadata.
- **Some weeks failed:** one ``AssetMaterialization`` per week that is done, then the ``Failure``
  naming the others (or the ``RetryRequested`` that tries them again). The weeks that are done stay
  recorded, so a backfill or a retry redoes only the rest; the next layer's step is skipped in this
  run (its weeks follow in a later run).
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    DataVersion,
    Failure,
    MaterializeResult,
    RetryRequested,
)

DATA_VERSION_TAG = "dagster/data_version"
DATA_VERSION_IS_USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"


@dataclass(frozen=True)
class WeekDone:
    """One week of a run that is done, as it should be recorded."""

    week: str
    metadata: Mapping[str, object]
    data_version: str | None = None
    description: str | None = None


def week_materialization(asset_key: AssetKey, done: WeekDone) -> AssetMaterialization:
    """One week's materialisation, with its own metadata and data version (a runless or partial record)."""
    tags = {}
    if done.data_version:
        tags = {DATA_VERSION_TAG: done.data_version, DATA_VERSION_IS_USER_PROVIDED_TAG: "true"}
    return AssetMaterialization(
        asset_key=asset_key,
        partition=done.week,
        description=done.description,
        metadata=dict(done.metadata),
        tags=tags,
    )


def report_weeks(
    context: AssetExecutionContext, done: Sequence[WeekDone], failure: Failure | RetryRequested | None
) -> Iterator[AssetMaterialization | MaterializeResult]:
    """Record the run's weeks as the module docstring says; raise ``failure`` after the done ones."""
    if failure is not None:
        for week in done:
            yield week_materialization(context.asset_key, week)
        raise failure
    for week in done:
        context.add_asset_metadata(dict(week.metadata), partition_key=week.week)
    versions = {week.data_version for week in done}
    single = len(done) == 1 and None not in versions
    yield MaterializeResult(data_version=DataVersion(done[0].data_version) if single else None)  # type: ignore[arg-type]
