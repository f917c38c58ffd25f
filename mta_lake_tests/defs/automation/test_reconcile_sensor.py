"""``reconcile_raw_turnstile`` on a real Dagster instance, a real lake and the MTA mirror."""

import gzip
import json
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, Definitions, build_sensor_context

from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import WEEKLY_ASSETS, raw_key
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.defs.automation.in_flight import RECONCILE_TAG
from mta_lake.defs.automation.reconcile_sensor import reconcile_raw_turnstile
from mta_lake.defs.clean.assets import turnstile_readings
from mta_lake.defs.mart.assets import dbt_resource, ridership_mart
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import LocalLakeResource, MtaSource
from mta_lake_harness.mirror import MtaMirror

RAW = AssetKey("raw_turnstile")
READINGS = AssetKey("turnstile_readings")


@pytest.fixture
def prepared(tmp_path: Path, sample_files: dict[str, bytes], instance: DagsterInstance):
    """Five weeks, one in each state.

    2024-01-06 landed (lake + recorded); 2024-01-13 in the lake only; 2024-01-20 recorded, gone
    from the lake; 2024-01-27 published and absent; 2024-02-03 not published.
    """
    data = sample_files["turnstile_170603.txt"]
    lake = LocalLake(tmp_path / "lake")
    for name in ("turnstile_240113.txt", "turnstile_240120.txt"):
        with lake.writer(raw_key(name)) as pending:
            pending.write(gzip.compress(data))
            pending.metadata.update(
                {"source_crc32c": "0badcafe", "source_bytes": str(len(data)), "data_rows": "9"}
            )
    for week in ("2024-01-06", "2024-01-20"):
        instance.report_runless_asset_event(AssetMaterialization(RAW, partition=week))
    with MtaMirror() as mirror:
        for name in (
            "turnstile_240113.txt",
            "turnstile_240120.txt",
            "turnstile_240127.txt",
            "turnstile_240203.txt",
        ):
            mirror.add(name, data)
        yield mirror, lake


def sensor_context(
    instance: DagsterInstance, site_url: str, lake: LocalLake, cursor: str | None = None, **source
):
    resources = {
        "mta_source": MtaSource(site_url=site_url, **source),
        "lake": LocalLakeResource(path=str(lake.root)),
        "dbt": dbt_resource(),
    }
    return build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=Definitions(
            assets=[raw_turnstile, turnstile_readings, ridership_mart],
            sensors=[reconcile_raw_turnstile],
            resources=resources,
        ),
        resources=resources,
    )


def evaluate(instance: DagsterInstance, mirror: MtaMirror, lake: LocalLake, cursor: str | None = None):
    context = sensor_context(instance, mirror.url, lake, cursor)
    # evaluate_tick, as the daemon does: it also validates what the sensor returns.
    return reconcile_raw_turnstile.evaluate_tick(context)


def requested_weeks(result, asset_key: AssetKey = RAW) -> list[str]:
    """The weeks requested of ``asset_key``; a request of raw weeks also asks for every layer above."""
    weeks: list[str] = []
    for request in result.run_requests or []:
        assert request.tags[RECONCILE_TAG] == "true"
        subsets = request.asset_graph_subset.partitions_subsets_by_asset_key
        if RAW in subsets:
            assert set(subsets) == {AssetKey(key) for key in WEEKLY_ASSETS}
            assert set(subsets[RAW].get_partition_keys()) == set(subsets[READINGS].get_partition_keys())
        else:
            assert set(subsets) == {
                AssetKey(key) for key in WEEKLY_ASSETS[1:]
            }  # the clean weeks and the mart
        if asset_key in subsets and (asset_key == RAW or RAW not in subsets):
            weeks.extend(subsets[asset_key].get_partition_keys())
    return sorted(weeks)


def test_sensor_requests_missing_and_lost_records_unrecorded(instance, prepared, capfd) -> None:
    mirror, lake = prepared
    result = evaluate(instance, mirror, lake)
    # Published and absent (2024-01-27), recorded but gone (2024-01-20): one asset backfill.
    assert requested_weeks(result) == ["2024-01-20", "2024-01-27"]
    # In the lake, unknown to Dagster: recorded from the object's metadata, not downloaded.
    events = result.asset_events
    assert [e.partition for e in events] == ["2024-01-13"]
    assert events[0].metadata["source_crc32c"].value == "0badcafe"
    assert events[0].metadata["data_rows"].value == 9
    assert mirror.requests["/developers/data/nyct/turnstile/turnstile_240120.txt"] == 0
    # Not published (2024-02-03) and landed (2024-01-06) are left alone.
    assert "2024-02-03" not in requested_weeks(result)
    logged = capfd.readouterr().err
    assert "week 2024-01-20: Dagster recorded it as materialised" in logged
    assert "turnstile_240127.txt.gz is GONE from the lake" in logged


def test_second_tick_does_not_rerequest_missing_weeks_but_does_lost_ones(instance, prepared) -> None:
    mirror, lake = prepared
    first = evaluate(instance, mirror, lake)
    assert "2024-01-27" in json.loads(first.cursor)["requested"]
    second = evaluate(instance, mirror, lake, cursor=first.cursor)
    # 2024-01-27 waits for its retry delay; the lost week is requested again.
    assert requested_weeks(second) == ["2024-01-20"]


def test_recorded_week_stops_being_unrecorded(instance, prepared) -> None:
    mirror, lake = prepared
    first = evaluate(instance, mirror, lake)
    for event in first.asset_events:
        instance.report_runless_asset_event(event)
    assert "2024-01-13" in instance.get_materialized_partitions(RAW)
    second = evaluate(instance, mirror, lake, cursor=first.cursor)
    assert not second.asset_events


def test_index_unreadable_requests_nothing(instance, prepared) -> None:
    mirror, lake = prepared
    context = sensor_context(instance, mirror.url + "/nowhere", lake, max_retries=0)
    result = reconcile_raw_turnstile.evaluate_tick(context)
    assert requested_weeks(result) == []
    assert [e.partition for e in result.asset_events] == ["2024-01-13"]


def test_weeks_being_landed_are_left_to_their_run(instance, prepared) -> None:
    from dagster import DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun

    mirror, lake = prepared
    instance.add_run(
        DagsterRun(
            job_name="turnstile_week_job",
            run_id="running-week-2024-01-27",
            status=DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2024-01-27"},
        )
    )
    result = evaluate(instance, mirror, lake)
    assert requested_weeks(result) == ["2024-01-20"]


def test_weeks_in_the_raw_lake_without_a_clean_week_are_requested_for_cleaning(instance, prepared) -> None:
    mirror, lake = prepared
    result = evaluate(instance, mirror, lake)
    # 2024-01-06 (landed) and 2024-01-13 (in the lake, unrecorded) have a raw object and no clean
    # one: cleaned alone. The missing and lost weeks are cleaned in their landing runs instead.
    assert requested_weeks(result, READINGS) == ["2024-01-06", "2024-01-13"]
    assert {"clean:2024-01-06", "clean:2024-01-13"} <= set(json.loads(result.cursor)["requested"])
    # Requested once, not every tick.
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    second = evaluate(instance, mirror, lake, cursor=result.cursor)
    assert requested_weeks(second, READINGS) == []


def test_weeks_that_are_not_partitions_yet_wait_for_the_index_sensor(empty_instance, prepared) -> None:
    """Only partitions can be requested or recorded: the rest wait for watch_mta_index to add them."""
    mirror, lake = prepared
    empty_instance.add_dynamic_partitions(PARTITIONS_NAME, ["2024-01-20"])
    for week in ("2024-01-06", "2024-01-20"):
        empty_instance.report_runless_asset_event(AssetMaterialization(RAW, partition=week))
    result = evaluate(empty_instance, mirror, lake)
    # 2024-01-27 (missing) and 2024-01-13 (unrecorded) are not partitions: neither requested nor recorded.
    assert requested_weeks(result) == ["2024-01-20"]
    assert not result.asset_events
