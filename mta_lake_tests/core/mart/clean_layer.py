"""Synthetic clean-layer weeks: Parquet files with exactly the columns of ``turnstile_readings`` (issue 11).

The mart reads ``<lake>/clean/turnstile_readings/week=YYYY-MM-DD/readings.parquet``. Until the real clean
layer lands, the mart's tests and benchmark write these files themselves, so they depend on nobody.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

NEW_YORK = ZoneInfo("America/New_York")

CLEAN_SCHEMA = pa.schema(
    [
        ("control_area", pa.string()),
        ("unit", pa.string()),
        ("scp", pa.string()),
        ("station", pa.string()),
        ("station_key", pa.string()),
        ("line_names", pa.string()),
        ("division", pa.string()),
        ("station_source", pa.string()),
        ("observed_at", pa.timestamp("us")),
        ("observed_at_utc", pa.timestamp("us", tz="UTC")),
        ("ambiguous_local_time", pa.bool_()),
        ("description", pa.string()),
        ("entries", pa.int64()),
        ("exits", pa.int64()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("reading_group", pa.int64()),
        ("duplicate_kind", pa.string()),
        ("is_reading_of_record", pa.bool_()),
        ("in_week", pa.bool_()),
    ]
)


def readings_key(week: date) -> str:
    """The lake key of a clean week (issue 11's layout)."""
    return f"clean/turnstile_readings/week={week.isoformat()}/readings.parquet"


def week_of(day: date) -> date:
    """The week key (the Saturday starting the MTA's Saturday-to-Friday week) holding a calendar day."""
    return day - timedelta(days=(day.weekday() - 5) % 7)


@dataclass(frozen=True)
class Reading:
    """One clean reading. ``local`` is New York wall time; ``fold=1`` picks the second 01:xx of November."""

    control_area: str
    unit: str
    scp: str
    local: datetime
    entries: int
    exits: int
    station: str = "TEST ST"
    station_key: str = "TEST ST"
    line_names: str = "1"
    division: str = "IRT"
    description: str = "REGULAR"
    duplicate_kind: str | None = None
    is_reading_of_record: bool = True

    @property
    def observed_at_utc(self) -> datetime:
        return self.local.replace(tzinfo=NEW_YORK).astimezone(UTC)

    @property
    def week(self) -> date:
        return week_of(self.local.date())

    @property
    def ambiguous(self) -> bool:
        earlier = self.local.replace(tzinfo=NEW_YORK, fold=0).utcoffset()
        later = self.local.replace(tzinfo=NEW_YORK, fold=1).utcoffset()
        return earlier != later


def week_table(week: date, readings: Iterable[Reading], in_week: Iterable[bool] | None = None) -> pa.Table:
    """The Parquet table of one clean week: ``readings`` in order, ``in_week`` computed unless given."""
    rows = list(readings)
    flags = list(in_week) if in_week is not None else [r.week == week for r in rows]
    source_file = f"turnstile_{(week + timedelta(days=7)).strftime('%y%m%d')}.txt"
    columns = {
        "control_area": [r.control_area for r in rows],
        "unit": [r.unit for r in rows],
        "scp": [r.scp for r in rows],
        "station": [r.station for r in rows],
        "station_key": [r.station_key for r in rows],
        "line_names": [r.line_names for r in rows],
        "division": [r.division for r in rows],
        "station_source": ["file"] * len(rows),
        "observed_at": [r.local.replace(fold=0) for r in rows],
        "observed_at_utc": [r.observed_at_utc for r in rows],
        "ambiguous_local_time": [r.ambiguous for r in rows],
        "description": [r.description for r in rows],
        "entries": [r.entries for r in rows],
        "exits": [r.exits for r in rows],
        "source_file": [source_file] * len(rows),
        "source_line": list(range(2, len(rows) + 2)),
        "reading_group": [None] * len(rows),
        "duplicate_kind": [r.duplicate_kind for r in rows],
        "is_reading_of_record": [r.is_reading_of_record for r in rows],
        "in_week": flags,
    }
    return pa.table(columns, schema=CLEAN_SCHEMA)


def write_week(
    lake: Path, week: date, readings: Iterable[Reading], in_week: Iterable[bool] | None = None
) -> Path:
    path = lake / readings_key(week)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(week_table(week, readings, in_week), path)
    return path


def write_lake(lake: Path, readings: Iterable[Reading], weeks: Iterable[date] | None = None) -> list[date]:
    """Write every week the readings fall in (or only ``weeks``), like the clean layer would: each week's
    file holds its own readings (``in_week``) plus, as real files do, copies of the neighbouring weeks'
    readings within a day of its edges (``in_week`` false), which the mart must not use twice."""
    rows = list(readings)
    all_weeks = sorted({r.week for r in rows})
    chosen = sorted(set(weeks)) if weeks is not None else all_weeks
    for week in chosen:
        start = datetime.combine(week, datetime.min.time())
        end = start + timedelta(days=7)
        overlap = timedelta(hours=6)
        own = [r for r in rows if r.week == week]
        edges = [
            r
            for r in rows
            if r.week != week and start - overlap <= r.local < end + overlap and r.is_reading_of_record
        ]
        write_week(lake, week, own + [replace(r) for r in edges])
    return chosen
