"""The weekly schedule: which week a Saturday tick lands, and its ticks past the end of a source.

Each tick reads the index page of a real MTA mirror first (``source_state.weekly_tick``).
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    DagsterInstance,
    DefaultScheduleStatus,
    ScheduleDefinition,
    build_schedule_context,
    instance_for_test,
)

from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.core.weeks import file_name
from mta_lake.definitions import defs
from mta_lake.defs.resources import MtaSource
from mta_lake_harness.mirror import MtaMirror

NEW_YORK = ZoneInfo("America/New_York")


def weekly_schedule() -> ScheduleDefinition:
    # Definitions binds the schedule to the job and its resources, exactly as the daemon sees it.
    return defs.resolve_schedule_def("raw_turnstile_weekly")


_INSTANCE: list[DagsterInstance] = []


@pytest.fixture(scope="module", autouse=True)
def schedule_instance() -> Iterator[DagsterInstance]:
    """One persistent instance for the module's ticks (a schedule's context needs one; each costs seconds)."""
    with instance_for_test() as instance:
        _INSTANCE.append(instance)
        yield instance
        _INSTANCE.clear()


def tick(when: datetime, site: MtaMirror):
    with build_schedule_context(
        instance=_INSTANCE[0],
        scheduled_execution_time=when,
        resources={"mta_source": MtaSource(site_url=site.url, max_retries=0)},
        repository_def=defs.get_repository_def(),
    ) as context:
        return weekly_schedule().evaluate_tick(context)


def saturdays(first: date, last: date) -> list[date]:
    return [first + timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)]


@pytest.fixture(scope="module")
def site() -> Iterator[MtaMirror]:
    """A mirror publishing every Saturday's file from 2023-11-04 to 2024-03-02."""
    with MtaMirror() as mirror:
        for day in saturdays(date(2023, 11, 4), date(2024, 3, 2)):
            mirror.add(file_name(day), b"x")
        yield mirror


def test_cron_is_saturday_morning_new_york_and_running() -> None:
    schedule = weekly_schedule()
    assert schedule.cron_schedule == "0 10 * * 6"
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "turnstile_week_job"


def test_saturday_tick_requests_exactly_the_week_just_ended(
    site: MtaMirror, schedule_instance: DagsterInstance
) -> None:
    data = tick(datetime(2024, 1, 20, 10, 0, tzinfo=NEW_YORK), site)
    # The week becomes a partition when it is launched (its file may come later that weekend).
    assert "2024-01-13" in schedule_instance.get_dynamic_partitions(PARTITIONS_NAME)
    (request,) = data.run_requests
    assert request.partition_key == "2024-01-13"
    assert request.run_key == "2024-01-13"
    assert request.tags["dagster/schedule_name"] == "raw_turnstile_weekly"


def test_friday_tick_still_requests_the_previous_week(site: MtaMirror) -> None:
    # A tick any other day lands the newest week that has ended, never the running one.
    data = tick(datetime(2024, 1, 19, 23, 0, tzinfo=NEW_YORK), site)
    assert [r.partition_key for r in data.run_requests] == ["2024-01-06"]


def test_year_boundary_tick(site: MtaMirror) -> None:
    data = tick(datetime(2024, 1, 6, 10, 0, tzinfo=NEW_YORK), site)
    assert [r.partition_key for r in data.run_requests] == ["2023-12-30"]


def test_a_source_that_stops_then_resumes_across_saturdays() -> None:
    """Files until 2024-01-20, none for ten weeks, then one again: ticks land, skip once stale, resume."""
    stopped = date(2024, 1, 20)
    with MtaMirror() as mirror:
        for day in saturdays(date(2023, 12, 2), stopped):
            mirror.add(file_name(day), b"x")
        outcomes = {}
        for day in saturdays(date(2024, 1, 20), date(2024, 3, 30)):
            data = tick(datetime.combine(day, datetime.min.time(), NEW_YORK).replace(hour=10), mirror)
            outcomes[day] = data.skip_message or [r.partition_key for r in data.run_requests]
        # Up to four weeks without a file (MTA_SOURCE_STALE_WEEKS=4): the week is launched (its run
        # waits for a late file, then fails): a late or skipped week is not a stopped source.
        for day in saturdays(date(2024, 1, 20), date(2024, 2, 17)):
            assert outcomes[day] == [(day - timedelta(days=7)).isoformat()], day
        # From then on every tick is skipped, saying why, with no run to fail and alert.
        for day in saturdays(date(2024, 2, 24), date(2024, 3, 30)):
            assert isinstance(outcomes[day], str), day
            assert "looks discontinued since week 2024-01-20" in outcomes[day]
            assert "turnstile_240120.txt" in outcomes[day]
        # The MTA publishes again: the next tick lands the week that just ended.
        mirror.add(file_name(date(2024, 4, 6)), b"x")
        resumed = tick(datetime(2024, 4, 6, 10, 0, tzinfo=NEW_YORK), mirror)
        assert [r.partition_key for r in resumed.run_requests] == ["2024-03-30"]


def test_an_unreadable_index_does_not_skip_the_week(site: MtaMirror) -> None:
    from mta_lake_harness.mirror import Status

    site.index_faults.append(Status(503))
    data = tick(datetime(2024, 2, 3, 10, 0, tzinfo=NEW_YORK), site)
    assert [r.partition_key for r in data.run_requests] == ["2024-01-27"]
