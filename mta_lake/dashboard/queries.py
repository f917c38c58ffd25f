"""Every SQL statement of the dashboard, in one place (longer than most modules on purpose: the one file
to change when the mart's schema changes).

Two kinds, both plain DuckDB SQL:

- **The extract** (``build_statements``): what the dashboard copies out of the warehouse into its own
  small DuckDB file after each mart run (``mta_lake.dashboard.extract``). The warehouse is attached
  read-only as ``wh``; every statement writes one table of the extract.
- **The views** (the functions below ``# -- views``): what each page asks of the extract.

What it reads of the mart (``mta_lake/warehouse/models/marts/schema.yml``): ``station_daily_ridership``
and ``system_daily_ridership`` (one row per service day and mode: subway, PATH, SIR, tram, bus), the
seed ``mta_daily_ridership`` (the MTA's published daily figures, 2020-03-01 .. 2024-11-14) and the model
``subway_vs_mta_daily`` (the mart's subway beside it), ``turnstile_intervals`` (rejections by reason)
and ``turnstile_week_last_readings`` (the weeks in the warehouse). A warehouse built before modes is
refused with the line that says to rebuild it; one without the seed yet (a Dagster run loads it after the
first week) or without intervals gets empty tables, and the pages say so.
"""

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

# -- the warehouse (the mart's dbt models) ------------------------------------------------------------

STATION_DAYS = "station_daily_ridership"
SYSTEM_DAYS = "system_daily_ridership"
INTERVALS = "turnstile_intervals"
TURNSTILE_WEEKS = "turnstile_week_last_readings"
SEED_TABLE = "mta_daily_ridership"
"""The MTA's published daily ridership as found (its column names, dates as MM/DD/YYYY text)."""
SEED_SUBWAY_COLUMN = "Subways: Total Estimated Ridership"
SEED_DATE_COLUMN = "Date"
COMPARISON_MODEL = "subway_vs_mta_daily"
"""Per day on both sides: the mart's subway entries and exits beside the MTA's figure, and the ratios."""
COMPARISON_COLUMNS = ("service_date", "mart_entries", "mart_exits", "mta_subway_ridership")

MODES = ("subway", "PATH", "SIR", "tram", "bus")
"""The mart's modes (macros/modes.sql), in the order the pages list them."""


class NotAMart(LookupError):
    """The warehouse lacks what the dashboard reads (no mart yet, or one built before modes)."""


@dataclass(frozen=True)
class WarehouseShape:
    """What the warehouse holds today, read from its catalog (the optional parts)."""

    mta_published: bool
    """The seed with the MTA's published daily figures is loaded."""
    comparison: bool
    """The model ``subway_vs_mta_daily`` is built."""
    intervals: bool
    """``turnstile_intervals`` and ``turnstile_week_last_readings`` exist (rejections, weeks)."""


def warehouse_shape(connection: duckdb.DuckDBPyConnection, catalog: str = "wh") -> WarehouseShape:
    rows = connection.execute(
        """select table_name, column_name from information_schema.columns
           where table_catalog = ? and table_schema = 'main'""",
        [catalog],
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    missing = {STATION_DAYS, SYSTEM_DAYS} - set(columns)
    if missing:
        raise NotAMart(f"the warehouse has no {', '.join(sorted(missing))}: build the mart first")
    if "mode" not in columns[STATION_DAYS] or "mode" not in columns[SYSTEM_DAYS]:
        raise NotAMart("the warehouse was built before the mart had modes: rebuild it (make mart-rebuild)")
    return WarehouseShape(
        mta_published={SEED_DATE_COLUMN, SEED_SUBWAY_COLUMN} <= columns.get(SEED_TABLE, set()),
        comparison=set(COMPARISON_COLUMNS) <= columns.get(COMPARISON_MODEL, set()),
        intervals=INTERVALS in columns and TURNSTILE_WEEKS in columns,
    )


# -- the extract ------------------------------------------------------------------------------------

WEEK_OF = "({day} - cast((dayofweek({day}) + 1) % 7 as integer))"
"""The MTA week (its key: the Saturday it starts) holding a day; dayofweek is 0 on Sunday."""


def build_statements(shape: WarehouseShape) -> list[tuple[str, str]]:
    """(table, statement) for every table of the extract, from the warehouse attached as ``wh``."""
    statements = [
        (
            "station_days",
            # Sorted by station: a station's days are then a few row groups (DuckDB skips the others).
            f"""create table station_days as
            select service_date, station, station_name, line_names, division, mode,
                   entries, exits, turnstiles_reporting, rejected_entries, rejected_exits, rejected_intervals,
                   coverage
            from wh.{STATION_DAYS}
            order by station, service_date""",
        ),
        (
            "system_days",
            f"""create table system_days as
            select service_date, mode, cast(entries as bigint) as entries, cast(exits as bigint) as exits,
                   cast(stations as bigint) as stations
            from wh.{SYSTEM_DAYS} order by service_date, mode""",
        ),
    ]
    statements.append(
        (
            "stations",
            """create table stations as
            select station,
                   arg_max(station_name, service_date) as station_name,
                   arg_max(line_names, service_date) as line_names,
                   arg_max(division, service_date) as division,
                   arg_max(mode, service_date) as mode,
                   min(service_date) as first_date,
                   max(service_date) as last_date,
                   count(*) as days,
                   sum(entries) as entries,
                   sum(exits) as exits
            from station_days group by station order by station_name, line_names, station""",
        )
    )
    statements.append(
        (
            "coverage_weekly",
            f"""create table coverage_weekly as
            select {WEEK_OF.format(day="service_date")} as week,
                   count(*) as station_days,
                   count(distinct station) as stations,
                   sum(turnstiles_reporting) as turnstile_days,
                   sum(coverage * turnstiles_reporting) / nullif(sum(turnstiles_reporting), 0) as coverage,
                   sum(entries) as entries,
                   sum(exits) as exits
            from station_days group by 1 order by 1""",
        )
    )
    if shape.intervals:
        rejections = f"""
            select week, 'entries' as counter, entries_rejection as reason, count(*) as intervals,
                   sum(abs(rejected_entries_movement)) as movement
            from wh.{INTERVALS} where entries_rejection is not null group by all
            union all
            select week, 'exits' as counter, exits_rejection as reason, count(*) as intervals,
                   sum(abs(rejected_exits_movement)) as movement
            from wh.{INTERVALS} where exits_rejection is not null group by all"""
        counted = f"select week, count(*) as intervals from wh.{INTERVALS} group by week"
        warehouse_weeks = f"select distinct week from wh.{TURNSTILE_WEEKS}"
    else:
        rejections = """select cast(null as date) as week, '' as counter, '' as reason, 0 as intervals,
                               0 as movement where false"""
        counted = "select cast(null as date) as week, 0 as intervals where false"
        warehouse_weeks = "select cast(null as date) as week where false"
    statements += [
        (
            "rejections_weekly",
            f"""create table rejections_weekly as
            select week, counter, reason, cast(intervals as bigint) as intervals,
                   cast(movement as hugeint) as movement
            from ({rejections}) as rejected order by week, counter, reason""",
        ),
        (
            "intervals_weekly",
            f"""create table intervals_weekly as
            select week, cast(intervals as bigint) as intervals from ({counted}) as counted order by week""",
        ),
        ("warehouse_weeks", f"create table warehouse_weeks as {warehouse_weeks} order by week"),
    ]
    if shape.mta_published:
        # The seed as found: the MTA's column names, its dates as MM/DD/YYYY text, rows in no order.
        mta = f"""select cast(strptime("{SEED_DATE_COLUMN}", '%m/%d/%Y') as date) as service_date,
                         "{SEED_SUBWAY_COLUMN}" as mta_subway
                  from wh.{SEED_TABLE} where "{SEED_SUBWAY_COLUMN}" > 0"""
    else:
        mta = "select cast(null as date) as service_date, cast(null as bigint) as mta_subway where false"
    if shape.comparison:
        compared = f"""select service_date, mart_entries, mart_exits, mta_subway_ridership
                       from wh.{COMPARISON_MODEL}"""
    else:
        compared = """select cast(null as date) as service_date, 0 as mart_entries, 0 as mart_exits,
                             0 as mta_subway_ridership where false"""
    statements += [
        (
            "mta_daily",
            f"""create table mta_daily as
            select cast(service_date as date) as service_date, cast(mta_subway as bigint) as mta_subway
            from ({mta}) as mta order by service_date""",
        ),
        (
            "subway_vs_mta",
            f"""create table subway_vs_mta as
            select cast(service_date as date) as service_date, cast(mart_entries as bigint) as mart_entries,
                   cast(mart_exits as bigint) as mart_exits,
                   cast(mta_subway_ridership as bigint) as mta_subway
            from ({compared}) as compared order by service_date""",
        ),
    ]
    return statements


LAKE_WEEKS_TABLE = """create table lake_weeks (
    week date primary key,
    state varchar not null,      -- reconcile.WeekState: landed, missing, not_published, unknown, ...
    file_name varchar,
    cleaned boolean not null     -- the week's clean readings are in the lake
)"""

INFO_TABLE = "create table extract_info (name varchar primary key, value varchar)"


# -- views: every query a page asks of the extract --------------------------------------------------


def info(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(connection.execute("select name, value from extract_info").fetchall())


def date_bounds(connection: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """The first and last service day in the warehouse (None: no ridership yet)."""
    first, last = connection.execute(
        "select min(service_date), max(service_date) from system_days"
    ).fetchone()
    return (first, last) if first else None


def modes(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The modes of the system rows, in MODES order (any other mode after them)."""
    found = [row[0] for row in connection.execute("select distinct mode from system_days").fetchall()]
    return sorted(found, key=lambda mode: (MODES.index(mode) if mode in MODES else len(MODES), mode))


def system_series(
    connection: duckdb.DuckDBPyConnection, start: date, end: date, chosen_modes: list[str], weekly: bool
) -> pd.DataFrame:
    """Entries and exits per service day (or, ``weekly``, the average day of each MTA week) and mode."""
    if weekly:
        sql = f"""select {WEEK_OF.format(day="service_date")} as period, mode,
                         avg(entries) as entries, avg(exits) as exits, count(*) as days
                  from system_days
                  where service_date between $start and $end and list_contains($modes, mode)
                  group by all order by period, mode"""
    else:
        sql = """select service_date as period, mode, entries, exits, 1 as days
                 from system_days
                 where service_date between $start and $end and list_contains($modes, mode)
                 order by period, mode"""
    return connection.execute(sql, {"start": start, "end": end, "modes": chosen_modes}).df()


def system_day(connection: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    """One service day's entries, exits and reporting stations per mode (empty: no data that day)."""
    return connection.execute(
        """select mode, entries, exits, stations from system_days where service_date = $day
           order by coalesce(list_position($modes, mode), 99), mode""",
        {"day": day, "modes": list(MODES)},
    ).df()


def mta_series(connection: duckdb.DuckDBPyConnection, start: date, end: date, weekly: bool) -> pd.DataFrame:
    """The MTA's published daily subway ridership (the seed; empty outside 2020-03-01 .. 2024-11-14)."""
    if weekly:
        sql = f"""select {WEEK_OF.format(day="service_date")} as period, avg(mta_subway) as mta_subway
                  from mta_daily where service_date between $start and $end group by 1 order by 1"""
    else:
        sql = """select service_date as period, mta_subway from mta_daily
                 where service_date between $start and $end order by 1"""
    return connection.execute(sql, {"start": start, "end": end}).df()


def ratio_series(connection: duckdb.DuckDBPyConnection, start: date, end: date, weekly: bool) -> pd.DataFrame:
    """The mart's subway entries and exits over the MTA's figure (``subway_vs_mta_daily``), per day or,
    ``weekly``, per week (the week's sums over the days on both sides)."""
    period = WEEK_OF.format(day="service_date") if weekly else "service_date"
    return connection.execute(
        f"""select {period} as period,
                   sum(mart_entries) / sum(mta_subway) as entries,
                   sum(mart_exits) / sum(mta_subway) as exits
            from subway_vs_mta where service_date between $start and $end group by 1 order by 1""",
        {"start": start, "end": end},
    ).df()


def mta_bounds(connection: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last day of the MTA's published daily figures."""
    return connection.execute("select min(service_date), max(service_date) from mta_daily").fetchone()


def mta_day(connection: duckdb.DuckDBPyConnection, day: date) -> int | None:
    """The MTA's published subway ridership on ``day`` (None: not in its file)."""
    row = connection.execute("select mta_subway from mta_daily where service_date = ?", [day]).fetchone()
    return row[0] if row else None


def station_options(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every station, with what tells stations of one name apart (lines, division, mode, key)."""
    return connection.execute(
        """select station, station_name, line_names, division, mode, first_date, last_date,
                  count(*) over (partition by station_name) as same_name
           from stations order by station_name, line_names, station"""
    ).df()


def station_days(connection: duckdb.DuckDBPyConnection, station: str, start: date, end: date) -> pd.DataFrame:
    return connection.execute(
        """select service_date, entries, exits, turnstiles_reporting, coverage, rejected_entries, rejected_exits
           from station_days
           where station = $station and service_date between $start and $end order by service_date""",
        {"station": station, "start": start, "end": end},
    ).df()


def station_series(
    connection: duckdb.DuckDBPyConnection, station: str, start: date, end: date, weekly: bool
) -> pd.DataFrame:
    """A station's entries and exits per day, or (``weekly``) its average day of each MTA week."""
    if not weekly:
        return station_days(connection, station, start, end)[["service_date", "entries", "exits"]]
    return connection.execute(
        f"""select {WEEK_OF.format(day="service_date")} as service_date,
                   avg(entries) as entries, avg(exits) as exits
            from station_days
            where station = $station and service_date between $start and $end group by 1 order by 1""",
        {"station": station, "start": start, "end": end},
    ).df()


def station_summary(connection: duckdb.DuckDBPyConnection, station: str, start: date, end: date) -> dict:
    """Totals, weekday and weekend averages (holidays not told apart) and coverage over the range."""
    row = connection.execute(
        """select count(*) as days,
                  coalesce(sum(entries), 0) as entries,
                  coalesce(sum(exits), 0) as exits,
                  avg(entries) filter (where dayofweek(service_date) between 1 and 5) as weekday_entries,
                  avg(exits) filter (where dayofweek(service_date) between 1 and 5) as weekday_exits,
                  avg(entries) filter (where dayofweek(service_date) in (0, 6)) as weekend_entries,
                  avg(exits) filter (where dayofweek(service_date) in (0, 6)) as weekend_exits,
                  sum(coverage * turnstiles_reporting) / nullif(sum(turnstiles_reporting), 0) as coverage,
                  count(*) filter (where coverage < 0.5) as low_coverage_days
           from station_days where station = $station and service_date between $start and $end""",
        {"station": station, "start": start, "end": end},
    ).df()
    return row.iloc[0].to_dict()


def busiest(
    connection: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    chosen_modes: list[str],
    by: str,
    limit: int,
) -> pd.DataFrame:
    """The stations with the most entries (or exits) from ``start`` to ``end``."""
    order = {"entries": "entries", "exits": "exits"}[by]
    return connection.execute(
        f"""select row_number() over (order by sum({order}) desc, station) as rank,
                   station, arg_max(station_name, service_date) as station_name,
                   arg_max(line_names, service_date) as line_names, arg_max(mode, service_date) as mode,
                   sum(entries) as entries, sum(exits) as exits, count(*) as days
            from station_days
            where service_date between $start and $end
              and list_contains($modes, mode)
            group by station order by rank limit $limit""",
        {
            "start": start,
            "end": end,
            "modes": chosen_modes,
            "limit": limit,
        },
    ).df()


def biggest_changes(
    connection: duckdb.DuckDBPyConnection,
    before: tuple[date, date],
    after: tuple[date, date],
    chosen_modes: list[str],
    by: str,
    limit: int,
    min_daily: int,
) -> pd.DataFrame:
    """Stations of ``chosen_modes`` ranked by the change of their average day (entries or exits) from
    ``before`` to ``after`` (a station's mode: its latest).

    Averages per reporting day, so ranges of different length (or with missing days) compare fairly;
    only stations with at least ``min_daily`` a day in one of the ranges (small stations swing by chance).
    """
    counter = {"entries": "entries", "exits": "exits"}[by]
    return connection.execute(
        f"""with ranges as (
                select station,
                       avg({counter}) filter (where service_date between $b0 and $b1) as before_daily,
                       avg({counter}) filter (where service_date between $a0 and $a1) as after_daily,
                       count(*) filter (where service_date between $b0 and $b1) as before_days,
                       count(*) filter (where service_date between $a0 and $a1) as after_days
                from station_days
                where service_date between $b0 and $b1 or service_date between $a0 and $a1
                group by station
            )
            select ranges.station, stations.station_name, stations.line_names, stations.mode,
                   round(before_daily) as before_daily, round(after_daily) as after_daily,
                   round(after_daily - before_daily) as change_daily,
                   (after_daily - before_daily) / nullif(before_daily, 0) as change_share,
                   before_days, after_days
            from ranges join stations using (station)
            where before_days > 0 and after_days > 0 and list_contains($modes, stations.mode)
              and greatest(before_daily, after_daily) >= $min_daily
            order by abs(after_daily - before_daily) desc, ranges.station limit $limit""",
        {
            "b0": before[0],
            "b1": before[1],
            "a0": after[0],
            "a1": after[1],
            "modes": chosen_modes,
            "min_daily": min_daily,
            "limit": limit,
        },
    ).df()


def coverage_weekly(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return connection.execute(
        "select week, stations, station_days, coverage, entries, exits from coverage_weekly order by week"
    ).df()


def rejections_weekly(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected intervals per week of the warehouse and reason, both counters together; 0 for a reason
    without any in a week (so that the chart's line per reason drops to 0 rather than skipping it)."""
    return connection.execute(
        """with reasons as (select distinct reason from rejections_weekly),
                counted as (
                    select week, reason, sum(intervals) as intervals, sum(movement) as movement
                    from rejections_weekly group by all)
           select weeks.week, reasons.reason, coalesce(counted.intervals, 0) as intervals,
                  coalesce(counted.movement, 0) as movement
           from intervals_weekly as weeks cross join reasons
           left join counted on counted.week = weeks.week and counted.reason = reasons.reason
           order by weeks.week, reasons.reason"""
    ).df()


def rejections_by_reason(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The whole history's rejected intervals and movement per counter and reason, and their share of
    every interval in the warehouse."""
    return connection.execute(
        """select counter, reason, sum(intervals) as intervals, sum(movement) as movement,
                  sum(intervals) / (select nullif(sum(intervals), 0) from intervals_weekly) as share
           from rejections_weekly group by all order by counter, intervals desc, reason"""
    ).df()


def week_states(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every week since 2010: its state in the lake (against the MTA's index), cleaned, in the warehouse."""
    return connection.execute(
        """select l.week, l.state, l.file_name, l.cleaned, w.week is not null as in_warehouse,
                  c.coverage, c.stations
           from lake_weeks as l
           left join warehouse_weeks as w using (week)
           left join coverage_weekly as c using (week)
           order by l.week"""
    ).df()
