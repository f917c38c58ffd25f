"""``mta_lake.core.source_state``: a source that stops publishing, and the weekly tick's decision."""

from datetime import date, datetime, timedelta

from mta_lake.core import source_state, weeks
from mta_lake.core.source_state import source_status

NY = weeks.NEW_YORK


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, datetime.min.time(), NY).replace(hour=hour)


def saturdays(first: date, last: date) -> list[date]:
    return [first + timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)]


def test_source_status_is_discontinued_only_past_the_stale_weeks() -> None:
    files = saturdays(date(2023, 4, 1), date(2023, 5, 6))
    fresh = source_status(files, at(date(2023, 5, 13)), stale_weeks=4)
    assert not fresh.discontinued and fresh.age_days == 7
    assert "is publishing" in fresh.describe()
    assert not source_status(files, at(date(2023, 6, 3)), 4).discontinued  # 4 weeks: not more than 4
    stale = source_status(files, at(date(2023, 6, 10)), 4)
    assert stale.discontinued
    assert stale.newest_file_name == "turnstile_230506.txt"
    assert stale.newest_week == date(2023, 4, 29) and stale.since == date(2023, 5, 6)
    assert "looks discontinued since week 2023-05-06" in stale.describe()
    assert source_status(files, at(date(2023, 6, 10)), 6).discontinued is False
    assert source_status([], at(date(2023, 6, 10)), 4).discontinued


def test_weekly_tick_skips_a_discontinued_source_and_never_an_unreadable_index() -> None:
    files = saturdays(date(2023, 4, 1), date(2023, 5, 6))
    launch = source_state.weekly_tick(files, at(date(2023, 5, 13)), 4)
    assert launch.week == date(2023, 5, 6) and launch.skip_reason is None
    skip = source_state.weekly_tick(files, at(date(2023, 7, 1)), 4)
    assert skip.skip_reason and skip.skip_reason.startswith("The MTA source looks discontinued")
    assert "Week 2023-06-24 is not launched" in skip.skip_reason
    unreadable = source_state.weekly_tick(None, at(date(2023, 7, 1)), 4)
    assert unreadable.skip_reason is None and unreadable.status is None
