"""Warehouses shared by the mart's test modules, built once per session (dbt runs take seconds each)."""

# real_marts: the mart on the repo's real weeks (real_weeks.py), as the weeks would arrive, out of order,
# with a run killed mid-write, and a full rebuild of the same lake in batches of two weeks (dbt runs five
# times, about 40 s on 2 cores):
# 1. a first build with 2011-05-21 and 2017-05-27 only (no day overlaps the MTA's daily file);
# 2. 2024-01-06 applied incrementally, then a full rebuild killed (SIGKILL) while it writes
#    turnstile_intervals;
# 3. 2015-09-12 and 2023-12-30 applied incrementally in one run (the run after the kill), both before
#    weeks already loaded;
# 4. ``--full-refresh`` of the whole lake into another warehouse.

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mta_lake.core.mart.dbt_project import (
    PROJECT_DIR,
    Warehouse,
    dbt_command,
    full_rebuild_args,
    incremental_build_args,
    run_dbt,
)
from mta_lake_tests.core.mart.real_weeks import TABLES, write_real_weeks


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row and column of every mart table, in a fixed order, with the column names first."""
    tables = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for table, key in TABLES.items():
            result = connection.execute(f"select * from {table} order by {key}")
            tables[table] = [tuple(column[0] for column in result.description), *result.fetchall()]
    return tables


def results(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    """The last dbt invocation's run_results.json, by node name."""
    data = json.loads((warehouse.work_dir / "target" / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[2]: result for result in data}


def built(warehouse: Warehouse, args: list[str]) -> dict[str, dict[str, Any]]:
    completed = run_dbt(warehouse, args)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    return results(warehouse)


def intervals_weeks(warehouse: Warehouse) -> list[date]:
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        rows = connection.execute("select distinct week from turnstile_intervals order by 1").fetchall()
    return [row[0] for row in rows]


def killed_mid_write(warehouse: Warehouse) -> dict[str, Any]:
    """A full rebuild (one batch a week) killed with SIGKILL while it writes turnstile_intervals: as soon
    as dbt's log shows the first batch its post-hook inserts, the model's transaction still open (the other
    batches to insert, then the commit). Then the warehouse is opened as the next run would."""
    before = intervals_weeks(warehouse)
    target = warehouse.work_dir / "killed"
    log = target / "dbt.log"
    args = full_rebuild_args(warehouse, extra_vars={"mart_rebuild_batch_weeks": 1})
    process = subprocess.Popen(
        dbt_command(warehouse, args, target),
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if log.exists() and 'insert into "mta"."main"."turnstile_intervals"' in log.read_text():
            break
        time.sleep(0.01)
    running_when_killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    logged = log.read_text()
    committed = "On model.mta_mart.turnstile_intervals: COMMIT" in logged
    return {
        "returncode": process.returncode,
        "running": running_when_killed,
        "committed": committed,
        "before": before,
        "after": intervals_weeks(warehouse),  # opening it is the first thing checked
    }


@pytest.fixture(scope="session")
def real_marts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("real-weeks")
    lake = root / "lake"
    incremental = Warehouse(
        lake_url=str(lake), path=root / "incremental" / "mta.duckdb", work_dir=root / "dbt-inc"
    )
    write_real_weeks(lake, [date(2011, 5, 21), date(2017, 5, 27)])
    first = built(incremental, full_rebuild_args(incremental))
    with duckdb.connect(str(incremental.path), read_only=True) as connection:
        first_nothing = connection.execute(
            "select failure, examined_from, examined_to from main_dbt_test__audit.warn_subway_vs_mta_ratio_band"
        ).fetchall()
    write_real_weeks(lake, [date(2024, 1, 6)])
    built(incremental, incremental_build_args(incremental, [date(2024, 1, 6)]))
    killed = killed_mid_write(incremental)
    write_real_weeks(lake, [date(2015, 9, 12), date(2023, 12, 30)])
    last = built(incremental, incremental_build_args(incremental, [date(2015, 9, 12), date(2023, 12, 30)]))

    rebuilt = Warehouse(lake_url=str(lake), path=root / "rebuilt" / "mta.duckdb", work_dir=root / "dbt-full")
    full = built(rebuilt, full_rebuild_args(rebuilt, extra_vars={"mart_rebuild_batch_weeks": 2}))
    connection = duckdb.connect(str(rebuilt.path), read_only=True)
    yield {
        "incremental": dump(incremental.path),
        "rebuilt": dump(rebuilt.path),
        "connection": connection,
        "rebuilt_path": rebuilt.path,
        "first": first,
        "first_nothing": first_nothing,
        "killed": killed,
        "last": last,
        "full": full,
    }
    connection.close()
