"""The mart's dbt project built for real (``dbt build`` on a DuckDB file) over hand-built histories.

dbt runs once for the whole module: every history is a turnstile of its own station in one lake; each
test then checks its own station. See ``histories.py`` for each rule's expected figures, worked by hand.
"""

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb
import pytest

from mta_lake.core.mart.dbt_project import Warehouse, full_rebuild_args, run_dbt
from mta_lake.core.mart.query import AmbiguousStation, StationNotFound, station_ridership
from mta_lake.tools.ridership import as_table
from mta_lake_tests.core.mart.clean_layer import write_lake
from mta_lake_tests.core.mart.histories import HISTORIES, MODES, all_readings

BLOCKING_TESTS = {
    "assert_run_accounting",
    "assert_intervals_chain_once",
    "assert_counted_or_rejected",
    "assert_no_negative_counts",
    "assert_unique_station_day",
    "assert_station_days_sum_counted_intervals",
}


STATION_INTERVALS = """(
    select i.*, t.control_area, t.unit, t.scp, t.station_key
    from turnstile_intervals as i join turnstile_week_last_readings as t using (turnstile_id, week)
)"""
"""Intervals with their turnstile and station (the mart keeps them apart: numbers only in the big table)."""


def run_results(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    """dbt's run_results.json of the last invocation, by node name."""
    results = json.loads((warehouse.work_dir / "target" / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[2]: result for result in results}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, duckdb.DuckDBPyConnection]]:
    root = tmp_path_factory.mktemp("mart")
    write_lake(root / "lake", all_readings())
    warehouse = Warehouse(
        lake_url=str(root / "lake"), path=root / "warehouse" / "mta.duckdb", work_dir=root / "dbt"
    )
    # One week per batch: every batch boundary of the full rebuild is exercised by the histories.
    completed = run_dbt(warehouse, full_rebuild_args(warehouse, extra_vars={"mart_rebuild_batch_weeks": 1}))
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-3000:]
    connection = duckdb.connect(str(warehouse.path), read_only=True)
    yield warehouse, connection
    connection.close()


def station_days(connection: duckdb.DuckDBPyConnection, station: str) -> dict[date, tuple[int, int]]:
    rows = connection.execute(
        "select service_date, entries, exits from station_daily_ridership where station = ? order by 1",
        [station],
    ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


@pytest.mark.parametrize("station", sorted(HISTORIES))
def test_station_days_match_the_hand_computed_figures(built: Any, station: str) -> None:
    _, connection = built
    expected = HISTORIES[station][1]
    assert station_days(connection, station) == expected.days


@pytest.mark.parametrize("station", sorted(HISTORIES))
def test_rejections_carry_their_reason(built: Any, station: str) -> None:
    _, connection = built
    expected = HISTORIES[station][1]
    rows = connection.execute(
        f"""select entries_rejection, count(*) from {STATION_INTERVALS}
           where station_key = ? and entries_rejection is not null group by 1""",
        [station],
    ).fetchall()
    assert dict(rows) == expected.rejections
    rejected = connection.execute(
        "select service_date, rejected_entries from station_daily_ridership where station = ? and rejected_entries > 0",
        [station],
    ).fetchall()
    assert dict(rejected) == expected.rejected_entries


@pytest.mark.parametrize("station", [s for s in sorted(HISTORIES) if HISTORIES[s][1].coverage])
def test_coverage_counts_the_days_real_hours(built: Any, station: str) -> None:
    _, connection = built
    for day, share in HISTORIES[station][1].coverage.items():
        (coverage,) = connection.execute(
            "select coverage from station_daily_ridership where station = ? and service_date = ?",
            [station, day],
        ).fetchone()
        assert coverage == pytest.approx(share), day


def test_every_blocking_dbt_test_ran_and_passed(built: Any) -> None:
    warehouse, _ = built
    results = run_results(warehouse)
    assert set(results) >= BLOCKING_TESTS
    assert {name: results[name]["status"] for name in BLOCKING_TESTS} == dict.fromkeys(BLOCKING_TESTS, "pass")
    assert all(result["status"] in {"success", "pass", "warn"} for result in results.values())


def test_the_week_boundary_interval_is_counted_once_in_the_later_week(built: Any) -> None:
    _, connection = built
    rows = connection.execute(
        f"select week, counted_entries from {STATION_INTERVALS} where station_key = 'BOUNDARY' order by ended_at"
    ).fetchall()
    assert rows == [(date(2024, 1, 20), 80), (date(2024, 1, 20), 20)]


def test_a_down_counter_is_counted_downwards_not_by_absolute_value(built: Any) -> None:
    _, connection = built
    rows = connection.execute(
        f"select distinct entries_direction, exits_direction from {STATION_INTERVALS} where station_key = 'DOWN'"
    ).fetchall()
    assert rows == [(-1, -1)]


def test_accounting_per_turnstile_counted_plus_rejected_equals_last_minus_first(built: Any) -> None:
    """Recomputed in Python from the readings themselves, not from the mart's own columns."""
    _, connection = built
    for station, (readings, _) in HISTORIES.items():
        used = sorted((r for r in readings if r.is_reading_of_record), key=lambda r: r.observed_at_utc)
        (entries_accounted, exits_accounted, intervals) = connection.execute(
            f"""select sum(entries_direction * counted_entries + rejected_entries_movement),
                      sum(exits_direction * counted_exits + rejected_exits_movement), count(*)
               from {STATION_INTERVALS} where station_key = ?""",
            [station],
        ).fetchone()
        assert intervals == len(used) - 1, station
        assert entries_accounted == used[-1].entries - used[0].entries, station
        assert exits_accounted == used[-1].exits - used[0].exits, station


def test_station_days_add_up_to_the_counted_intervals(built: Any) -> None:
    _, connection = built
    by_interval = connection.execute(
        f"select station_key, sum(counted_entries), sum(counted_exits) from {STATION_INTERVALS} group by 1 order by 1"
    ).fetchall()
    by_day = connection.execute(
        "select station, sum(entries), sum(exits) from station_daily_ridership group by 1 order by 1"
    ).fetchall()
    assert by_day == by_interval
    system = connection.execute("select sum(entries), sum(exits) from system_daily_ridership").fetchone()
    assert system == (sum(row[1] for row in by_interval), sum(row[2] for row in by_interval))


def test_system_days_sum_the_stations(built: Any) -> None:
    _, connection = built
    (row,) = connection.execute(
        """select mode, entries, exits, stations, turnstiles from system_daily_ridership
           where service_date = '2024-01-16'"""
    ).fetchall()
    # MIDNIGHT 200/50, RESET 200/150, DOWN 300/200, JUMP 200/30, DUP 200/20, WOBBLE 205/30.
    assert row == ("subway", 1305, 480, 6, 6)


def test_each_station_has_the_mode_of_its_division_else_its_remote(built: Any) -> None:
    _, connection = built
    modes = dict(
        connection.execute(
            "select station, mode from station_daily_ridership where station like 'MODE_%'"
        ).fetchall()
    )
    assert modes == {station: mode for station, (mode, _) in MODES.items()}
    system = connection.execute(
        """select mode, entries, exits, stations from system_daily_ridership
           where service_date = '2024-02-14' order by mode"""
    ).fetchall()
    assert system == [("PATH", 200, 20, 2), ("SIR", 100, 10, 1), ("subway", 200, 20, 2), ("tram", 100, 10, 1)]


def test_station_ridership_finds_a_station_by_part_of_its_name(built: Any) -> None:
    _, connection = built
    result = station_ridership(connection, "midn", date(2024, 1, 17), None)
    assert (result.station.station, [(d.service_date, d.entries, d.exits) for d in result.days]) == (
        "MIDNIGHT",
        [(date(2024, 1, 17), 200, 51)],
    )
    assert "MIDNIGHT" in as_table(result)
    with pytest.raises(StationNotFound):
        station_ridership(connection, "nowhere")
    with pytest.raises(AmbiguousStation):
        station_ridership(connection, "u")  # DUP, AUTUMN, REPEATED_HOUR...


def test_the_same_mart_from_a_lake_in_gcs(built: Any, fake_gcs: Any, tmp_path) -> None:
    """The duckdb_gcs target: the clean layer read from a bucket (fake-gcs-server) through gcsfs registered
    with DuckDB gives the very rows the folder lake gives."""
    _, folder = built
    bucket = fake_gcs.create_bucket()
    blobs = fake_gcs.client().bucket(bucket)
    lake_root = tmp_path / "lake"
    write_lake(lake_root, all_readings())
    for path in sorted(lake_root.rglob("*.parquet")):
        blobs.blob(f"lake/{path.relative_to(lake_root).as_posix()}").upload_from_filename(str(path))
    warehouse = Warehouse(
        lake_url=f"gs://{bucket}/lake", path=tmp_path / "warehouse" / "mta.duckdb", work_dir=tmp_path / "dbt"
    )
    assert warehouse.dbt_target == "duckdb_gcs"
    completed = run_dbt(warehouse, full_rebuild_args(warehouse))
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-3000:]
    query = "select * from station_daily_ridership order by service_date, station"
    with duckdb.connect(str(warehouse.path), read_only=True) as from_gcs:
        gcs_rows = from_gcs.sql(query).fetchall()
    assert gcs_rows and gcs_rows == folder.sql(query).fetchall()
