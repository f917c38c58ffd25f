"""``watch_mta_index`` on a real Dagster instance, a real lake and the MTA mirror: the partitions are the
published weeks, and a source that stops is said once."""

import gzip
from datetime import datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, Definitions, build_sensor_context

from mta_lake.core import source_state, weeks
from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.defs.automation.index_sensor import watch_mta_index
from mta_lake.defs.clean.assets import turnstile_readings
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import LocalLakeResource, MtaSource
from mta_lake_harness.mirror import MtaMirror, Status

PUBLISHED = ("turnstile_240113.txt", "turnstile_240127.txt", "turnstile_240203.txt")
"""Weeks 2024-01-06, 2024-01-20 and 2024-01-27; 2024-01-13 (turnstile_240120.txt) is withheld."""


@pytest.fixture
def mirror_and_lake(tmp_path: Path, sample_files: dict[str, bytes]):
    data = sample_files["turnstile_170603.txt"]
    lake = LocalLake(tmp_path / "lake")
    # In the lake but no longer on the index: a landed week is never hidden.
    with lake.writer(raw_key("turnstile_170603.txt")) as pending:
        pending.write(gzip.compress(data))
    with MtaMirror() as mirror:
        for name in PUBLISHED:
            mirror.add(name, data)
        yield mirror, lake


def watch(instance: DagsterInstance, mirror: MtaMirror, lake: LocalLake, cursor: str | None = None):
    resources = {
        "mta_source": MtaSource(site_url=mirror.url, max_retries=0),
        "lake": LocalLakeResource(path=str(lake.root)),
    }
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=Definitions(
            assets=[raw_turnstile, turnstile_readings], sensors=[watch_mta_index], resources=resources
        ),
        resources=resources,
    )
    result = watch_mta_index.evaluate_tick(context)
    # Apply what the daemon applies: the dynamic-partition requests, in order.
    for request in result.dynamic_partitions_requests or []:
        if type(request).__name__ == "DeleteDynamicPartitionsRequest":
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
        else:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def partitions(instance: DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(PARTITIONS_NAME))


def test_the_first_tick_makes_the_partitions_the_published_and_landed_weeks(empty_instance, mirror_and_lake):
    mirror, lake = mirror_and_lake
    first = watch(empty_instance, mirror, lake)
    assert partitions(empty_instance) == ["2017-05-27", "2024-01-06", "2024-01-20", "2024-01-27"]
    # The index as read, kept in the lake for readers that must not reach the MTA (the dashboard).
    snapshot = source_state.read_snapshot(lake)
    assert snapshot is not None and [weeks.file_name(d) for d in snapshot.file_dates] == list(PUBLISHED)
    # Today the newest file is years old: said once, as an observation on raw_turnstile.
    (observation,) = first.asset_events
    assert observation.metadata["source_status"].value == "discontinued"
    assert "looks discontinued since week 2024-02-03" in observation.description
    second = watch(empty_instance, mirror, lake, first.cursor)
    assert not second.asset_events and not second.dynamic_partitions_requests
    assert second.skip_message.startswith("unchanged: ") and "4 partition(s)" in second.skip_message
    # The MTA publishes again, the week that just ended: a partition, and said once.
    latest = weeks.latest_ended_week(datetime.now(weeks.NEW_YORK))
    mirror.add(weeks.file_name(weeks.week_end(latest)), b"x")
    resumed = watch(empty_instance, mirror, lake, second.cursor)
    (observation,) = resumed.asset_events
    assert observation.metadata["source_status"].value == "publishing"
    assert partitions(empty_instance)[-1] == latest.isoformat()


def test_a_withheld_week_is_removed_once_no_run_targets_it(empty_instance, mirror_and_lake):
    from dagster._core.storage.dagster_run import DagsterRun

    mirror, lake = mirror_and_lake
    mirror.add("turnstile_240120.txt", b"x")
    watch(empty_instance, mirror, lake)
    assert "2024-01-13" in partitions(empty_instance)
    mirror.remove("turnstile_240120.txt")
    run = DagsterRun(
        job_name="turnstile_week_job",
        run_id="landing-2024-01-13",
        status=DagsterRunStatus.STARTED,
        tags={"dagster/partition": "2024-01-13"},
    )
    empty_instance.add_run(run)
    watch(empty_instance, mirror, lake)
    assert "2024-01-13" in partitions(empty_instance)  # a run in flight targets it
    empty_instance.report_run_failed(run)  # the run ends
    watch(empty_instance, mirror, lake)
    assert partitions(empty_instance) == ["2017-05-27", "2024-01-06", "2024-01-20", "2024-01-27"]


def test_a_week_published_late_takes_its_place_in_week_order(empty_instance, mirror_and_lake):
    mirror, lake = mirror_and_lake
    watch(empty_instance, mirror, lake)
    mirror.add("turnstile_240120.txt", b"x")
    watch(empty_instance, mirror, lake)
    assert partitions(empty_instance) == [
        "2017-05-27",
        "2024-01-06",
        "2024-01-13",
        "2024-01-20",
        "2024-01-27",
    ]


def test_an_unreadable_index_removes_nothing(empty_instance, mirror_and_lake):
    mirror, lake = mirror_and_lake
    watch(empty_instance, mirror, lake)
    before = partitions(empty_instance)
    mirror.index_faults.extend([Status(503)] * 3)
    result = watch(empty_instance, mirror, lake)
    assert partitions(empty_instance) == before
    assert "could not be read" in result.skip_message


def test_watch_sensor_is_registered_and_running_by_default() -> None:
    from dagster import DefaultSensorStatus

    from mta_lake.definitions import defs

    sensor = defs.resolve_sensor_def("watch_mta_index")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
