"""What a run of the mart reports about itself, read from the warehouse after dbt: each week's system
entries and exits per mode, the week's busiest stations, and the failing rows of a warning test.

Plain Python over a DuckDB connection (the Dagster layer turns these into metadata). Every query here
reads a few weeks or one audit table, never the history.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MODES = ("subway", "PATH", "SIR", "tram", "bus")
"""Every value of ``mode`` (``mta_lake/warehouse/macros/modes.sql``), in the order reports list them."""


@dataclass(frozen=True)
class WeekTotals:
    """One week's seven service days, per mode (every mode listed, 0 when it has no station that week)."""

    week: date
    service_days: int
    """Service days of the week with a subway row."""
    entries: dict[str, int]
    exits: dict[str, int]

    def metadata(self) -> dict[str, int]:
        """Numbers for the UI to plot across weeks: ``subway_entries``, ``path_exits``..."""
        figures: dict[str, int] = {"service_days": self.service_days}
        for mode in MODES:
            figures[f"{mode.lower()}_entries"] = self.entries.get(mode, 0)
            figures[f"{mode.lower()}_exits"] = self.exits.get(mode, 0)
        return figures


def week_totals(connection: Any, weeks: Sequence[str | date]) -> list[WeekTotals]:
    """System entries and exits of each week (its Saturday-to-Friday service days), per mode."""
    totals = []
    for week in sorted({date.fromisoformat(str(w)) for w in weeks}):
        rows = connection.execute(
            """
            select mode, sum(entries), sum(exits), count(distinct service_date)
            from system_daily_ridership
            where service_date >= ? and service_date < ?
            group by mode
            """,
            [week, week + timedelta(days=7)],
        ).fetchall()
        by_mode = {row[0]: row for row in rows}
        subway = by_mode.get("subway")
        totals.append(
            WeekTotals(
                week=week,
                service_days=int(subway[3]) if subway else 0,
                entries={mode: int(row[1]) for mode, row in by_mode.items()},
                exits={mode: int(row[2]) for mode, row in by_mode.items()},
            )
        )
    return totals


@dataclass(frozen=True)
class BusyStation:
    station: str
    station_name: str
    mode: str
    entries: int
    exits: int


def busiest_stations(connection: Any, week: str | date, limit: int = 10) -> list[BusyStation]:
    """The week's stations with the most exits (the figure that tracks riders in every era; entries
    miss riders from 2020), ties by entries then station key. The name is the one on the station's
    latest day of the week."""
    start = date.fromisoformat(str(week))
    rows = connection.execute(
        """
        select station, arg_max(station_name, service_date), arg_max(mode, service_date),
            sum(entries) as entries, sum(exits) as exits
        from station_daily_ridership
        where service_date >= ? and service_date < ?
        group by station
        order by exits desc, entries desc, station
        limit ?
        """,
        [start, start + timedelta(days=7), limit],
    ).fetchall()
    return [BusyStation(row[0], row[1] or row[0], row[2], int(row[3]), int(row[4])) for row in rows]


def busiest_stations_markdown(stations: Sequence[BusyStation], week: str | date) -> str:
    """A short markdown table for the UI."""
    lines = [
        f"Busiest stations, week of {week} (by exits: from 2020 entries miss about half of the riders)",
        "",
        "| station | mode | exits | entries |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {s.station_name} ({s.station}) | {s.mode} | {s.exits:,} | {s.entries:,} |" for s in stations
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class FailingRows:
    """A warning test's failing rows as dbt stored them (``store_failures``)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    total: int

    def as_records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def markdown(self, title: str) -> str:
        """The rows as a markdown table (at most the rows read), saying how many there are in all."""
        shown = (
            f"the first {len(self.rows)} of {self.total}" if self.total > len(self.rows) else f"{self.total}"
        )
        lines = [f"{title}: {shown} failing row(s)", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
        return "\n".join(lines)


def failing_rows(connection: Any, relation: str, limit: int = 20) -> FailingRows:
    """The first ``limit`` rows of a stored test failure relation (``"db"."schema"."table"``), in the
    order of its columns (so the same failures always show the same rows first)."""
    result = connection.execute(f"select * from {relation} limit 0")
    columns = [column[0] for column in result.description]
    order = ", ".join(str(i + 1) for i in range(len(columns)))
    rows = connection.execute(f"select * from {relation} order by {order} limit {int(limit)}").fetchall()
    (total,) = connection.execute(f"select count(*) from {relation}").fetchone()
    return FailingRows(columns, [tuple(row) for row in rows], int(total))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return "" if value is None else str(value).replace("|", "/")
