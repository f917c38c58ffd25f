"""``reconcile_raw_turnstile``: find every gap between the MTA, the lake and Dagster, and close it.

A thin skin over ``mta_lake.core.reconcile``: it reads the views and reports; the decisions are
``plan_reconciliation``'s. Each tick reads the three views afresh (the index page,
a listing of the lake, Dagster's materialised partitions) and acts on the difference:

- published, absent from the lake (``missing``) and recorded but gone from the lake (``lost``,
  logged as a warning): requested as one **asset backfill** of at most
  ``MTA_RECONCILE_MAX_WEEKS`` weeks (docs/SETTINGS.md). An asset backfill honours ``raw_turnstile``'s
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

import time

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from mta_lake.core import layout, reconcile
from mta_lake.core.landing_report import report_from_lake_object
from mta_lake.core.layout import raw_key
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.defs.automation.in_flight import RECONCILE_TAG, in_flight
from mta_lake.defs.dagster_private import asset_backfill_request
from mta_lake.defs.environment import SETTINGS
from mta_lake.defs.partitions import turnstile_weeks
from mta_lake.defs.raw.assets import RAW_TURNSTILE_KEY, week_done
from mta_lake.defs.resources import LakeResource, MtaSource
from mta_lake.defs.weekly import week_materialization


def _backfill_request(weeks_to_request: list[str], asset_keys: list[AssetKey]) -> RunRequest:
    """One asset backfill of these weeks of these assets (honouring their BackfillPolicy)."""
    return asset_backfill_request(turnstile_weeks, weeks_to_request, asset_keys, {RECONCILE_TAG: "true"})


@sensor(
    name="reconcile_raw_turnstile",
    # Needed to request asset backfills (RunRequest.for_asset_graph_subset) from a sensor.
    asset_selection=[AssetKey(key) for key in layout.WEEKLY_ASSETS],
    minimum_interval_seconds=SETTINGS.reconcile_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING
    if SETTINGS.reconcile_sensor_running
    else DefaultSensorStatus.STOPPED,
    description=(
        "Compares the MTA index, a listing of the lake and Dagster's record of raw_turnstile: "
        "requests published weeks missing from the lake (as an asset backfill, a bounded number a "
        "tick), records weeks found in the lake without downloading them, and warns about weeks "
        "recorded but gone from the lake (and lands them again); cleans weeks whose raw file is in "
        "the lake and whose clean week is not."
    ),
)
def reconcile_raw_turnstile(context: SensorEvaluationContext, mta_source: MtaSource, lake: LakeResource):
    site = mta_source.site()
    try:
        published = reconcile.read_published(site)
    finally:
        site.close()
    store = lake.lake()
    result = reconcile.reconcile(
        published, reconcile.read_lake(store), context.instance.get_materialized_partitions(RAW_TURNSTILE_KEY)
    )
    counts = result.counts()
    context.log.info(f"reconciliation: {counts}")
    if not result.index_readable:
        context.log.warning(
            f"the MTA index page {site.index_url} could not be read: missing weeks cannot be told "
            "from unpublished ones, so none are requested this tick"
        )
    cleaned = {layout.clean_week_of_key(obj.key) for obj in store.list(layout.CLEAN_READINGS_PREFIX)}
    raw_weeks = result.keys(reconcile.WeekState.LANDED, reconcile.WeekState.UNRECORDED)
    flying = in_flight(context.instance)
    plan = reconcile.plan_reconciliation(
        result,
        requested_at=reconcile.load_cursor(context.cursor),
        in_flight=flying.weeks,
        reconciling=flying.reconciling,
        now=time.time(),
        max_weeks=SETTINGS.reconcile_weeks_per_tick,
        max_records=SETTINGS.reconcile_max_records,
        retry_seconds=SETTINGS.reconcile_retry_seconds,
        clean_missing=[week for week in raw_weeks if week not in cleaned],
        partitions=context.instance.get_dynamic_partitions(PARTITIONS_NAME),
    )

    events = []
    for status in plan.record:
        assert status.lake_object is not None
        report = report_from_lake_object(store, status.lake_object, "recorded_from_lake")
        description = "Found in the lake; recorded by the reconciliation sensor without downloading."
        events.append(week_materialization(RAW_TURNSTILE_KEY, week_done(report, description)))
    if events:
        context.log.info(
            f"recording {len(events)} week(s) found in the lake: "
            f"{reconcile.format_weeks([status.key for status in plan.record])}"
        )
    for status in plan.lost_in_flight:
        uri = store.uri(raw_key(status.file_name or ""))
        context.log.info(f"week {status.key}: object {uri} gone from the lake; being landed again")
    for status in plan.lost:
        uri = store.uri(raw_key(status.file_name or ""))
        context.log.warning(
            f"week {status.key}: Dagster recorded it as materialised but its object "
            f"{uri} is GONE from the lake; landing it again"
        )

    if plan.not_partitions:
        context.log.info(
            f"{len(plan.not_partitions)} week(s) to land or record are not partitions yet; "
            f"watch_mta_index adds them: {reconcile.format_weeks(plan.not_partitions)}"
        )
    run_requests: list[RunRequest] = []
    if plan.waiting_for_backfill:
        context.log.info("weeks to land or clean wait for the reconciliation backfill in flight to finish")
    if plan.request:
        # The layers above raw follow in the same runs.
        run_requests.append(_backfill_request(plan.request, [AssetKey(key) for key in layout.WEEKLY_ASSETS]))
        context.log.info(
            f"requesting {len(plan.request)} of {plan.candidates} week(s) to land as an asset backfill: "
            f"{reconcile.format_weeks(plan.request)}"
        )
    if plan.request_clean:
        # The clean weeks, and the mart above them.
        run_requests.append(
            _backfill_request(plan.request_clean, [AssetKey(key) for key in layout.WEEKLY_ASSETS[1:]])
        )
        context.log.info(
            f"requesting {len(plan.request_clean)} week(s) in the raw lake to clean: "
            f"{reconcile.format_weeks(plan.request_clean)}"
        )

    cursor = reconcile.dump_cursor(plan.requested_at)
    if not run_requests and not events:
        return SensorResult(
            skip_reason=SkipReason(
                f"nothing to do: {counts['landed']} landed, {counts['not_published']} not published, "
                f"{len(result.to_land)} to land ({len(result.to_land) - plan.candidates} in flight or "
                "waiting for their retry delay)"
            ),
            cursor=cursor,
        )
    return SensorResult(run_requests=run_requests, asset_events=events, cursor=cursor)
