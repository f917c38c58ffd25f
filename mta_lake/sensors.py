"""``reconcile_raw_turnstile``: find every gap between the MTA, the lake and Dagster, and close it.

A thin skin over ``mta_lake.reconcile``. Each tick reads the three views afresh (the index page,
a listing of the lake, Dagster's materialised partitions) and acts on the difference:

- published, absent from the lake (``missing``) and recorded but gone from the lake (``lost``,
  logged as a warning): requested as one **asset backfill** of at most
  ``MTA_RECONCILE_MAX_WEEKS`` weeks. An asset backfill honours ``raw_turnstile``'s
  ``BackfillPolicy`` (weeks per run) and its runs go through the run queue and the
  ``mta_source`` pool, so the MTA never sees more downloads than the pool allows. Only one
  reconciliation backfill is in flight at a time, and weeks already being landed (a queued or
  running run, an unfinished backfill) are left to it.
- in the lake but unknown to Dagster (``unrecorded``): recorded as materialised from the
  object's own metadata, with no download (at most ``MTA_RECONCILE_MAX_RECORDS`` a tick).
- not published: left alone (``mta-lake status`` shows them).

The cursor remembers when each missing week was last requested, so a week that fails to land
(listed but 404, a corrupt file) is retried after ``MTA_RECONCILE_RETRY_HOURS``, not every tick.
A lost week is requested again regardless: its object was there once.
"""

import json
import os
import time

from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    PartitionKeyRange,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from mta_lake import reconcile
from mta_lake.assets.raw import DATA_VERSION_IS_USER_PROVIDED_TAG, DATA_VERSION_TAG, WEEKS_PER_RUN
from mta_lake.landing import lake_key
from mta_lake.partitions import turnstile_weeks
from mta_lake.resources import LakeResource, MtaSource

RAW_TURNSTILE = AssetKey("raw_turnstile")
RECONCILE_TAG = "mta_lake/reconcile"

INTERVAL_SECONDS = int(os.environ.get("MTA_RECONCILE_INTERVAL_SECONDS") or "120")
MAX_WEEKS_PER_TICK = int(os.environ.get("MTA_RECONCILE_MAX_WEEKS") or str(4 * WEEKS_PER_RUN))
MAX_RECORDS_PER_TICK = int(os.environ.get("MTA_RECONCILE_MAX_RECORDS") or "500")
RETRY_SECONDS = float(os.environ.get("MTA_RECONCILE_RETRY_HOURS") or "6") * 3600
DEFAULT_STATUS = (
    DefaultSensorStatus.STOPPED
    if os.environ.get("MTA_RECONCILE_SENSOR", "running").lower() in {"stopped", "off", "0", "false"}
    else DefaultSensorStatus.RUNNING
)

UNFINISHED_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def _run_weeks(tags: dict[str, str]) -> list[str]:
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    if start and end:
        return turnstile_weeks.get_partition_keys_in_range(PartitionKeyRange(start, end))
    return []


def in_flight(instance: DagsterInstance) -> tuple[set[str], bool]:
    """Weeks some unfinished run or backfill will land, and whether a reconciliation backfill is unfinished."""
    weeks: set[str] = set()
    for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED_RUN_STATUSES)):
        weeks.update(_run_weeks(dict(run.tags)))
    reconciling = False
    # Imported here: dagster._core.execution.backfill loads the remote asset graph (~0.2 s),
    # which every run process would otherwise pay on import (benchmarks/startup.py).
    from dagster._core.execution.backfill import BulkActionStatus

    unfinished = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING)
    for status in unfinished:
        for backfill in instance.get_backfills(status=status):
            if backfill.tags.get(RECONCILE_TAG):
                reconciling = True
            weeks.update(_backfill_weeks(backfill))
    return weeks, reconciling


def _backfill_weeks(backfill) -> list[str]:
    if backfill.is_asset_backfill and backfill.asset_backfill_data is not None:
        subsets = backfill.asset_backfill_data.target_subset.partitions_subsets_by_asset_key
        subset = subsets.get(RAW_TURNSTILE)
        return list(subset.get_partition_keys()) if subset is not None else []
    return list(backfill.partition_names or [])


def _load_cursor(cursor: str | None) -> dict[str, float]:
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    requested = data.get("requested", {}) if isinstance(data, dict) else {}
    return {str(k): float(v) for k, v in requested.items()}


@sensor(
    name="reconcile_raw_turnstile",
    # Needed to request asset backfills (RunRequest.for_asset_graph_subset) from a sensor.
    asset_selection=[RAW_TURNSTILE],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DEFAULT_STATUS,
    description=(
        "Compares the MTA index, a listing of the lake and Dagster's record of raw_turnstile: "
        "requests published weeks missing from the lake (as an asset backfill, a bounded number a "
        "tick), records weeks found in the lake without downloading them, and warns about weeks "
        "recorded but gone from the lake (and lands them again)."
    ),
)
def reconcile_raw_turnstile(context: SensorEvaluationContext, mta_source: MtaSource, lake: LakeResource):
    site = mta_source.site()
    try:
        published = reconcile.read_published(site)
    finally:
        site.close()
    store = lake.lake()
    objects = reconcile.read_lake(store)
    recorded = context.instance.get_materialized_partitions(RAW_TURNSTILE)
    result = reconcile.reconcile(published, objects, recorded)
    counts = result.counts()
    context.log.info(f"reconciliation: {counts}")
    if not result.index_readable:
        context.log.warning(
            f"the MTA index page {site.index_url} could not be read: missing weeks cannot be told "
            "from unpublished ones, so none are requested this tick"
        )

    # Weeks in the lake that Dagster does not know: record them, no download.
    events = []
    for status in result.to_record[:MAX_RECORDS_PER_TICK]:
        assert status.lake_object is not None
        metadata = reconcile.recorded_metadata(store, status.lake_object)
        tags = {}
        if metadata.get("source_crc32c"):
            tags = {
                DATA_VERSION_TAG: str(metadata["source_crc32c"]),
                DATA_VERSION_IS_USER_PROVIDED_TAG: "true",
            }
        events.append(
            AssetMaterialization(
                asset_key=RAW_TURNSTILE,
                partition=status.key,
                description="Found in the lake; recorded by the reconciliation sensor without downloading.",
                metadata=metadata,
                tags=tags,
            )
        )
    if events:
        context.log.info(
            f"recording {len(events)} week(s) found in the lake: "
            f"{reconcile.format_weeks([e.partition for e in events if e.partition])}"
        )

    # Weeks to land.
    now = time.time()
    requested_at = _load_cursor(context.cursor)
    lost = result.keys(reconcile.WeekState.LOST)
    flying, reconciling = in_flight(context.instance)
    for status in result.by_state(reconcile.WeekState.LOST):
        uri = store.uri(lake_key(status.file_name or ""))
        if status.key in flying:
            context.log.info(f"week {status.key}: object {uri} gone from the lake; being landed again")
            continue
        context.log.warning(
            f"week {status.key}: Dagster recorded it as materialised but its object "
            f"{uri} is GONE from the lake; landing it again"
        )
    candidates = [
        week
        for week in result.to_land
        if week not in flying and (week in lost or now - requested_at.get(week, 0.0) >= RETRY_SECONDS)
    ]
    run_requests: list[RunRequest] = []
    if candidates and reconciling:
        context.log.info(
            f"{len(candidates)} week(s) to land wait for the reconciliation backfill in flight to finish"
        )
    elif candidates:
        batch = candidates[:MAX_WEEKS_PER_TICK]
        subset = AssetGraphSubset(
            partitions_subsets_by_asset_key={RAW_TURNSTILE: turnstile_weeks.subset_with_partition_keys(batch)}
        )
        run_requests.append(RunRequest.for_asset_graph_subset(subset, tags={RECONCILE_TAG: "true"}))
        context.log.info(
            f"requesting {len(batch)} of {len(candidates)} week(s) to land as an asset backfill: "
            f"{reconcile.format_weeks(batch)}"
        )
        requested_at.update({week: now for week in batch})

    # Forget weeks that have landed, and requests older than the retry delay.
    landed = set(result.keys(reconcile.WeekState.LANDED, reconcile.WeekState.UNRECORDED))
    requested_at = {w: t for w, t in requested_at.items() if w not in landed and now - t < RETRY_SECONDS}
    cursor = json.dumps({"requested": requested_at}, sort_keys=True)
    if not run_requests and not events:
        return SensorResult(
            skip_reason=SkipReason(
                f"nothing to do: {counts['landed']} landed, {counts['not_published']} not published, "
                f"{len(result.to_land)} to land ({len(result.to_land) - len(candidates)} in flight or "
                "waiting for their retry delay)"
            ),
            cursor=cursor,
        )
    return SensorResult(run_requests=run_requests, asset_events=events, cursor=cursor)
