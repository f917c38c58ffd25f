"""Freshness of ``raw_turnstile``: the UI shows when the newest week is overdue.

``build_time_partition_freshness_checks`` checks that the newest *ended* week as of the last
deadline has been materialised. The MTA publishes a week's file on the Saturday after it ends;
the schedule lands it that morning, and the reconciliation sensor later that weekend if the file
came late. The deadline, Sunday 18:00 New York, leaves that margin: on a Sunday evening with the
week that ended on Saturday still missing, the check fails (a WARN in the UI's asset page and the
asset health), and passes again as soon as the week lands. ``freshness_checks_sensor`` evaluates
it.
"""

from dagster import (
    DefaultSensorStatus,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)

from mta_lake.defs.raw.assets import raw_turnstile

FRESHNESS_DEADLINE_CRON = "0 18 * * 0"
"""Sundays 18:00 (America/New_York): by then the week that ended on Saturday should be in the lake."""

raw_turnstile_freshness_checks = build_time_partition_freshness_checks(
    assets=[raw_turnstile],
    deadline_cron=FRESHNESS_DEADLINE_CRON,
    timezone="America/New_York",
)

freshness_checks_sensor = build_sensor_for_freshness_checks(
    freshness_checks=raw_turnstile_freshness_checks,
    name="raw_turnstile_freshness_sensor",
    default_status=DefaultSensorStatus.RUNNING,
)
