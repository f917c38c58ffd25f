"""A station's daily entries and exits from the warehouse, found by its id or part of its name.

Backs ``mta-lake ridership`` (``mta_lake/tools/ridership.py``). Plain Python over DuckDB. The warehouse is
opened the way every reader opens it (``core.mart.lock``): it waits for a mart run that is writing, at
most ``MTA_MART_LOCK_TIMEOUT_SECONDS``, and says so once.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from mta_lake.core.mart.lock import WarehouseLockTimeout, connect_read_only, hold, wait_for_other_writers

CANDIDATES_SHOWN = 20
DATE_RANGES_SHOWN = 6


class StationNotFound(LookupError):
    """No station's id or name contains the search text."""


@dataclass(frozen=True)
class Station:
    station: str
    """The normalised station key, the id to ask for (``complex:318``)."""
    station_name: str
    """The name on its latest day."""
    line_names: str
    mode: str
    first_day: date
    last_day: date

    def describe(self) -> str:
        lines = f"lines {self.line_names}" if self.line_names else "no lines given"
        return f"{self.station_name} ({self.station}; {lines}; {self.mode})"


class AmbiguousStation(LookupError):
    """Several stations match: ``candidates`` (at most CANDIDATES_SHOWN of ``total``), each with its id,
    lines and mode, so that names that tie can be told apart."""

    def __init__(self, search: str, candidates: list[Station], total: int) -> None:
        self.search = search
        self.candidates = candidates
        self.total = total
        shown = (
            ""
            if total <= len(candidates)
            else f" (the first {len(candidates)} of {total}: narrow the search)"
        )
        lines = [f"{total} stations match {search!r}{shown}:"]
        for candidate in candidates:
            lines.append(
                f"  {candidate.station:<16} {candidate.station_name:<24} lines {candidate.line_names or '-':<10} "
                f"{candidate.mode:<6} {candidate.first_day} .. {candidate.last_day}"
            )
        lines.append(f"pick one by its id, for example: mta-lake ridership {candidates[0].station}")
        super().__init__("\n".join(lines))


class NoDaysInRange(LookupError):
    """The station has no day in the asked range; the message says which dates the warehouse has."""


@dataclass(frozen=True)
class StationDay:
    service_date: date
    entries: int
    exits: int
    turnstiles_reporting: int
    coverage: float


@dataclass(frozen=True)
class StationRidership:
    station: Station
    days: list[StationDay]

    @property
    def entries(self) -> int:
        return sum(day.entries for day in self.days)

    @property
    def exits(self) -> int:
        return sum(day.exits for day in self.days)


class WarehouseBusy(TimeoutError):
    """The warehouse stayed locked by a writer for longer than the wait allowed."""


@contextmanager
def open_warehouse(
    path: Path, timeout: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened for reading, once no mart run writes it: waits at most ``timeout`` seconds,
    calling ``on_wait`` once if it has to wait. A writer that does not take the lock (dbt run by hand)
    is waited for too, on DuckDB's own lock. Raises ``WarehouseBusy``."""
    said = False

    def say(message: str) -> None:
        nonlocal said
        if not said and on_wait is not None:
            on_wait(message)
        said = True

    try:
        with hold(path, exclusive=False, timeout=timeout, on_wait=say):
            wait_for_other_writers(path, timeout, on_wait=say)
            connection = connect_read_only(path)
            try:
                yield connection
            finally:
                connection.close()
    except WarehouseLockTimeout as error:
        raise WarehouseBusy(str(error)) from None


def _stations_matching(connection: duckdb.DuckDBPyConnection, search: str) -> tuple[list[Station], int]:
    """Stations whose id equals ``search``, else whose name (any name it had) equals it, else whose id or
    name contains it (case, spaces and punctuation ignored). The first CANDIDATES_SHOWN, and how many."""
    rows = connection.execute(
        """
        with stations as (
            select
                station,
                arg_max(station_name, service_date) as station_name,
                arg_max(line_names, service_date) as line_names,
                arg_max(mode, service_date) as mode,
                min(service_date) as first_day,
                max(service_date) as last_day,
                bool_or(regexp_replace(upper(station_name), '[^A-Z0-9]', '', 'g')
                        = regexp_replace(upper($search), '[^A-Z0-9]', '', 'g')) as name_equal,
                bool_or(regexp_replace(upper(station || ' ' || coalesce(station_name, '')), '[^A-Z0-9]', '', 'g')
                        like '%' || regexp_replace(upper($search), '[^A-Z0-9]', '', 'g') || '%') as contains
            from station_daily_ridership
            group by station
        ),
        ranked as (
            select *,
                case when lower(station) = lower($search) then 1 when name_equal then 2 else 3 end as rank
            from stations
            where lower(station) = lower($search) or name_equal or contains
        )
        select station, station_name, line_names, mode, first_day, last_day, rank
        from ranked
        where rank = (select min(rank) from ranked)
        order by station_name, station
        """,
        {"search": search},
    ).fetchall()
    stations = [Station(r[0], r[1] or r[0], r[2] or "", r[3] or "", r[4], r[5]) for r in rows]
    return stations[:CANDIDATES_SHOWN], len(stations)


def find_station(connection: duckdb.DuckDBPyConnection, search: str) -> Station:
    """The one station matching ``search``: its id (``complex:318``) exactly, else a name equal to it, else
    an id or name containing it. Raises StationNotFound, or AmbiguousStation listing the candidates."""
    text = search.strip()
    if not text:
        raise StationNotFound("empty station search")
    candidates, total = _stations_matching(connection, text)
    if total == 0:
        raise StationNotFound(f"no station's id or name contains {search!r}")
    if total > 1:
        raise AmbiguousStation(search, candidates, total)
    return candidates[0]


def date_ranges(connection: duckdb.DuckDBPyConnection, station: str) -> list[tuple[date, date]]:
    """The station's days in the warehouse as runs of consecutive dates, oldest first."""
    days = [
        row[0]
        for row in connection.execute(
            "select distinct service_date from station_daily_ridership where station = ? order by 1",
            [station],
        ).fetchall()
    ]
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def station_ridership(
    connection: duckdb.DuckDBPyConnection,
    station_search: str,
    date_from: date | None = None,
    date_to: date | None = None,
) -> StationRidership:
    """Daily entries and exits of the one station matching ``station_search``, from ``date_from`` to
    ``date_to`` inclusive (either open). Raises StationNotFound, AmbiguousStation or NoDaysInRange."""
    station = find_station(connection, station_search)
    rows = connection.execute(
        """
        select service_date, entries, exits, turnstiles_reporting, coverage
        from station_daily_ridership
        where station = $station
          and ($date_from is null or service_date >= $date_from)
          and ($date_to is null or service_date <= $date_to)
        order by service_date
        """,
        {"station": station.station, "date_from": date_from, "date_to": date_to},
    ).fetchall()
    if not rows:
        ranges = date_ranges(connection, station.station)
        listed = ", ".join(f"{a} .. {b}" if a != b else f"{a}" for a, b in ranges[:DATE_RANGES_SHOWN])
        more = (
            f" and {len(ranges) - DATE_RANGES_SHOWN} more ranges" if len(ranges) > DATE_RANGES_SHOWN else ""
        )
        asked = f"{date_from or 'the first day'} .. {date_to or 'the last day'}"
        raise NoDaysInRange(f"no day of {station.describe()} in {asked}: the warehouse has {listed}{more}")
    return StationRidership(station, [StationDay(*row) for row in rows])
