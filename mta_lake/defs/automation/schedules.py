"""The weekly schedule: land the week that has just ended, on Saturday mornings in New York.

``build_schedule_from_partitioned_job`` picks the week a tick lands (the newest ended partition
of ``turnstile_weeks`` at the tick's time) and gives the run a ``run_key`` equal to the week, so
the schedule never launches a week twice.

The MTA usually publishes on Saturday morning, but not always by 10:00. When the file of the
week that just ended is not up yet, the run does not fail: ``raw_turnstile`` asks Dagster to
retry the step later (``RetryRequested``, every ``MTA_LATE_FILE_RETRY_SECONDS``, through the
weekend; see ``mta_lake.defs.raw.assets``). One run stays in progress rather than a stream of red
runs; if the file is still missing when the retries run out, the run fails and alerts. The
reconciliation sensor (``mta_lake.defs.automation.sensors``) also lands any week the index lists later.
"""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from mta_lake.defs.jobs import turnstile_week_job

SCHEDULE_HOUR = 10
"""10:00 New York time on Saturday: after the MTA's usual morning publication."""

raw_turnstile_weekly = build_schedule_from_partitioned_job(
    turnstile_week_job,
    name="raw_turnstile_weekly",
    description="Saturdays 10:00 New York: land the week that just ended.",
    hour_of_day=SCHEDULE_HOUR,
    minute_of_hour=0,
    default_status=DefaultScheduleStatus.RUNNING,
    tags={"mta_lake/trigger": "weekly_schedule"},
)
