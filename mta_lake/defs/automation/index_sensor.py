"""``watch_mta_index``: the partitions are the weeks the MTA published, and a source that stops is said once.

Running everywhere, laptops included; it lands nothing. Each tick (``MTA_INDEX_WATCH_INTERVAL_SECONDS``;
the first one as soon as the daemon starts) reads the index page (one small request) and a listing of
the lake, and:

- makes ``turnstile_weeks`` (dynamic partitions in the instance) equal the published and landed weeks,
  in week order: ``mta_lake.core.published_weeks.plan_partitions`` decides, this sensor applies its
  plan as dynamic-partition requests. The UI shows the change at once, on any port: nothing reloads.
- keeps the index as read in the lake (``state/published_files.json``, for the dashboard);
- says once when the source starts to look discontinued (a log line, an observation on
  ``raw_turnstile`` and one alert), and once when it resumes (``mta_lake.core.source_state``); the
  cursor remembers which it last said.
"""

import json
from datetime import date, datetime, timedelta

from dagster import (
    AssetObservation,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from mta_lake.core import reconcile, source_state, weeks
from mta_lake.core.alerts import AlertTargets
from mta_lake.core.lake import Lake, LakeError
from mta_lake.core.published_weeks import PARTITIONS_NAME, plan_partitions
from mta_lake.defs.automation.in_flight import in_flight
from mta_lake.defs.automation.source_index import published_file_dates
from mta_lake.defs.environment import SETTINGS
from mta_lake.defs.partitions import apply_partition_plan, turnstile_weeks
from mta_lake.defs.raw.assets import RAW_TURNSTILE_KEY
from mta_lake.defs.resources import LakeResource, MtaSource

WATCH_SENSOR_NAME = "watch_mta_index"


def _said_discontinued(cursor: str | None) -> bool:
    """Whether the last notice the sensor sent said the source looks discontinued."""
    try:
        return bool(json.loads(cursor or "{}").get("discontinued", False))
    except (ValueError, AttributeError):
        return False


def _source_notice(
    context: SensorEvaluationContext, status: source_state.SourceStatus
) -> list[AssetObservation]:
    """Say once that the source looks discontinued, and once that it resumed."""
    was = _said_discontinued(context.cursor)
    if status.discontinued == was:
        return []
    message = status.describe() if status.discontinued else f"the MTA source has resumed: {status.describe()}"
    (context.log.warning if status.discontinued else context.log.info)(message)
    for outcome in source_state.send_source_notice(message, status, AlertTargets.from_env()):
        context.log.info(outcome)
    return [
        AssetObservation(
            asset_key=RAW_TURNSTILE_KEY,
            description=message,
            metadata={
                "source_status": "discontinued" if status.discontinued else "publishing",
                "newest_file": status.newest_file_name or "(none)",
                "stale_weeks": SETTINGS.source_stale_weeks,
            },
        )
    ]


def keep_index_snapshot(context: SensorEvaluationContext, store: Lake, published: list[date]) -> None:
    """The index as read now, in the lake for readers that must not reach the MTA (written only on change)."""
    snapshot = source_state.IndexSnapshot(tuple(sorted(set(published))))
    if source_state.read_snapshot(store) != snapshot:
        uri = source_state.write_snapshot(store, snapshot)
        context.log.info(f"the index's {len(snapshot.file_dates)} file dates written to {uri}")


@sensor(
    name=WATCH_SENSOR_NAME,
    minimum_interval_seconds=SETTINGS.index_watch_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING
    if SETTINGS.index_watch_running
    else DefaultSensorStatus.STOPPED,
    description=(
        "Reads the MTA index page (one small request) and the lake's listing, and keeps the partitions "
        "of turnstile_weeks equal to the weeks the MTA published (and any week in the lake), in week "
        "order; a source whose newest file is more than MTA_SOURCE_STALE_WEEKS weeks old is reported "
        "once as discontinued, and once when it resumes. Lands nothing."
    ),
)
def watch_mta_index(context: SensorEvaluationContext, mta_source: MtaSource, lake: LakeResource):
    now = datetime.now(weeks.NEW_YORK)
    published = published_file_dates(mta_source)
    try:
        store = lake.lake()
        in_lake = list(reconcile.lake_weeks(reconcile.read_lake(store)))
        if published is not None:
            keep_index_snapshot(context, store, published)
    except LakeError as error:
        # Without the lake's listing a landed week could be taken for an unpublished one: remove nothing.
        context.log.warning(f"the lake could not be listed ({error}); no partition is removed this tick")
        in_lake = None
    current = context.instance.get_dynamic_partitions(PARTITIONS_NAME)
    plan = plan_partitions(
        current,
        published,
        in_lake,
        in_flight(context.instance).weeks,
        now,
        timedelta(seconds=SETTINGS.late_file_grace_seconds),
    )
    requests = []
    if plan.moved:
        # Dagster refuses a tick that deletes and adds the same keys: a move is applied here, at once.
        apply_partition_plan(context.instance, plan)
    else:
        if plan.delete:
            requests.append(turnstile_weeks.build_delete_request(list(plan.delete)))
        if plan.add:
            requests.append(turnstile_weeks.build_add_request(list(plan.add)))
    lines = []
    if plan.add:
        lines.append(
            f"{len(plan.add)} week(s) added to the partitions: {reconcile.format_weeks(list(plan.add))}"
        )
    if plan.unpublished:
        lines.append(
            f"{len(plan.unpublished)} week(s) with no published file past their deadline removed from "
            f"the partitions: {reconcile.format_weeks(list(plan.unpublished))}"
        )
    if plan.moved:
        lines.append(f"{len(plan.moved)} key(s) moved to keep the partitions in week order")
    if plan.deferred:
        lines.append(
            f"{len(plan.deferred)} published week(s) older than the newest partition wait until no run is "
            f"in flight (adding them now would reorder keys under it): {reconcile.format_weeks(list(plan.deferred))}"
        )
    for line in lines:
        context.log.info(line)

    events = []
    cursor = context.cursor
    if published is None:
        summary = (
            f"the MTA index page ({mta_source.site_url}) could not be read or lists no file: "
            "published weeks cannot be told from unpublished ones; only landed weeks are added"
        )
        context.log.warning(summary)
    else:
        status = source_state.source_status(published, now, SETTINGS.source_stale_weeks)
        events = _source_notice(context, status)
        cursor = json.dumps({"discontinued": status.discontinued})
        summary = status.describe()
    partitions = len(current) - len(plan.delete) + len(plan.add)
    summary += f"; {partitions} partition(s)"
    if not plan.changed and not events:
        return SensorResult(skip_reason=f"unchanged: {summary}", cursor=cursor)
    return SensorResult(dynamic_partitions_requests=requests, asset_events=events, cursor=cursor)
