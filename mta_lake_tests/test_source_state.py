"""``mta_lake.core.source_state``: a stopped source, the weeks never published, the snapshot."""

from datetime import date, datetime, timedelta
from pathlib import Path

from mta_lake.core import source_state, weeks
from mta_lake.core.lake import LocalLake
from mta_lake.core.source_state import Snapshot, compare_snapshots, source_status, take_snapshot

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


def test_excluded_weeks_are_unpublished_past_their_deadline_and_not_in_the_lake() -> None:
    # Published every week of 2024-01 except the week of 2024-01-13 (file 240120) and 2024-01-27.
    files = [date(2024, 1, 6), date(2024, 1, 13), date(2024, 1, 27)]
    now = at(date(2024, 2, 3), hour=11)  # the week of 2024-01-27 just ended: merely late
    excluded = source_state.excluded_weeks(files, now)
    assert date(2024, 1, 13) in excluded and date(2024, 1, 20) not in excluded
    assert date(2024, 1, 27) not in excluded  # its deadline (Monday 00:00) has not passed
    assert date(2010, 5, 1) in excluded  # nothing published in 2010 in this index
    monday = at(date(2024, 2, 5), hour=1)
    assert date(2024, 1, 27) in source_state.excluded_weeks(files, monday)
    kept = source_state.excluded_weeks(files, monday, in_lake=[date(2024, 1, 13)])
    assert date(2024, 1, 13) not in kept


def test_snapshot_round_trip_and_changes(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    assert source_state.read_snapshot(lake) is None
    assert source_state.load_exclusions(lake) == []
    files = saturdays(date(2010, 5, 5), date(2024, 1, 20))
    first = take_snapshot(files, at(date(2024, 1, 27)), 4)
    assert first.excluded == () and not first.discontinued
    change = compare_snapshots(None, first)
    assert change.write and not change.reload and not change.discontinued_now
    source_state.write_snapshot(lake, first)
    assert source_state.read_snapshot(lake) == first
    # The same index a tick later: nothing to write, nothing to reload.
    assert not compare_snapshots(first, take_snapshot(files, at(date(2024, 1, 27), 12), 4)).write
    # Ten weeks later, nothing new: the weeks since are excluded, the source looks stopped.
    later = take_snapshot(files, at(date(2024, 4, 6)), 4)
    change = compare_snapshots(first, later)
    assert change.write and change.reload and change.discontinued_now and not change.resumed_now
    assert change.newly_excluded[0] == date(2024, 1, 20)
    source_state.write_snapshot(lake, later)
    assert source_state.load_exclusions(lake) == list(later.excluded)
    # It publishes again (the missing weeks too): resumed, said once; weeks are partitions again.
    back = take_snapshot(files + saturdays(date(2024, 1, 27), date(2024, 4, 6)), at(date(2024, 4, 6), 11), 4)
    change = compare_snapshots(later, back)
    assert change.resumed_now and change.reload and set(change.no_longer_excluded) == set(later.excluded)
    assert not compare_snapshots(back, back).resumed_now


def test_a_snapshot_that_is_not_one_is_ignored(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    with lake.writer(source_state.SNAPSHOT_KEY) as pending:
        pending.write(b'{"something": "else"}')
    assert source_state.read_snapshot(lake) is None
    assert Snapshot.from_json(take_snapshot([], at(date(2024, 1, 6)), 4).to_json()).discontinued


def test_exclusions_are_week_starts_in_new_york() -> None:
    (start,) = source_state.exclusion_datetimes([date(2024, 1, 13)])
    assert start == datetime(2024, 1, 13, tzinfo=NY) and start.utcoffset() == timedelta(hours=-5)
