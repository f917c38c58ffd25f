"""Wall time to UTC across both clock changes, and readings outside their week."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from mta_lake.core.clean import clean_week
from mta_lake.core.clean.clock import wall_to_utc
from mta_lake_harness.old_format import new_format_file, new_format_line, to_old_format

BOOTH = ("A002", "R051", "02-00-00")
STATION = ("59 ST", "NQR456W", "BMT")

# New York: daylight time (UTC-4) ended at 2023-11-05 02:00, so 01:00-01:59 happened twice; standard
# time (UTC-5) ended at 2024-03-10 02:00, so 02:00-02:59 never happened.
AUTUMN = [
    # wall time -> (UTC, ambiguous, nonexistent)
    (datetime(2023, 11, 5, 0, 0), (datetime(2023, 11, 5, 4, 0), False, False)),
    (datetime(2023, 11, 5, 1, 0), (datetime(2023, 11, 5, 5, 0), True, False)),  # first 01:00 (EDT)
    (datetime(2023, 11, 5, 1, 30), (datetime(2023, 11, 5, 5, 30), True, False)),
    (datetime(2023, 11, 5, 1, 59, 59), (datetime(2023, 11, 5, 5, 59, 59), True, False)),
    (datetime(2023, 11, 5, 2, 0), (datetime(2023, 11, 5, 7, 0), False, False)),  # EST from here
    (datetime(2023, 11, 5, 4, 0), (datetime(2023, 11, 5, 9, 0), False, False)),
]
SPRING = [
    (datetime(2024, 3, 10, 1, 59), (datetime(2024, 3, 10, 6, 59), False, False)),  # EST
    (datetime(2024, 3, 10, 2, 0), (datetime(2024, 3, 10, 7, 0), False, True)),  # read as EST
    (datetime(2024, 3, 10, 2, 30), (datetime(2024, 3, 10, 7, 30), False, True)),
    (datetime(2024, 3, 10, 3, 0), (datetime(2024, 3, 10, 7, 0), False, False)),  # EDT
    (datetime(2024, 3, 10, 4, 0), (datetime(2024, 3, 10, 8, 0), False, False)),
]


def readings(week: date, walls: list[datetime], old_format: bool = False) -> pa.Table:
    text = new_format_file(
        new_format_line(BOOTH, STATION, wall, entries=i, exits=i) for i, wall in enumerate(walls)
    )
    if old_format:
        text = to_old_format(text)
    result = clean_week(text, week=week, file_name="f.txt")
    result.check_accounting()
    return result.readings


def resolved(table: pa.Table) -> list[tuple[datetime, bool, bool]]:
    return [
        (utc.replace(tzinfo=None), ambiguous, nonexistent)
        for utc, ambiguous, nonexistent in zip(
            table.column("observed_at_utc").to_pylist(),
            table.column("ambiguous_local_time").to_pylist(),
            table.column("nonexistent_local_time").to_pylist(),
            strict=True,
        )
    ]


def test_the_autumn_repeated_hour_is_its_first_occurrence_and_marked() -> None:
    for old_format in (False, True):
        table = readings(date(2023, 11, 4), [wall for wall, _ in AUTUMN], old_format)
        assert table.column("observed_at").to_pylist() == [wall for wall, _ in AUTUMN]
        assert resolved(table) == [expected for _, expected in AUTUMN]
        assert table.schema.field("observed_at_utc").type == pa.timestamp("us", tz="UTC")
        assert table.column("observed_at_utc").to_pylist()[0].utcoffset() == timedelta(0)


def test_the_spring_skipped_hour_is_read_as_standard_time_and_marked() -> None:
    for old_format in (False, True):
        table = readings(date(2024, 3, 9), [wall for wall, _ in SPRING], old_format)
        assert resolved(table) == [expected for _, expected in SPRING]


def test_wall_to_utc_agrees_with_zoneinfo_fold_zero_over_a_whole_year() -> None:
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    walls = [datetime(2024, 1, 1) + timedelta(minutes=37 * i) for i in range(14_300)]  # all of 2024
    seconds = np.array([(w - datetime(1970, 1, 1)) // timedelta(seconds=1) for w in walls], np.int64)
    got = wall_to_utc(seconds)
    expected = [w.replace(tzinfo=new_york).astimezone(UTC).replace(tzinfo=None) for w in walls]
    assert [datetime(1970, 1, 1) + timedelta(seconds=int(s)) for s in got.utc] == expected
    assert got.ambiguous.sum() > 0 and got.nonexistent.sum() > 0
    assert all(walls[i].month == 11 and walls[i].hour == 1 for i in np.flatnonzero(got.ambiguous))
    assert all(walls[i].month == 3 and walls[i].hour == 2 for i in np.flatnonzero(got.nonexistent))


def test_readings_outside_the_week_are_kept_and_flagged() -> None:
    week = date(2024, 1, 6)
    walls = [
        datetime(2024, 1, 5, 20),  # the Friday before: the previous week
        datetime(2024, 1, 6, 0),  # the week's first instant
        datetime(2024, 1, 12, 23, 59, 59),
        datetime(2024, 1, 13, 0),  # the next week's first instant
    ]
    table = readings(week, walls)
    assert table.column("in_week").to_pylist() == [False, True, True, False]
    assert table.num_rows == 4
