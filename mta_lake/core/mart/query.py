"""A station's daily entries and exits from the warehouse, found by part of its name.

Backs ``mta-lake ridership STATION [--from DATE] [--to DATE]``. Plain Python over DuckDB.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb


class StationNotFound(LookupError):
    """No station's name or key contains the search text."""


class AmbiguousStation(LookupError):
    """Several stations match; ``candidates`` lists (station key, latest published name)."""

    def __init__(self, search: str, candidates: list[tuple[str, str]]) -> None:
        self.candidates = candidates
        names = "; ".join(f"{name} ({key})" for key, name in candidates[:20])
        super().__init__(f"{len(candidates)} stations match {search!r}: {names}")


@dataclass(frozen=True)
class StationDay:
    service_date: date
    entries: int
    exits: int
    turnstiles_reporting: int
    coverage: float


@dataclass(frozen=True)
class StationRidership:
    station: str
    """The normalised station key."""
    station_name: str
    """The latest name as published."""
    days: list[StationDay]

    @property
    def entries(self) -> int:
        return sum(day.entries for day in self.days)

    @property
    def exits(self) -> int:
        return sum(day.exits for day in self.days)


@contextmanager
def _connection(conn_or_path: duckdb.DuckDBPyConnection | str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(conn_or_path, duckdb.DuckDBPyConnection):
        yield conn_or_path
        return
    # Read-only: a reader must not take the writer's lock (one writing process per DuckDB file).
    connection = duckdb.connect(str(conn_or_path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def find_station(connection: duckdb.DuckDBPyConnection, search: str) -> tuple[str, str]:
    """The station whose key or published name contains ``search`` (case-insensitive, spaces and
    punctuation ignored). An exact match of the key or of a name wins over partial matches."""
    text = search.strip()
    if not text:
        raise StationNotFound("empty station search")
    rows = connection.execute(
        """
        with names as (
            select station, station_name, max(service_date) as last_seen
            from station_daily_ridership
            group by station, station_name
        ),
        latest as (
            select station, arg_max(station_name, last_seen) as latest_name from names group by station
        ),
        matches as (
            select distinct names.station, latest.latest_name,
                upper(names.station) = upper($search) or upper(names.station_name) = upper($search) as exact
            from names join latest using (station)
            where regexp_replace(upper(names.station || ' ' || names.station_name), '[^A-Z0-9]', '', 'g')
                like '%' || regexp_replace(upper($search), '[^A-Z0-9]', '', 'g') || '%'
        )
        select station, latest_name, bool_or(exact) from matches group by station, latest_name order by station
        """,
        {"search": text},
    ).fetchall()
    if not rows:
        raise StationNotFound(f"no station matches {search!r}")
    exact = [row for row in rows if row[2]]
    chosen = exact if exact else rows
    if len(chosen) > 1:
        raise AmbiguousStation(search, [(row[0], row[1]) for row in chosen])
    return chosen[0][0], chosen[0][1]


def station_ridership(
    conn_or_path: duckdb.DuckDBPyConnection | str | Path,
    station_search: str,
    date_from: date | None = None,
    date_to: date | None = None,
) -> StationRidership:
    """Daily entries and exits of the one station matching ``station_search``, from ``date_from`` to
    ``date_to`` inclusive (either open). Raises StationNotFound or AmbiguousStation."""
    with _connection(conn_or_path) as connection:
        station, station_name = find_station(connection, station_search)
        rows = connection.execute(
            """
            select service_date, entries, exits, turnstiles_reporting, coverage
            from station_daily_ridership
            where station = $station
              and ($date_from is null or service_date >= $date_from)
              and ($date_to is null or service_date <= $date_to)
            order by service_date
            """,
            {"station": station, "date_from": date_from, "date_to": date_to},
        ).fetchall()
    return StationRidership(station, station_name, [StationDay(*row) for row in rows])


def format_station_ridership(result: StationRidership) -> str:
    """The CLI's table: one line per day, then the totals."""
    lines = [
        f"{result.station_name} ({result.station})",
        f"{'date':<10}  {'entries':>10}  {'exits':>10}  coverage",
    ]
    for day in result.days:
        lines.append(
            f"{day.service_date.isoformat():<10}  {day.entries:>10,}  {day.exits:>10,}  {day.coverage:8.2f}"
        )
    lines.append(f"{'total':<10}  {result.entries:>10,}  {result.exits:>10,}")
    return "\n".join(lines)
