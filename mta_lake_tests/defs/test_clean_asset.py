"""``turnstile_readings`` on top of ``raw_turnstile``, materialised in-process into both lakes."""

import gzip

import google_crc32c
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from mta_lake.core.clean import output_data_version
from mta_lake.core.cleaning import CleanReport, RunCleaning
from mta_lake.core.lake import Lake
from mta_lake.core.layout import clean_quarantine_key, clean_readings_key, raw_key
from mta_lake.defs.clean.assets import turnstile_readings
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import MtaSource, lake_resource_from_env
from mta_lake_harness.mirror import MtaMirror

READINGS = AssetKey("turnstile_readings")
RANGE = {
    "dagster/asset_partition_range_start": "2017-05-27",
    "dagster/asset_partition_range_end": "2017-06-03",
}
NEW_WEEK, NEXT_WEEK, OLD_WEEK = "2017-05-27", "2017-06-03", "2011-05-21"


@pytest.fixture
def resources(mirror: MtaMirror, lake_url: str, sample_files: dict[str, bytes]) -> dict[str, object]:
    # The next week: the first 2,000 lines of the same real sample, under the next file name.
    lines = sample_files["turnstile_170603.txt"].splitlines(keepends=True)
    mirror.add("turnstile_170610.txt", b"".join(lines[:2001]))
    return {
        "mta_source": MtaSource(site_url=mirror.url, max_retries=0),
        "lake": lake_resource_from_env({"MTA_LAKE_URL": lake_url}),
    }


def clean_only(resources: dict[str, object], instance: DagsterInstance, week: str, **options: object):
    """A run of turnstile_readings alone (its raw week landed in an earlier run, or not at all)."""
    return materialize(
        [turnstile_readings, raw_turnstile],
        selection=[turnstile_readings],
        resources=resources,
        instance=instance,
        partition_key=week,
        **options,
    )


def readings_of(lake: Lake, week: str):
    with lake.open_read(clean_readings_key(week)) as stream:
        return pq.read_table(stream)


def latest_metadata(instance: DagsterInstance, week: str) -> dict[str, object]:
    record = instance.fetch_materializations(READINGS, limit=100).records
    for entry in record:
        materialization = entry.event_log_entry.asset_materialization
        if materialization is not None and materialization.partition == week:
            return {name: value.value for name, value in materialization.metadata.items()}
    raise AssertionError(f"no materialisation of {week}")


def test_clean_weeks_follow_their_raw_weeks_in_the_same_ranged_run(
    resources: dict[str, object], lake: Lake, instance: DagsterInstance, sample_files: dict[str, bytes]
) -> None:
    result = materialize(
        [raw_turnstile, turnstile_readings], resources=resources, instance=instance, tags=RANGE
    )
    assert result.success
    # Not skipped: the clean step ran in the same run as the raw step.
    assert instance.get_materialized_partitions(READINGS) == {NEW_WEEK, NEXT_WEEK}
    new = readings_of(lake, NEW_WEEK)
    data_lines = len(sample_files["turnstile_170603.txt"].splitlines()) - 1
    assert new.num_rows == data_lines  # one reading per new-format line, none lost
    assert readings_of(lake, NEXT_WEEK).num_rows == 2000
    metadata = latest_metadata(instance, NEW_WEEK)
    assert metadata["readings_written"] == data_lines and metadata["lines_quarantined"] == 0
    assert metadata["status"] == "cleaned"
    assert metadata["dagster/uri"] == lake.uri(clean_readings_key(NEW_WEEK))
    assert lake.stat(clean_quarantine_key(NEW_WEEK)) is not None


def test_clean_week_in_a_later_run_and_again_does_no_work(
    resources: dict[str, object], lake: Lake, instance: DagsterInstance, mirror: MtaMirror
) -> None:
    assert materialize(
        [raw_turnstile], resources=resources, instance=instance, partition_key=OLD_WEEK
    ).success
    raw_crc = lake.list("raw/")[0].metadata["source_crc32c"]
    first = clean_only(resources, instance, OLD_WEEK)
    assert first.success
    stored = lake.stat(clean_readings_key(OLD_WEEK))
    assert stored is not None and stored.metadata["data_version"] == output_data_version(raw_crc)
    table = readings_of(lake, OLD_WEEK)
    assert table.num_rows > 999  # up to eight readings per old-format line
    sources = table.column("station_source").to_pylist()
    # The old format names no station: every row's comes from the reference mapping, or none.
    assert "file" not in sources
    assert sum(source.startswith("mapping") for source in sources) > 0.9 * len(sources)
    record = instance.get_latest_data_version_record(READINGS, partition_key=OLD_WEEK)
    assert record is not None
    assert record.event_log_entry.asset_materialization.tags["dagster/data_version"] == output_data_version(
        raw_crc
    )
    again = clean_only(resources, instance, OLD_WEEK)
    assert again.success
    assert latest_metadata(instance, OLD_WEEK)["status"] == "unchanged"
    unchanged = lake.stat(clean_readings_key(OLD_WEEK))
    assert unchanged is not None and unchanged.updated == stored.updated  # not rewritten


def test_a_week_without_its_raw_file_fails_naming_it(
    resources: dict[str, object], lake: Lake, instance: DagsterInstance
) -> None:
    result = clean_only(resources, instance, NEW_WEEK, raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert "week 2017-05-27" in message and "no raw file" in message
    assert lake.list("clean/") == []


def test_a_raw_object_landed_by_hand_without_a_crc_is_cleaned_with_one_computed(
    lake: Lake, sample_files: dict[str, bytes]
) -> None:
    data = sample_files["turnstile_150919.txt"]
    with lake.writer(raw_key("turnstile_150919.txt")) as pending:  # no metadata at all
        pending.write(gzip.compress(data))
    (report,) = list(RunCleaning(["2015-09-12"], lake))
    assert isinstance(report, CleanReport) and report.status == "cleaned"
    assert report.raw_crc32c == f"{google_crc32c.value(data):08x}"
    assert report.data_version == output_data_version(report.raw_crc32c)
