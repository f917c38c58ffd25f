"""The repo's real MTA weeks (``mta_lake_tests/fixtures/mta/``) cleaned by the real clean layer into a
lake folder, for the mart's tests on real data: the two complete weeks 2023-12-30 and 2024-01-06 (their
days overlap the MTA's published daily ridership) and the small samples of 2011 (old format), 2015 and
2017."""

from datetime import date
from functools import cache
from pathlib import Path

from mta_lake.core.clean import clean_week
from mta_lake.core.layout import clean_readings_key
from mta_lake_harness.paths import FIXTURES

REAL_WEEKS = {
    date(2011, 5, 21): FIXTURES / "raw" / "turnstile_110528.txt",
    date(2015, 9, 12): FIXTURES / "raw" / "turnstile_150919.txt",
    date(2017, 5, 27): FIXTURES / "raw" / "turnstile_170603.txt",
    date(2023, 12, 30): FIXTURES / "weeks" / "turnstile_240106.txt.gz",
    date(2024, 1, 6): FIXTURES / "weeks" / "turnstile_240113.txt.gz",
}
FULL_WEEKS = (date(2023, 12, 30), date(2024, 1, 6))


@cache
def clean_parquet(week: date) -> bytes:
    """The week's clean Parquet (``readings.parquet``), cleaned once per process."""
    path = REAL_WEEKS[week]
    result = clean_week(path, week=week, file_name=path.name.removesuffix(".gz"))
    return result.readings_parquet


def write_real_weeks(lake: Path, weeks: list[date]) -> None:
    """Put ``weeks`` of the real samples in the lake folder's clean layer."""
    for week in weeks:
        target = lake / clean_readings_key(week.isoformat())
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(clean_parquet(week))


TABLES = {  # every mart table and the columns that order its rows
    "turnstile_week_last_readings": "week, turnstile_id",
    "turnstile_intervals": "turnstile_id, ended_at",
    "station_daily_ridership": "service_date, station",
    "system_daily_ridership": "service_date, mode",
    "subway_vs_mta_daily": "service_date",
}
