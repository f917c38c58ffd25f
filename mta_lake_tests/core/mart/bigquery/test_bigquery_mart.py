"""The mart's ``bigquery`` target built for real against the BigQuery emulator ``bqemulator``.

Once for the module (about two minutes on 2 cores): fake-gcs-server holds the lake (its objects as files,
which the emulator's load jobs read as ``gs://``), bqemulator runs from ``.venv-bigquery/``, then:

1. the first weeks (2011-05-21, 2017-05-27, the real samples cleaned by the real clean layer) are written
   to the bucket, loaded into BigQuery by load jobs (``MTA_BIGQUERY_CLEAN_LAYER=load_job``: the emulator has
   no external tables) and ``dbt build --full-refresh --target bigquery`` runs every model, the seed and
   every data test;
2. one more week (2023-12-30, a whole week whose days are in the MTA's daily file) lands in the bucket and
   a Dagster weekly run of it (the code location's ``ridership_mart`` through dagster-dbt, in its own
   process with the settings of a BigQuery deployment) loads it and applies it incrementally (MERGE);
3. the same two steps on the DuckDB target, over the same weeks in a folder: the reference.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mta_lake.core.layout import clean_readings_key
from mta_lake.core.mart.bigquery_lake import bigquery_client, prepare_clean_layer
from mta_lake.core.mart.dbt_project import (
    Warehouse,
    full_rebuild_args,
    incremental_build_args,
    run_dbt,
    warehouse_from_settings,
)
from mta_lake.core.settings import Settings
from mta_lake_harness.bigquery import DBT, PROJECT, BigQueryEmulator, require_venv
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_tests.core.mart.real_weeks import clean_parquet, write_real_weeks

FIRST_WEEKS = [date(2011, 5, 21), date(2017, 5, 27)]
NEXT_WEEK = date(2023, 12, 30)
DATASET = "mta_mart"
COMPARED = {
    "station_daily_ridership": ("service_date", "station"),
    "system_daily_ridership": ("service_date", "mode"),
}
MODELS = {
    "turnstile_week_last_readings",
    "turnstile_intervals",
    "station_daily_ridership",
    "system_daily_ridership",
    "subway_vs_mta_daily",
}

WEEKLY_RUN = """
import json, sys, warnings
warnings.filterwarnings("ignore")
from dagster import DagsterInstance, materialize
import mta_lake.definitions  # the whole code location loads, with the bigquery target
from mta_lake.defs.mart.assets import dbt_resource, ridership_mart
week = sys.argv[1]
with DagsterInstance.ephemeral() as instance:
    instance.add_dynamic_partitions("turnstile_weeks", [week])  # published (the index sensor's job)
    result = materialize([ridership_mart], resources={"dbt": dbt_resource()}, instance=instance,
                         partition_key=week, raise_on_error=False)
    checks = [{"name": e.check_name, "passed": e.passed, "severity": e.severity.value}
              for e in result.get_asset_check_evaluations()]
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
    logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    print("RESULT:" + json.dumps({"success": result.success, "checks": checks, "materialized": materialized,
                                  "logs": logs}))
"""


def normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows sorted, floats rounded (the two engines may differ in the last bits of a ratio)."""
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows)


def duckdb_rows(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    tables = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for table in COMPARED:
            result = connection.execute(f"select * from {table}")
            columns = [column[0] for column in result.description]
            tables[table] = (columns, normalised(result.fetchall()))
    return tables


def bigquery_rows(client: Any, columns: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """The same columns, in the same order, from the emulator."""
    tables = {}
    for table, names in columns.items():
        query = f"select {', '.join(names)} from `{PROJECT}`.`{DATASET}`.`{table}`"
        tables[table] = normalised([tuple(row.values()) for row in client.query(query).result()])
    return tables


def run_results(warehouse: Warehouse) -> dict[str, str]:
    """The last dbt invocation's statuses, by node name."""
    data = json.loads((warehouse.work_dir / "target" / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[2]: result["status"] for result in data}


def changed_dates(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> set[date]:
    """The service dates (first column) whose rows differ between two snapshots of a table."""
    return {row[0] for row in set(before) ^ set(after)}


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_venv()
    root = tmp_path_factory.mktemp("bigquery")
    gcs_root = root / "gcs"
    gcs_root.mkdir()
    gcs = FakeGCS(root / "fake-gcs.log", filesystem_root=gcs_root).start()
    emulator = None
    names = (
        "STORAGE_EMULATOR_HOST",
        "BIGQUERY_EMULATOR_HOST",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "MTA_GCS_SERVICE_ACCOUNT_JSON",
    )
    previous = {name: os.environ.get(name) for name in names}
    try:
        emulator = BigQueryEmulator(root / "bqemulator.log", gcs_root).start()
        os.environ["STORAGE_EMULATOR_HOST"] = gcs.url
        os.environ["BIGQUERY_EMULATOR_HOST"] = emulator.url
        os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        os.environ.pop("MTA_GCS_SERVICE_ACCOUNT_JSON", None)
        bucket = gcs.create_bucket()
        blobs = gcs.client().bucket(bucket)
        settings_env = {
            "MTA_LAKE_URL": f"gs://{bucket}/lake",
            "MTA_WAREHOUSE_TARGET": "bigquery",
            "MTA_WAREHOUSE_PATH": str(root / "warehouse" / "mta.duckdb"),  # the lock file and dbt's folders
            "MTA_BIGQUERY_PROJECT": PROJECT,
            "MTA_BIGQUERY_DATASET": DATASET,
            "MTA_BIGQUERY_CLEAN_LAYER": "load_job",
            "MTA_BIGQUERY_DBT_EXECUTABLE": str(DBT),
        }
        settings = Settings.from_env(settings_env)
        warehouse = warehouse_from_settings(settings)
        client = bigquery_client(settings)

        def land(weeks: list[date]) -> None:
            for week in weeks:
                blobs.blob(f"lake/{clean_readings_key(week.isoformat())}").upload_from_string(
                    clean_parquet(week)
                )

        # 1. the first weeks: loaded, then every model, the seed and every data test built.
        land(FIRST_WEEKS)
        loaded = prepare_clean_layer(settings, None)
        completed = run_dbt(warehouse, full_rebuild_args(warehouse))
        assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
        first_results = run_results(warehouse)

        # 3. (first) the DuckDB reference: the same weeks in a folder, the same two steps.
        reference = Warehouse(
            lake_url=str(root / "lake"), path=root / "duckdb" / "mta.duckdb", work_dir=root / "duckdb-dbt"
        )
        write_real_weeks(root / "lake", FIRST_WEEKS)
        completed = run_dbt(reference, full_rebuild_args(reference))
        assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
        duck_before = duckdb_rows(reference.path)
        columns = {table: names for table, (names, _) in duck_before.items()}
        bq_before = bigquery_rows(client, columns)
        write_real_weeks(root / "lake", [NEXT_WEEK])
        completed = run_dbt(reference, incremental_build_args(reference, [NEXT_WEEK]))
        assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
        duck_after = duckdb_rows(reference.path)

        # 2. one more week, by a Dagster weekly run of the bigquery target.
        land([NEXT_WEEK])
        env = {**os.environ, **settings_env, "DAGSTER_HOME": str(root)}
        process = subprocess.run(
            [sys.executable, "-c", WEEKLY_RUN, NEXT_WEEK.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
        (line,) = [line for line in process.stdout.splitlines() if line.startswith("RESULT:")]
        weekly = json.loads(line.removeprefix("RESULT:"))
        bq_after = bigquery_rows(client, columns)
        yield {
            "loaded": loaded,
            "first_results": first_results,
            "weekly": weekly,
            "duck_before": {table: rows for table, (_, rows) in duck_before.items()},
            "duck_after": {table: rows for table, (_, rows) in duck_after.items()},
            "bq_before": bq_before,
            "bq_after": bq_after,
            "client": client,
        }
    finally:
        if emulator:
            emulator.stop()
        gcs.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_the_first_build_runs_every_model_the_seed_and_every_data_test(emulated: dict[str, Any]) -> None:
    results = emulated["first_results"]
    assert emulated["loaded"] == len(FIRST_WEEKS)  # every week in the lake, by a load job each
    assert MODELS | {"mta_daily_ridership"} <= set(results)
    tests = {name for name in results if name.startswith(("assert_", "warn_"))}
    assert len(tests) == 11, sorted(results)
    assert {results[name] for name in MODELS | {"mta_daily_ridership"}} == {"success"}
    assert {results[name] for name in tests if name.startswith("assert_")} == {"pass"}
    assert all(results[name] in ("pass", "warn") for name in tests)


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_the_first_weeks_give_the_rows_of_the_duckdb_target(emulated: dict[str, Any], table: str) -> None:
    assert emulated["bq_before"][table], "no rows"
    assert emulated["bq_before"][table] == emulated["duck_before"][table]


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_after_the_incremental_week_the_rows_are_the_duckdb_targets(
    emulated: dict[str, Any], table: str
) -> None:
    assert emulated["bq_after"][table] == emulated["duck_after"][table]
    assert len(emulated["bq_after"][table]) > len(emulated["bq_before"][table])


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_the_incremental_week_changes_exactly_the_service_dates_it_touches(
    emulated: dict[str, Any], table: str
) -> None:
    changed = changed_dates(emulated["bq_before"][table], emulated["bq_after"][table])
    # The week's seven service days (its readings around midnight may reach the day before or after).
    assert {NEXT_WEEK + timedelta(days=n) for n in range(7)} <= changed
    assert min(changed) >= NEXT_WEEK - timedelta(days=1) and max(changed) <= NEXT_WEEK + timedelta(days=7)
    # ... exactly those DuckDB's incremental run changes; every earlier day's rows are untouched.
    assert changed == changed_dates(emulated["duck_before"][table], emulated["duck_after"][table])
    untouched = [row for row in emulated["bq_before"][table] if row[0] < min(changed)]
    assert untouched and set(untouched) <= set(emulated["bq_after"][table])


def test_a_dagster_weekly_run_on_bigquery_reports_its_asset_checks(emulated: dict[str, Any]) -> None:
    weekly = emulated["weekly"]
    assert weekly["success"], weekly["logs"][-20:]
    assert MODELS | {"mta_daily_ridership"} <= set(weekly["materialized"])
    assert any("1 week(s) loaded into BigQuery by load jobs from GCS" in line for line in weekly["logs"])
    checks = {check["name"]: check for check in weekly["checks"]}
    blocking = {name for name in checks if name.startswith("assert_")}
    assert len(blocking) == 6 and all(checks[name]["passed"] for name in blocking)
    assert {name for name in checks if name.startswith("warn_")} >= {
        "warn_low_coverage_stations",
        "warn_system_entries_band",
        "warn_exit_entry_ratio_band",
        "warn_station_week_jump",
    }


def test_the_mart_compares_the_week_with_the_mtas_daily_figures(emulated: dict[str, Any]) -> None:
    """subway_vs_mta_daily on BigQuery: the seed (its column types in BigQuery's spelling) joined to the
    week's subway days."""
    rows = list(
        emulated["client"]
        .query(
            f"select service_date, mta_subway_ridership from `{PROJECT}`.`{DATASET}`.`subway_vs_mta_daily`"
        )
        .result()
    )
    dates = {row[0] for row in rows}
    assert {NEXT_WEEK + timedelta(days=n) for n in range(7)} <= dates
    assert all(row[1] and row[1] > 1_000_000 for row in rows if row[0] >= NEXT_WEEK)
