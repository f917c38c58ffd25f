"""The BigQuery settings reach dbt and the platform (no emulator needed)."""

from pathlib import Path

import pytest

from mta_lake.core.mart.bigquery_lake import week_uri
from mta_lake.core.mart.dbt_project import AdapterNotInstalled, dbt_command, warehouse_from_settings
from mta_lake.core.settings import Settings, SettingsError


def settings(tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "MTA_LAKE_URL": "gs://bucket/lake",
            "MTA_WAREHOUSE_PATH": str(tmp_path / "mta.duckdb"),
            "MTA_WAREHOUSE_TARGET": "bigquery",
            **extra,
        }
    )


def test_the_clean_layer_mode_reaches_dbt_as_a_var_and_defaults_to_the_external_table(tmp_path: Path) -> None:
    assert warehouse_from_settings(settings(tmp_path)).dbt_vars()["bigquery_clean_layer"] == "external_table"
    loaded = settings(tmp_path, MTA_BIGQUERY_CLEAN_LAYER="load_job")
    assert warehouse_from_settings(loaded).dbt_vars()["bigquery_clean_layer"] == "load_job"
    with pytest.raises(
        SettingsError, match="MTA_BIGQUERY_CLEAN_LAYER='copy': expected external_table or load_job"
    ):
        settings(tmp_path, MTA_BIGQUERY_CLEAN_LAYER="copy")


def test_the_bigquery_target_runs_the_dbt_it_is_given(tmp_path: Path) -> None:
    dbt = tmp_path / "venv" / "bin" / "dbt"
    warehouse = warehouse_from_settings(settings(tmp_path, MTA_BIGQUERY_DBT_EXECUTABLE=str(dbt)))
    with pytest.raises(AdapterNotInstalled, match="MTA_BIGQUERY_DBT_EXECUTABLE"):
        warehouse.check_adapter()  # not there yet
    dbt.parent.mkdir(parents=True)
    dbt.write_text("#!/bin/sh\n")
    dbt.chmod(0o755)
    warehouse.check_adapter()
    assert dbt_command(warehouse, ["build"], tmp_path / "target")[0] == str(dbt)
    # The DuckDB targets keep the platform's own dbt whatever the setting says.
    duckdb = warehouse_from_settings(
        settings(tmp_path, MTA_WAREHOUSE_TARGET="duckdb_gcs", MTA_BIGQUERY_DBT_EXECUTABLE=str(dbt))
    )
    assert dbt_command(duckdb, ["build"], tmp_path / "target")[0] != str(dbt)


def test_a_week_is_loaded_from_its_object_in_the_lake() -> None:
    assert (
        week_uri("gs://bucket/lake/", "2024-01-06")
        == "gs://bucket/lake/clean/turnstile_readings/week=2024-01-06/readings.parquet"
    )
    with pytest.raises(ValueError, match="reads the lake from GCS"):
        week_uri("/srv/lake", "2024-01-06")
