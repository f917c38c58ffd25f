"""The per-week checks of a clean week, computed here so the Dagster layer only reports them.

Each check has a stable name, a verdict, whether a failure must block the next layer, and numbers
for the UI. The Dagster asset turns them into asset check results (``blocking`` -> ERROR severity).
"""

import io
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from mta_lake.core.clean.schema import READINGS_SCHEMA, READINGS_TABLE_SCHEMA
from mta_lake.core.clean.week import CleanResult

MIN_IN_WEEK_SHARE = 0.9
"""Warn when fewer readings than this fall inside the week's seven days. Files overlap their
neighbours only at the edges (the 2024 weeks: 100% inside); the irregular files of 2010-2012 can
hold readings of other weeks (the first file, ``turnstile_100505.txt``, starts on 04-17-10)."""
MIN_STATION_SHARE = 0.99
"""Warn when fewer readings than this have a station (new format: the file's; old: the mapping's)."""


@dataclass(frozen=True)
class WeekCheck:
    name: str
    passed: bool
    blocking: bool
    """A failed blocking check means the week must not feed the next layer."""
    description: str
    metadata: dict[str, int | float | str] = field(default_factory=dict)


def week_checks(result: CleanResult) -> list[WeekCheck]:
    """The checks of one week: ``accounting`` and ``schema`` (blocking), ``readings_in_week`` and
    ``station_share`` (warnings)."""
    counts = result.counts
    problems = result.accounting_problems()
    within_limit = counts.lines_quarantined <= result.max_quarantined_share * counts.data_lines
    accounting = WeekCheck(
        name="accounting",
        passed=not problems and within_limit,
        blocking=True,
        description=(
            "data lines = parsed + quarantined; readings written = reading groups parsed; "
            f"at most {result.max_quarantined_share:.0%} of data lines quarantined"
        ),
        metadata={
            "data_lines": counts.data_lines,
            "lines_parsed": counts.lines_parsed,
            "lines_quarantined": counts.lines_quarantined,
            "quarantined_share": counts.quarantined_share,
            "reading_groups_parsed": counts.reading_groups_parsed,
            "readings_written": counts.readings_written,
            "problems": "; ".join(problems) or "none",
            "first_bad_line": counts.first_bad_line(),
        },
    )
    stored = pq.read_schema(io.BytesIO(result.readings_parquet))
    schema_ok = result.readings.schema.equals(READINGS_TABLE_SCHEMA) and stored.equals(READINGS_SCHEMA)
    schema = WeekCheck(
        name="schema",
        passed=schema_ok,
        blocking=True,
        description="the readings table and its Parquet file have the clean layer's columns and types",
        metadata={"columns": len(stored), "stored_schema": str(stored)[:2000]},
    )
    in_week = WeekCheck(
        name="readings_in_week",
        passed=counts.in_week_share >= MIN_IN_WEEK_SHARE,
        blocking=False,
        description=f"at least {MIN_IN_WEEK_SHARE:.0%} of readings inside the week's seven days",
        metadata={
            "in_week_share": counts.in_week_share,
            "readings_in_week": counts.readings_in_week,
            "readings_outside_week": counts.readings_outside_week,
        },
    )
    stations = WeekCheck(
        name="station_share",
        passed=counts.station_share >= MIN_STATION_SHARE,
        blocking=False,
        description=f"at least {MIN_STATION_SHARE:.0%} of readings with a station",
        metadata={
            "station_share": counts.station_share,
            "readings_with_station": counts.readings_with_station,
            **{f"station_source_{source}": n for source, n in counts.station_sources.items()},
        },
    )
    return [accounting, schema, in_week, stations]
