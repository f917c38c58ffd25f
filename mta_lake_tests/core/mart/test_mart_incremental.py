"""Applying one week incrementally gives exactly what a full rebuild gives, and touches only that week.

Three weeks of readings every 4 hours for a few turnstiles (one with a reset planted in the last week).
The warehouse is first built with the middle week missing (a gap filled later, the hardest order);
then the middle week lands and is applied alone (``--vars {weeks: [...]}``); the result is compared
table by table with a ``--full-refresh`` of a copy. dbt runs three times in this module.
"""

import random
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mta_lake.core.layout import clean_week_of_key
from mta_lake.core.mart.dbt_project import (
    Warehouse,
    full_rebuild_args,
    run_dbt,
    run_weeks_build_args,
    warehouse_weeks,
    weeks_vars,
)
from mta_lake_tests.core.mart.clean_layer import Reading, write_lake

WEEKS = [date(2024, 1, 6), date(2024, 1, 13), date(2024, 1, 20)]
LATE_WEEK = WEEKS[1]
TABLES = {
    "turnstile_intervals": "turnstile_id, ended_at",
    "station_daily_ridership": "service_date, station",
    "system_daily_ridership": "service_date",
    "turnstile_week_last_readings": "week, turnstile_id",
}


def three_weeks() -> list[Reading]:
    generator = random.Random(12)
    readings = []
    for turnstile in range(4):
        entries, exits = 1_000_000 * (turnstile + 1), 500_000
        moment = datetime(2024, 1, 6, turnstile)  # windows start at 0-3 o'clock, as in the real files
        while moment < datetime(2024, 1, 27):
            readings.append(Reading(f"A00{turnstile}", "R001", "00-00-00", moment, entries, exits,
                                    station=f"STATION {turnstile % 2}", station_key=f"STATION {turnstile % 2}"))  # fmt: skip
            moment += timedelta(hours=4)
            entries += generator.randint(0, 400)
            exits += generator.randint(0, 300)
            if turnstile == 0 and moment == datetime(2024, 1, 22, 8):
                entries = 17  # a reset planted in the last week
    return readings


def dump(connection: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every mart table, as dicts, in a fixed order."""
    tables = {}
    for table, key in TABLES.items():
        result = connection.execute(f"select * from {table} order by {key}")
        names = [column[0] for column in result.description]
        tables[table] = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    return tables


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("incremental")
    lake = root / "lake"
    readings = three_weeks()
    write_lake(lake, readings, weeks=[WEEKS[0], WEEKS[2]])
    warehouse = Warehouse(lake_url=str(lake), path=root / "warehouse" / "mta.duckdb", work_dir=root / "dbt")
    first = run_dbt(warehouse, full_rebuild_args(warehouse))
    assert first.returncode == 0, first.stdout[-5000:]
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        before = dump(connection)
        loaded = warehouse_weeks(connection)

    write_lake(lake, readings, weeks=[LATE_WEEK])
    in_lake = {clean_week_of_key(path.relative_to(lake).as_posix()) for path in lake.rglob("*.parquet")}
    to_apply = sorted({date.fromisoformat(week) for week in in_lake if week} - set(loaded))
    # As a Dagster run applies them: the weeks in the warehouse's run-weeks table, the --vars unchanged.
    log_path = warehouse.work_dir / "target" / "dbt.log"
    logged_before = len(log_path.read_text())
    incremental = run_dbt(warehouse, run_weeks_build_args(warehouse, to_apply))
    incremental_log = log_path.read_text()[logged_before:]  # dbt appends to its log
    assert incremental.returncode == 0, incremental.stdout[-5000:]
    compiled = (
        warehouse.work_dir
        / "target"
        / "compiled"
        / "mta_mart"
        / "models"
        / "marts"
        / "turnstile_intervals.sql"
    )
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        after = dump(connection)

    rebuilt = Warehouse(
        lake_url=str(lake), path=root / "rebuilt" / "mta.duckdb", work_dir=root / "dbt-rebuilt"
    )
    rebuilt.prepare()
    shutil.copy(warehouse.path, rebuilt.path)
    full = run_dbt(rebuilt, full_rebuild_args(rebuilt, extra_vars={"mart_rebuild_batch_weeks": 2}))
    assert full.returncode == 0, full.stdout[-5000:]
    with duckdb.connect(str(rebuilt.path), read_only=True) as connection:
        reference = dump(connection)
    yield {
        "to_apply": to_apply,
        "before": before,
        "after": after,
        "reference": reference,
        "compiled_intervals": compiled.read_text(),
        "incremental_stdout": incremental.stdout,
        "incremental_log": incremental_log,
    }


def test_the_catch_up_applies_only_the_missing_week(applied: dict[str, Any]) -> None:
    assert applied["to_apply"] == [LATE_WEEK]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_one_week_applied_equals_a_full_rebuild(applied: dict[str, Any], table: str) -> None:
    assert applied["after"][table] == applied["reference"][table]


def test_the_run_read_only_the_new_week_and_its_successor(applied: dict[str, Any]) -> None:
    compiled = applied["compiled_intervals"]
    assert "week=2024-01-13/readings.parquet" in compiled
    assert "week=2024-01-20/readings.parquet" in compiled  # its first interval starts in the new week
    assert "week=2024-01-06/readings.parquet" not in compiled
    assert "week=*" not in compiled


def test_days_outside_the_new_weeks_are_left_as_they_were(applied: dict[str, Any]) -> None:
    def early(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [row for row in rows if row["service_date"] < date(2024, 1, 12)]

    before, after = applied["before"]["station_daily_ridership"], applied["after"]["station_daily_ridership"]
    assert early(after) == early(before) != []
    intervals_before = [r for r in applied["before"]["turnstile_intervals"] if r["week"] == WEEKS[0]]
    intervals_after = [r for r in applied["after"]["turnstile_intervals"] if r["week"] == WEEKS[0]]
    assert intervals_after == intervals_before != []


def test_the_gap_was_a_long_gap_before_and_is_counted_after(applied: dict[str, Any]) -> None:
    def reasons(rows: list[dict[str, Any]]) -> set[str]:
        return {row["entries_rejection"] for row in rows if row["entries_rejection"] is not None}

    assert reasons(applied["before"]["turnstile_intervals"]) == {"long_gap", "counter_reset"}
    assert reasons(applied["after"]["turnstile_intervals"]) == {"counter_reset"}


def test_the_planted_reset_is_rejected_not_counted(applied: dict[str, Any]) -> None:
    resets = [
        row for row in applied["after"]["turnstile_intervals"] if row["entries_rejection"] == "counter_reset"
    ]
    (reset,) = resets
    turnstiles = {
        row["turnstile_id"]: row["control_area"] for row in applied["after"]["turnstile_week_last_readings"]
    }
    assert (turnstiles[reset["turnstile_id"]], reset["entries_end"], reset["counted_entries"]) == (
        "A000",
        17,
        0,
    )


def test_the_tests_of_an_incremental_run_pass(applied: dict[str, Any]) -> None:
    assert "ERROR=0" in applied["incremental_stdout"]
    assert "FAIL" not in applied["incremental_stdout"].replace("FAIL=0", "")


def test_weeks_vars_are_sorted_unique_week_keys() -> None:
    assert weeks_vars(["2024-01-13", date(2024, 1, 6), "2024-01-13"]) == {
        "weeks": ["2024-01-06", "2024-01-13"]
    }
    with pytest.raises(ValueError):
        weeks_vars([])
    with pytest.raises(ValueError):
        weeks_vars(["13/01/2024"])


def test_an_incremental_run_without_weeks_is_refused(tmp_path: Path, applied: dict[str, Any]) -> None:
    """Checked at compile time, with no warehouse to write: dbt's jinja raises before any SQL runs."""
    from mta_lake.core.mart.dbt_project import PROJECT_DIR

    macro = (PROJECT_DIR / "macros" / "weeks.sql").read_text()
    assert "An incremental run of the mart needs the weeks it applies" in macro


def test_the_incremental_run_reused_the_previous_parse(applied: dict[str, Any]) -> None:
    """Its --vars are the full build's (the weeks are in the warehouse's table): dbt does not parse the
    project again (a change of --vars would: about 2.5 s of CPU a run)."""
    log = applied["incremental_log"]
    assert "Unable to do partial parsing" not in log
    assert "Nothing changed, skipping partial parsing." in log or "Partial parsing enabled" in log
