"""The mart's Dagster assets (dagster-dbt over ``mta_lake/warehouse``): what a run shows in the UI.

Two runs of every layer through Dagster, from an MTA mirror on 127.0.0.1, into one warehouse (about
40 s on 2 cores): week 2017-05-27 (a sample of 13,818 readings: no day in the MTA's daily file, no
whole year, so both comparisons compare nothing; its days are far below the subway's era band), then the
full week 2024-01-06 (every day in the MTA's daily file). Checked: row counts and column types on every
mart asset, each week's entries and exits per mode and its busiest stations, a description on every
check, failing rows in a failed warning's metadata, and comparisons with nothing to compare skipped.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, materialize
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from mta_lake.core.layout import MART_MODELS
from mta_lake.defs.clean.assets import turnstile_readings
from mta_lake.defs.mart.assets import dbt_resource, matches_mta_annual_ridership, ridership_mart
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import MtaSource, lake_resource_from_env
from mta_lake_harness.instances import instance_with_every_week
from mta_lake_harness.mirror import MtaMirror

SYSTEM = AssetKey("system_daily_ridership")
STATIONS = AssetKey("station_daily_ridership")
SMALL_WEEK = "2017-05-27"  # the real sample: 13,818 readings of 05/27-06/02/2017
FULL_WEEK = "2024-01-06"  # the complete week turnstile_240113.txt
NOTHING_TO_COMPARE = ("warn_subway_vs_mta_ratio_band", "matches_mta_annual_ridership")


def materialization_metadata(instance: DagsterInstance, key: AssetKey, week: str) -> dict[str, Any]:
    from dagster import AssetRecordsFilter

    (record,) = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[week]), limit=1
    ).records
    return dict(record.event_log_entry.asset_materialization.metadata)


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, sample_files: dict[str, bytes], full_week_files: dict[str, Path]
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("mart-asset")
    with (
        pytest.MonkeyPatch.context() as env,
        instance_with_every_week() as instance,
        MtaMirror() as mirror,
    ):
        env.setenv("MTA_LAKE_URL", str(root / "lake"))
        env.setenv("MTA_WAREHOUSE_PATH", str(root / "warehouse" / "mta.duckdb"))
        mirror.add("turnstile_170603.txt", sample_files["turnstile_170603.txt"])
        mirror.add("turnstile_240113.txt", full_week_files["turnstile_240113.txt"].read_bytes())
        resources = {
            "mta_source": MtaSource(site_url=mirror.url, max_retries=0),
            "lake": lake_resource_from_env({"MTA_LAKE_URL": str(root / "lake")}),
            "dbt": dbt_resource(),
        }
        results = {}
        for week in (SMALL_WEEK, FULL_WEEK):
            results[week] = materialize(
                [raw_turnstile, turnstile_readings, ridership_mart, matches_mta_annual_ridership],
                resources=resources,
                instance=instance,
                partition_key=week,
            )
            assert results[week].success, week
        yield {"instance": instance, "results": results, "warehouse": root / "warehouse" / "mta.duckdb"}


def test_every_mart_asset_has_its_row_count_and_column_types(runs: dict[str, Any]) -> None:
    instance, warehouse = runs["instance"], runs["warehouse"]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name in MART_MODELS:
            metadata = materialization_metadata(instance, AssetKey(name), FULL_WEEK)
            (count,) = connection.execute(f"select count(*) from {name}").fetchone()
            assert metadata["dagster/row_count"].value == count > 0, name
            columns = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
            described = dict(
                connection.execute(f"select column_name, column_type from (describe {name})").fetchall()
            )
            # dbt-duckdb names DuckDB's VARCHAR the SQL standard's way, with a nominal length.
            shown = {
                column: kind.upper().replace("CHARACTER VARYING(256)", "VARCHAR")
                for column, kind in columns.items()
            }
            assert shown == described, name


def test_each_week_records_entries_and_exits_per_mode(runs: dict[str, Any]) -> None:
    instance, warehouse = runs["instance"], runs["warehouse"]
    metadata = materialization_metadata(instance, SYSTEM, FULL_WEEK)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        sums = {
            mode: (entries, exits)
            for mode, entries, exits in connection.execute(
                """select mode, sum(entries), sum(exits) from system_daily_ridership
                   where service_date between '2024-01-06' and '2024-01-12' group by 1"""
            ).fetchall()
        }
    assert set(sums) == {"subway", "PATH", "SIR", "tram"}
    for mode in ("subway", "PATH", "SIR", "tram", "bus"):
        entries, exits = sums.get(mode, (0, 0))
        assert (metadata[f"{mode.lower()}_entries"].value, metadata[f"{mode.lower()}_exits"].value) == (
            entries,
            exits,
        )
    assert metadata["service_days"].value == 7
    # The 2017 sample's week has its own figures (a partial week: far fewer riders).
    small = materialization_metadata(instance, SYSTEM, SMALL_WEEK)
    assert 0 < small["subway_entries"].value < metadata["subway_entries"].value


def test_each_week_shows_its_busiest_stations(runs: dict[str, Any]) -> None:
    instance, warehouse = runs["instance"], runs["warehouse"]
    table = materialization_metadata(instance, STATIONS, FULL_WEEK)["busiest_stations"].value
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        top = connection.execute(
            """select station, arg_max(station_name, service_date), sum(exits) from station_daily_ridership
               where service_date between '2024-01-06' and '2024-01-12'
               group by 1 order by 3 desc, 1 limit 2"""
        ).fetchall()
    lines = table.splitlines()
    assert lines[4].startswith(f"| {top[0][1]} ({top[0][0]}) |") and f"{top[0][2]:,}" in lines[4]
    assert lines[5].startswith(f"| {top[1][1]} ({top[1][0]}) |")
    assert len(lines) == 4 + 10


def test_every_check_has_a_description() -> None:
    specs = list(ridership_mart.check_specs) + list(matches_mta_annual_ridership.check_specs)
    assert len(specs) >= 12
    assert all(spec.description and "No description" not in spec.description for spec in specs)
    descriptions = {spec.name: spec.description for spec in specs}
    assert descriptions["assert_run_accounting"].startswith("Blocking.")
    assert "nothing to compare" in descriptions["warn_subway_vs_mta_ratio_band"]


def test_a_failed_warning_carries_its_failing_rows(runs: dict[str, Any]) -> None:
    """2017-05-27 is a sample of a few stations: every day is far below the subway's era band."""
    evaluations = {e.check_name: e for e in runs["results"][SMALL_WEEK].get_asset_check_evaluations()}
    band = evaluations["warn_system_entries_band"]
    assert not band.passed
    with duckdb.connect(str(runs["warehouse"]), read_only=True) as connection:
        days = connection.execute(
            "select service_date, entries from system_daily_ridership where mode = 'subway' "
            "and service_date between '2017-05-27' and '2017-06-02' order by 1"
        ).fetchall()
    table = band.metadata["failing_rows"].value
    assert (
        band.metadata["failing_rows_total"].value == band.metadata["dagster_dbt/failed_row_count"].value == 7
    )
    for day, entries in days:
        assert f"| {day} | {entries:,} |" in table or f"| {day} | {entries} |" in table


def test_checks_with_nothing_to_compare_are_skipped_not_passed(runs: dict[str, Any]) -> None:
    instance, result = runs["instance"], runs["results"][SMALL_WEEK]
    evaluated = {e.check_name for e in result.get_asset_check_evaluations()}
    assert not evaluated & set(NOTHING_TO_COMPARE)
    logs = " ".join(entry.user_message for entry in instance.all_logs(result.run_id))
    for check_name, asset in (
        ("warn_subway_vs_mta_ratio_band", "subway_vs_mta_daily"),
        ("matches_mta_annual_ridership", "station_daily_ridership"),
    ):
        assert f"{check_name}: skipped, nothing to compare" in logs
        # Planned for the run and never evaluated in a run that succeeded: the UI resolves it to Skipped.
        records = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey(asset), check_name), limit=10
        )
        (record,) = [r for r in records if r.run_id == result.run_id]
        assert record.status == AssetCheckExecutionRecordStatus.PLANNED and result.success
    # The full week's days are in the MTA's file: compared, in band.
    full = {e.check_name: e for e in runs["results"][FULL_WEEK].get_asset_check_evaluations()}
    assert full["warn_subway_vs_mta_ratio_band"].passed
    assert "matches_mta_annual_ridership" not in full  # still no whole year 2013-2018
