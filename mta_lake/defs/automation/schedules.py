"""The weekly schedule: land the week that has just ended, on Saturday mornings in New York.

A tick lands the newest week that has ended at the tick's time (``weeks.latest_ended_week``; it
becomes a partition of ``turnstile_weeks`` if its file is not up yet) and gives the run a ``run_key``
equal to the week, so the schedule never launches a week twice.

The MTA usually publishes on Saturday morning, but not always by 10:00. When the file of the
week that just ended is not up yet, the run does not fail: ``raw_turnstile`` asks Dagster to
retry the step later (``RetryRequested``, every ``MTA_LATE_FILE_RETRY_SECONDS``, through the
weekend; see ``mta_lake.defs.raw.assets``). One run stays in progress rather than a stream of red
runs; if the file is still missing when the retries run out, the run fails and alerts. The
reconciliation sensor (``mta_lake.defs.automation.reconcile_sensor``) also lands any week the index lists later.

A source that stops publishing: each tick reads the index page first. When its newest file is more
than ``MTA_SOURCE_STALE_WEEKS`` weeks old the source looks discontinued and the tick is skipped with
that reason (shown on the schedule's tick history) instead of launching a run that fails and alerts
every Saturday; the decision is ``mta_lake.core.source_state.weekly_tick``. The first tick after a
new file appears lands again. An index that cannot be read does not skip: the run decides.
"""

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from mta_lake.core import source_state
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.core.weeks import NEW_YORK_ZONE, PARTITION_TAG
from mta_lake.defs.automation.source_index import published_file_dates
from mta_lake.defs.environment import SETTINGS
from mta_lake.defs.jobs import turnstile_week_job
from mta_lake.defs.resources import MtaSource

SCHEDULE_HOUR = 10
"""10:00 New York time on Saturday: after the MTA's usual morning publication."""

SCHEDULE_TAGS = {"mta_lake/trigger": "weekly_schedule"}


@schedule(
    job=turnstile_week_job,
    name="raw_turnstile_weekly",
    cron_schedule=f"0 {SCHEDULE_HOUR} * * 6",
    execution_timezone=NEW_YORK_ZONE,
    description=(
        "Saturdays 10:00 New York: land the week that just ended; skipped, with the reason, while "
        "the MTA source looks discontinued (MTA_SOURCE_STALE_WEEKS)."
    ),
    default_status=DefaultScheduleStatus.RUNNING,
    tags=SCHEDULE_TAGS,
)
def raw_turnstile_weekly(context: ScheduleEvaluationContext, mta_source: MtaSource):
    now = context.scheduled_execution_time
    assert now is not None  # a schedule's tick always has one
    decision = source_state.weekly_tick(published_file_dates(mta_source), now, SETTINGS.source_stale_weeks)
    if decision.skip_reason:
        context.log.warning(decision.skip_reason)
        return SkipReason(decision.skip_reason)
    key = decision.week.isoformat()
    if decision.status is None:
        context.log.warning("the MTA index page could not be read: launching the week; the run decides")
    # The week may not be published yet (the file usually comes on Saturday morning): it becomes a
    # partition now, so that its run can wait for the file; watch_mta_index removes it again if no
    # file has come by its publication deadline. It is the newest ended week, so the keys stay in order.
    if not context.instance.has_dynamic_partition(PARTITIONS_NAME, key):
        context.instance.add_dynamic_partitions(PARTITIONS_NAME, [key])
    # run_key: the schedule never launches a week twice (like build_schedule_from_partitioned_job).
    return RunRequest(run_key=key, partition_key=key, tags={**SCHEDULE_TAGS, PARTITION_TAG: key})
