"""Week <-> file mapping (mta_lake.weeks): plain Python, no servers, no Dagster."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from mta_lake.core import weeks
from mta_lake.core.weeks import InvalidWeekError, WeekFile

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=weeks.NEW_YORK)  # a Friday; newest ended week 2024-02-17


def d(yymmdd: str) -> date:
    return datetime.strptime(yymmdd, "%y%m%d").date()


# -- regular weeks --------------------------------------------------------------------------


def test_regular_week_is_named_after_the_saturday_it_ends() -> None:
    week_file = weeks.resolve_week(date(2024, 1, 13), None)
    assert week_file == WeekFile(week=date(2024, 1, 13), file_date=date(2024, 1, 20), from_index=False)
    assert week_file.name == "turnstile_240120.txt"
    assert week_file.key == "2024-01-13"


def test_regular_week_found_on_the_index() -> None:
    published = [d("240106"), d("240113"), d("240120"), d("240127")]
    week_file = weeks.resolve_week(date(2024, 1, 13), published)
    assert week_file is not None
    assert (week_file.name, week_file.from_index) == ("turnstile_240120.txt", True)


def test_year_boundary() -> None:
    assert weeks.resolve_week(date(2023, 12, 30), None).name == "turnstile_240106.txt"  # type: ignore[union-attr]
    assert weeks.resolve_week(date(2010, 12, 25), None).name == "turnstile_110101.txt"  # type: ignore[union-attr]
    assert weeks.week_of_file(d("240106")) == date(2023, 12, 30)
    published = [d("231230"), d("240106"), d("240113")]
    assert weeks.resolve_week(date(2023, 12, 30), published).file_date == d("240106")  # type: ignore[union-attr]
    assert weeks.map_published_weeks(published)[date(2023, 12, 30)] == d("240106")


def test_format_change_between_141011_and_141018() -> None:
    last_old = weeks.resolve_week(date(2014, 10, 4), None)
    first_new = weeks.resolve_week(date(2014, 10, 11), None)
    assert last_old is not None and first_new is not None
    assert (last_old.name, last_old.is_old_format) == ("turnstile_141011.txt", True)
    assert (first_new.name, first_new.is_old_format) == ("turnstile_141018.txt", False)


# -- irregular pre-2013 dates ---------------------------------------------------------------

IRREGULAR_2011 = [d("111126"), d("111203"), d("111210"), d("111219"), d("111224"), d("111231")]


def test_first_file_is_a_wednesday_and_belongs_to_the_first_week() -> None:
    first = d("100505")
    assert first.weekday() == 2  # Wednesday
    assert weeks.week_of_file(first) == weeks.FIRST_WEEK == date(2010, 5, 1)
    week_file = weeks.resolve_week(weeks.FIRST_WEEK, [first, d("100512"), d("100519")])
    assert week_file is not None
    assert (week_file.name, week_file.from_index) == ("turnstile_100505.txt", True)


def test_monday_file_between_two_saturdays() -> None:
    assert d("111219").weekday() == 0  # Monday
    resolved = {
        week: weeks.resolve_week(week, IRREGULAR_2011)
        for week in weeks.weeks_between(date(2011, 12, 3), date(2011, 12, 17))
    }
    assert {week: wf.name for week, wf in resolved.items() if wf} == {
        date(2011, 12, 3): "turnstile_111210.txt",
        date(2011, 12, 10): "turnstile_111219.txt",
        date(2011, 12, 17): "turnstile_111224.txt",
    }
    # The computed name would be wrong here: this is why the index is read.
    assert weeks.resolve_week(date(2011, 12, 10), None).name == "turnstile_111217.txt"  # type: ignore[union-attr]


def test_week_with_no_file_within_three_days_is_not_published() -> None:
    # Files on 100505 and 100519 only: the week 2010-05-08 (ends 100515) has none within 3 days.
    published = [d("100505"), d("100519")]
    assert weeks.resolve_week(date(2010, 5, 8), published) is None
    assert date(2010, 5, 8) not in weeks.map_published_weeks(published)
    # Exactly 3 days away still counts; 4 does not.
    assert weeks.resolve_week(date(2012, 1, 7), [d("120117")]) is not None  # end 120114, +3
    assert weeks.resolve_week(date(2012, 1, 7), [d("120118")]) is None  # +4
    assert weeks.resolve_week(date(2012, 1, 7), [d("120111")]) is not None  # -3
    assert weeks.resolve_week(date(2012, 1, 7), [d("120110")]) is None  # -4


def test_nearest_file_wins_when_two_are_in_the_window() -> None:
    published = [d("120112"), d("120115")]  # end 120114: -2 and +1
    assert weeks.resolve_week(date(2012, 1, 7), published).file_date == d("120115")  # type: ignore[union-attr]
    assert weeks.map_published_weeks(published) == {date(2012, 1, 7): d("120115")}


def test_index_unreadable_falls_back_to_the_computed_name() -> None:
    week_file = weeks.resolve_week(date(2011, 12, 10), None)
    assert week_file is not None and not week_file.from_index
    assert week_file.file_date == date(2011, 12, 17)


def test_published_file_dates_from_index_html() -> None:
    html = (
        '<a href="data/nyct/turnstile/turnstile_240120.txt">Saturday, January 20, 2024</a>'
        '<a href="data/nyct/turnstile/turnstile_111219.txt">x</a>'
        '<a href="data/nyct/turnstile/turnstile_240120.txt">again</a>'
        '<a href="data/nyct/turnstile/turnstile_991399.txt">not a date</a>'
    )
    assert weeks.published_file_dates(html) == [d("111219"), d("240120")]
    assert weeks.published_file_dates("<html>nothing</html>") == []


def test_file_names_round_trip() -> None:
    assert weeks.file_name(date(2010, 5, 5)) == "turnstile_100505.txt"
    assert weeks.file_date_from_name("turnstile_141018.txt") == date(2014, 10, 18)
    with pytest.raises(ValueError, match=r"turnstile_x\.txt"):
        weeks.file_date_from_name("turnstile_x.txt")


# -- invalid keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("2024-13-01", "expected a date YYYY-MM-DD"),
        ("hello", "expected a date YYYY-MM-DD"),
        ("", "expected a date YYYY-MM-DD"),
        ("2024-01-14", "Sunday is not one"),
        ("2024-01-19", "Friday is not one"),
        ("2010-04-24", "the first week is 2010-05-01"),
        ("2024-02-24", "has not ended"),  # the week running at NOW
        ("2030-01-05", "has not ended"),
    ],
)
def test_invalid_week_key_names_the_key(key: str, reason: str) -> None:
    with pytest.raises(InvalidWeekError) as caught:
        weeks.parse_week(key, now=NOW)
    assert repr(key) in str(caught.value)
    assert reason in str(caught.value)


def test_valid_week_keys() -> None:
    assert weeks.parse_week("2010-05-01", now=NOW) == weeks.FIRST_WEEK
    assert weeks.parse_week("2024-02-17", now=NOW) == date(2024, 2, 17)


@pytest.mark.parametrize(
    ("now", "newest"),
    [
        (datetime(2024, 1, 20, 0, 0, tzinfo=weeks.NEW_YORK), date(2024, 1, 13)),  # the moment it ends
        (datetime(2024, 1, 19, 23, 59, tzinfo=weeks.NEW_YORK), date(2024, 1, 6)),
        # Saturday in UTC but still Friday evening in New York: the week has not ended there.
        (datetime(2024, 1, 20, 3, 0, tzinfo=UTC), date(2024, 1, 6)),
        (datetime(2024, 1, 26, 12, 0, tzinfo=weeks.NEW_YORK), date(2024, 1, 13)),
    ],
)
def test_latest_ended_week(now: datetime, newest: date) -> None:
    assert weeks.latest_ended_week(now) == newest


# -- week_of_file / map_published_weeks against resolve_week --------------------------------


def generated_publication(seed: int) -> tuple[list[date], set[date]]:
    """A made-up but plausible publication history: irregular dates and gaps before 2013."""
    rng = random.Random(seed)
    published: list[date] = []
    missing: set[date] = set()
    for week in weeks.weeks_between(weeks.FIRST_WEEK, date(2016, 1, 2)):
        end = weeks.week_end(week)
        if end.year < 2013:
            if rng.random() < 0.1:
                missing.add(week)
                continue
            published.append(end + timedelta(days=rng.randint(-3, 3)))
        else:
            published.append(end)
    return published, missing


@pytest.mark.parametrize("seed", range(5))
def test_week_of_file_and_map_agree_with_resolve_week(seed: int) -> None:
    published, missing = generated_publication(seed)
    for file_date in published:
        week = weeks.week_of_file(file_date)
        assert week.weekday() == 5
        resolved = weeks.resolve_week(week, published)
        assert resolved is not None and resolved.file_date == file_date, file_date
    mapping = weeks.map_published_weeks(published)
    assert sorted(mapping.values()) == sorted(published)
    for week in weeks.weeks_between(weeks.FIRST_WEEK, date(2015, 12, 26)):
        resolved = weeks.resolve_week(week, published)
        if week in missing:
            assert resolved is None and week not in mapping
        else:
            assert resolved is not None and mapping[week] == resolved.file_date


def test_map_drops_files_before_the_first_week() -> None:
    assert weeks.map_published_weeks([d("100428"), d("100505")]) == {weeks.FIRST_WEEK: d("100505")}


def test_publication_deadline_is_the_grace_period_after_the_week_ends() -> None:
    deadline = weeks.publication_deadline(date(2024, 1, 13))
    # The week ends at midnight New York time starting Saturday 2024-01-20; two days of grace.
    assert deadline == datetime(2024, 1, 22, 0, 0, tzinfo=weeks.NEW_YORK)
    assert weeks.publication_deadline(date(2024, 1, 13), timedelta(hours=6)).hour == 6
