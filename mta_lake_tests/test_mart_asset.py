"""The mart's Dagster assets (dagster-dbt over ``mta_lake/warehouse``) on weeks landed and cleaned in the same run."""

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from mta_lake.defs.clean.assets import turnstile_readings
from mta_lake.defs.mart.assets import dbt_resource, matches_mta_annual_ridership, ridership_mart
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import MtaSource, lake_resource_from_env
from mta_lake.tools.cli import main as mta_lake_cli
from mta_lake_tests.support.mirror import MtaMirror

SYSTEM = AssetKey("system_daily_ridership")
STATIONS = AssetKey("station_daily_ridership")
WEEK = "2017-05-27"  # the real sample: 13,818 readings of 05/27-06/02/2017


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def warehouse_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse" / "mta.duckdb"
    monkeypatch.setenv("MTA_WAREHOUSE_PATH", str(path))
    return path


def test_a_week_landed_cleaned_and_counted_in_one_run(
    mirror: MtaMirror, tmp_path: Path, warehouse_path: Path, instance: DagsterInstance, monkeypatch, capsys
) -> None:
    lake_url = str(tmp_path / "lake")
    monkeypatch.setenv("MTA_LAKE_URL", lake_url)
    resources = {
        "mta_source": MtaSource(site_url=mirror.url, max_retries=0),
        "lake": lake_resource_from_env({"MTA_LAKE_URL": lake_url}),
        "dbt": dbt_resource(),
    }
    result = materialize(
        [raw_turnstile, turnstile_readings, ridership_mart, matches_mta_annual_ridership],
        resources=resources,
        instance=instance,
        partition_key=WEEK,
    )
    assert result.success
    # Every layer of the week, in the same run.
    for key in (AssetKey("raw_turnstile"), AssetKey("turnstile_readings"), STATIONS, SYSTEM):
        assert WEEK in instance.get_materialized_partitions(key), key
    # The dbt tests ran as asset checks, and the blocking ones passed.
    evaluations = result.get_asset_check_evaluations()
    names = {evaluation.check_name: evaluation for evaluation in evaluations}
    assert {"assert_run_accounting", "assert_unique_station_day", "matches_mta_annual_ridership"} <= set(
        names
    )
    assert names["assert_run_accounting"].passed and names["assert_unique_station_day"].passed
    # The week's system ridership, as numbers the UI plots, equal to the warehouse's own sums.
    record = instance.fetch_materializations(SYSTEM, limit=1).records[0]
    metadata = {
        name: value.value for name, value in record.event_log_entry.asset_materialization.metadata.items()
    }
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        entries, exits = connection.execute(
            "select sum(entries), sum(exits) from system_daily_ridership"
        ).fetchone()
    assert metadata["system_entries"] == entries > 0 and metadata["system_exits"] == exits > 0
    # And an analyst's question, from the command line.
    code = mta_lake_cli(["ridership", "HERALD SQ", "--from", "2017-05-27", "--to", "2017-06-02"])
    assert code == 0, capsys.readouterr().err[-600:]
    printed = capsys.readouterr().out
    assert "2017-05-28" in printed and "34 ST-HERALD SQ" in printed
