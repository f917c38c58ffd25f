"""The dashboard's extract: the same figures as the warehouse (the system by mode, the MTA's published
figures of the seed and the comparison model), built only when no one writes it, never in a writer's way.

No browser here: the extract is built from the session's warehouse (the real dbt build over three real
weeks, ``mta_lake_harness/dashboard.py``) into temporary files."""

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mta_lake.core.lake import LocalLake
from mta_lake.dashboard import queries
from mta_lake.dashboard.extract import (
    Outcome,
    Refresh,
    Refresher,
    advisory_lock_path,
    build_extract,
    extract_stamp,
    refresh,
    warehouse_stamp,
)
from mta_lake_harness.dashboard import MISSING_WEEK, NOW, WEEKS, FixtureWarehouse


@pytest.fixture
def warehouse_copy(fixture_warehouse: FixtureWarehouse, tmp_path: Path) -> Path:
    """A copy of the session's warehouse that a test may write to."""
    path = tmp_path / "warehouse" / "mta.duckdb"
    path.parent.mkdir()
    shutil.copy(fixture_warehouse.path, path)
    return path


@pytest.fixture(scope="module")
def extract(
    fixture_warehouse: FixtureWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("extract") / "mta.dashboard.duckdb"
    result = build_extract(fixture_warehouse.path, path, LocalLake(str(fixture_warehouse.lake)), now=NOW)
    assert result.outcome == Outcome.BUILT
    with duckdb.connect(str(path), read_only=True) as connection:
        connection.execute(f"attach '{fixture_warehouse.path}' as wh (read_only)")
        yield connection


def pairs(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


def test_the_extract_holds_the_warehouses_station_days_and_system_days(extract) -> None:
    columns = "service_date, station, station_name, line_names, entries, exits, coverage"
    ours = pairs(extract, f"select {columns} from station_days order by station, service_date")
    theirs = pairs(
        extract, f"select {columns} from wh.station_daily_ridership order by station, service_date"
    )
    assert ours == theirs and len(ours) > 5_000
    system = pairs(extract, "select service_date, mode, entries, exits from system_days order by 1, 2")
    expected = pairs(
        extract, "select service_date, mode, entries, exits from wh.system_daily_ridership order by 1, 2"
    )
    assert system == expected
    assert {row[1] for row in system} == {"subway", "PATH", "SIR", "tram"}
    assert queries.modes(extract) == ["subway", "PATH", "SIR", "tram"]


def test_the_mta_figures_are_the_seeds_and_the_comparison_models(extract) -> None:
    published = pairs(extract, "select service_date, mta_subway from mta_daily order by 1")
    seed = pairs(
        extract,
        """select strptime("Date", '%m/%d/%Y')::date, "Subways: Total Estimated Ridership"
           from wh.mta_daily_ridership where "Subways: Total Estimated Ridership" > 0 order by 1""",
    )
    assert published == seed and published[0][0] == date(2020, 3, 1) and len(published) > 1_700
    ratios = queries.ratio_series(extract, date(2024, 1, 1), date(2024, 1, 12), weekly=False)
    model = pairs(
        extract,
        """select service_date, entries_ratio, exits_ratio from wh.subway_vs_mta_daily
           where service_date between '2024-01-01' and '2024-01-12' order by 1""",
    )
    assert len(ratios) == len(model) == 12
    for (day, entries, exits), row in zip(model, ratios.itertuples(), strict=True):
        assert row.period.date() == day
        assert abs(row.entries - entries) < 1e-12 and abs(row.exits - exits) < 1e-12
    assert queries.mta_day(extract, date(2024, 1, 3)) == dict(published)[date(2024, 1, 3)]
    assert queries.mta_day(extract, date(2017, 5, 30)) is None


def test_rejections_by_reason_add_up_to_the_intervals(extract) -> None:
    ours = pairs(
        extract, "select week, counter, reason, intervals, movement from rejections_weekly order by all"
    )
    theirs = pairs(
        extract,
        """select week, 'entries', entries_rejection, count(*), sum(abs(rejected_entries_movement))
           from wh.turnstile_intervals where entries_rejection is not null group by all
           union all
           select week, 'exits', exits_rejection, count(*), sum(abs(rejected_exits_movement))
           from wh.turnstile_intervals where exits_rejection is not null group by all
           order by all""",
    )
    assert ours == theirs
    assert {row[2] for row in ours} >= {"long_gap", "counter_reset", "implausible_jump", "against_direction"}


def test_week_states_come_from_the_lake_and_the_index_snapshot(extract) -> None:
    states = dict(pairs(extract, "select week, state from lake_weeks"))
    assert {week for week, state in states.items() if state == "landed"} == set(WEEKS)
    assert [week for week, state in states.items() if state == "missing"] == [MISSING_WEEK]
    assert states[date(2010, 5, 1)] == "not_published"
    assert max(states) == date(2024, 1, 13)  # the last week ended by NOW
    cleaned = {row[0] for row in pairs(extract, "select week from lake_weeks where cleaned")}
    in_warehouse = {row[0] for row in pairs(extract, "select week from warehouse_weeks")}
    assert cleaned == in_warehouse == set(WEEKS)


def test_a_refresh_rebuilds_only_when_the_warehouse_changed(warehouse_copy: Path, tmp_path: Path) -> None:
    extract_path = tmp_path / "mta.dashboard.duckdb"
    assert refresh(warehouse_copy, extract_path).outcome == Outcome.BUILT
    assert extract_stamp(extract_path) == warehouse_stamp(warehouse_copy)
    assert refresh(warehouse_copy, extract_path).outcome == Outcome.FRESH
    with duckdb.connect(str(warehouse_copy)) as writer:
        writer.execute(
            "update station_daily_ridership set entries = entries + 1000 where station = 'complex:611'"
        )
    assert refresh(warehouse_copy, extract_path).outcome == Outcome.BUILT
    with duckdb.connect(str(extract_path), read_only=True) as connection:
        (total,) = connection.execute(
            "select sum(entries) from station_days where station = 'complex:611'"
        ).fetchone()
    with duckdb.connect(str(warehouse_copy), read_only=True) as connection:
        (expected,) = connection.execute(
            "select sum(entries) from station_daily_ridership where station = 'complex:611'"
        ).fetchone()
    assert total == expected


def test_the_servers_first_page_on_a_fresh_extract_starts_no_refresh(
    warehouse_copy: Path, fixture_warehouse: FixtureWarehouse
) -> None:
    """``python -m mta_lake.dashboard`` refreshes the extract before Streamlit starts: the first page
    then finds it fresh without a refresh thread to wait for; a changed warehouse is refreshed."""
    refresher = Refresher(warehouse_copy, str(fixture_warehouse.lake))
    assert refresh(warehouse_copy, refresher.extract_path).outcome == Outcome.BUILT
    refresher.poke()
    assert refresher._thread is None and refresher.last == Refresh(Outcome.FRESH)
    with duckdb.connect(str(warehouse_copy)) as writer:
        writer.execute("update station_daily_ridership set exits = exits + 1 where station = 'complex:611'")
    refresher.poke(wait=None)
    assert refresher.last is not None and refresher.last.outcome == Outcome.BUILT
    assert extract_stamp(refresher.extract_path) == warehouse_stamp(warehouse_copy)


HOLD_FOR_WRITING = textwrap.dedent(
    """
    import fcntl, sys, time, duckdb
    path, advisory = sys.argv[1], sys.argv[2] == "advisory"
    lock = open(path + ".lock", "a")
    if advisory:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a mart run does (dbt_project.exclusive)
    connection = duckdb.connect(path)  # DuckDB's own write lock
    connection.execute("update station_daily_ridership set exits = exits + 1 where station = 'complex:611'")
    print("holding", flush=True)
    sys.stdin.readline()
    """
)


@pytest.mark.parametrize("advisory", [True, False], ids=["mart-run-with-advisory-lock", "dbt-by-hand"])
def test_while_a_writer_holds_the_warehouse_the_extract_is_kept_and_the_refresh_says_busy(
    warehouse_copy: Path, tmp_path: Path, advisory: bool
) -> None:
    extract_path = tmp_path / "mta.dashboard.duckdb"
    assert refresh(warehouse_copy, extract_path).outcome == Outcome.BUILT
    before = extract_path.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOR_WRITING, str(warehouse_copy), "advisory" if advisory else "duckdb"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        result = refresh(warehouse_copy, extract_path, force=True)
        assert result.outcome == Outcome.BUSY, result
        assert "writ" in result.message
        assert extract_path.read_bytes() == before  # the last good extract, untouched
    finally:
        writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    assert refresh(warehouse_copy, extract_path).outcome == Outcome.BUILT


def test_the_dashboard_holds_no_lock_a_writer_would_meet(warehouse_copy: Path, tmp_path: Path) -> None:
    """Between refreshes nothing of the dashboard's is open on the warehouse: a mart run takes both locks
    at once (the advisory one without waiting, and DuckDB's), right after a refresh."""
    extract_path = tmp_path / "mta.dashboard.duckdb"
    assert refresh(warehouse_copy, extract_path).outcome == Outcome.BUILT
    import fcntl

    with open(advisory_lock_path(warehouse_copy), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with duckdb.connect(str(warehouse_copy)) as writer:
            writer.execute("create table written_by_a_mart_run as select 1 as x")


def test_a_warehouse_without_the_mta_seed_gives_empty_mta_tables(
    warehouse_copy: Path, tmp_path: Path
) -> None:
    """Before the seed is loaded (a Dagster run loads it after the first week) the extract is built, with
    no MTA figures, and says so."""
    with duckdb.connect(str(warehouse_copy)) as connection:
        drop_mta_seed(connection)
    extract_path = tmp_path / "mta.dashboard.duckdb"
    assert build_extract(warehouse_copy, extract_path).outcome == Outcome.BUILT
    with duckdb.connect(str(extract_path), read_only=True) as connection:
        info = queries.info(connection)
        assert (info["mta_published"], info["comparison"]) == ("False", "False")
        assert pairs(connection, "select count(*) from mta_daily") == [(0,)]
        assert pairs(connection, "select count(*) from subway_vs_mta") == [(0,)]
        assert len(pairs(connection, "select * from system_days")) == 21 + 3 * 14


def test_a_warehouse_built_before_modes_is_refused_with_what_to_do(
    warehouse_copy: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(warehouse_copy)) as connection:
        connection.execute("alter table station_daily_ridership drop column mode")
    result = refresh(warehouse_copy, tmp_path / "mta.dashboard.duckdb")
    assert result.outcome == Outcome.NOT_A_MART
    assert "make mart-rebuild" in result.message
    assert not (tmp_path / "mta.dashboard.duckdb").exists()


def drop_mta_seed(connection: duckdb.DuckDBPyConnection) -> None:
    """The warehouse as it is before the seed ``mta_daily_ridership`` and its comparison model are built."""
    connection.execute(f"drop table {queries.COMPARISON_MODEL}; drop table {queries.SEED_TABLE}")
