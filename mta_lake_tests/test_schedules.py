"""The weekly schedule: which week a Saturday tick lands."""

from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import DefaultScheduleStatus, ScheduleDefinition, build_schedule_context

from mta_lake.definitions import defs

NEW_YORK = ZoneInfo("America/New_York")


def weekly_schedule() -> ScheduleDefinition:
    # build_schedule_from_partitioned_job returns an unresolved schedule; Definitions resolves it
    # against the job's partitions, exactly as the daemon sees it.
    return defs.resolve_schedule_def("raw_turnstile_weekly")


def tick(when: datetime):
    return weekly_schedule().evaluate_tick(build_schedule_context(scheduled_execution_time=when))


def test_cron_is_saturday_morning_new_york_and_running() -> None:
    schedule = weekly_schedule()
    assert schedule.cron_schedule == "0 10 * * 6"
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "turnstile_week_job"


def test_saturday_tick_requests_exactly_the_week_just_ended() -> None:
    data = tick(datetime(2024, 1, 20, 10, 0, tzinfo=NEW_YORK))
    (request,) = data.run_requests
    assert request.partition_key == "2024-01-13"
    assert request.run_key == "2024-01-13"
    assert request.tags["dagster/schedule_name"] == "raw_turnstile_weekly"


def test_friday_tick_still_requests_the_previous_week() -> None:
    # A tick any other day lands the newest week that has ended, never the running one.
    data = tick(datetime(2024, 1, 19, 23, 0, tzinfo=NEW_YORK))
    assert [r.partition_key for r in data.run_requests] == ["2024-01-06"]


def test_year_boundary_tick() -> None:
    data = tick(datetime(2024, 1, 6, 10, 0, tzinfo=NEW_YORK))
    assert [r.partition_key for r in data.run_requests] == ["2023-12-30"]
