"""The raw_turnstile asset, materialised in-process with an ephemeral instance, into both lakes."""

import gzip
import threading
import time

import google_crc32c
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterUnknownPartitionError,
    EventLogEntry,
    ExecuteInProcessResult,
    RetryPolicy,
    materialize,
)

from mta_lake.core import weeks
from mta_lake.core.lake import Lake
from mta_lake.core.layout import raw_key
from mta_lake.defs.raw import assets as raw_assets
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import MtaSource, lake_resource_from_env
from mta_lake_harness.mirror import MtaMirror, Status

KEY = AssetKey("raw_turnstile")
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
NEW_SAMPLE = "turnstile_170603.txt"

# Four consecutive weeks of 2017, each a distinct cut of the real sample (distinct CRCs).
RANGE_WEEKS = {
    "2017-05-27": "turnstile_170603.txt",
    "2017-06-03": "turnstile_170610.txt",
    "2017-06-10": "turnstile_170617.txt",
    "2017-06-17": "turnstile_170624.txt",
}


@pytest.fixture
def resources(mirror: MtaMirror, lake_url: str) -> dict[str, object]:
    return {
        "mta_source": MtaSource(
            site_url=mirror.url, max_retries=1, backoff_base_seconds=0.01, backoff_max_seconds=0.05
        ),
        "lake": lake_resource_from_env({"MTA_LAKE_URL": lake_url}),
    }


@pytest.fixture
def range_files(mirror: MtaMirror, sample_files: dict[str, bytes]) -> dict[str, bytes]:
    """Week -> bytes served for each of RANGE_WEEKS."""
    lines = sample_files[NEW_SAMPLE].splitlines(keepends=True)
    served = {}
    for i, (week, name) in enumerate(RANGE_WEEKS.items()):
        data = sample_files[NEW_SAMPLE] if i == 0 else b"".join(lines[: 1000 * i + 1])
        mirror.add(name, data)
        served[week] = data
    return served


def materialize_week(
    resources: dict[str, object], instance: DagsterInstance, week: str, **options: object
) -> ExecuteInProcessResult:
    """Materialise one week of raw_turnstile in-process, as the UI's Materialize button would."""
    return materialize([raw_turnstile], resources=resources, instance=instance, partition_key=week, **options)


def materializations(instance: DagsterInstance) -> list[EventLogEntry]:
    records = instance.fetch_materializations(KEY, limit=1000).records
    return [record.event_log_entry for record in records]


def metadata_of(entry: EventLogEntry) -> dict[str, object]:
    materialization = entry.asset_materialization
    assert materialization is not None
    return {name: value.value for name, value in materialization.metadata.items()}


def crc_of(data: bytes) -> str:
    return f"{google_crc32c.value(data):08x}"


def assert_week_recorded(
    entry: EventLogEntry,
    week: str,
    name: str,
    data: bytes,
    lake: Lake,
    mirror: MtaMirror,
    status: str,
    single_week: bool = True,
) -> None:
    materialization = entry.asset_materialization
    assert materialization is not None and materialization.partition == week
    metadata = metadata_of(entry)
    stored = lake.stat(raw_key(name))
    assert stored is not None
    with lake.open_read(raw_key(name)) as stream:
        assert gzip.decompress(stream.read()) == data
    assert metadata["dagster/uri"] == lake.uri(raw_key(name))
    assert metadata["source_url"] == f"{mirror.url}/data/nyct/turnstile/{name}"
    assert metadata["file_name"] == name
    assert metadata["status"] == status
    assert metadata["source_bytes"] == len(data)
    assert metadata["stored_bytes"] == stored.size
    assert metadata["data_rows"] == len(data.splitlines()) - 1
    assert metadata["source_crc32c"] == crc_of(data)
    assert isinstance(metadata["seconds"], float) and metadata["seconds"] >= 0
    assert isinstance(metadata["mb_per_s"], float) and metadata["mb_per_s"] >= 0
    assert metadata["server_size"] == len(data)
    assert str(metadata["server_etag"]).startswith('"')
    assert str(metadata["server_last_modified"]).endswith("GMT")
    assert materialization.tags is not None
    if single_week:
        # A one-week run records the source CRC32C as the week's data version; a ranged run
        # cannot give each week its own (mta_lake.defs.weekly), so only the metadata carries it.
        assert materialization.tags["dagster/data_version"] == crc_of(data)


def step_failure_message(result: ExecuteInProcessResult) -> str:
    failures = result.get_step_failure_events()
    assert len(failures) == 1
    error = failures[0].step_failure_data.error
    assert error is not None
    return error.message


def test_one_week_records_its_metadata(
    mirror: MtaMirror,
    resources: dict[str, object],
    lake: Lake,
    instance: DagsterInstance,
    sample_files: dict[str, bytes],
) -> None:
    result = materialize_week(resources, instance, "2017-05-27")
    assert result.success
    (entry,) = materializations(instance)
    assert_week_recorded(entry, "2017-05-27", NEW_SAMPLE, sample_files[NEW_SAMPLE], lake, mirror, "landed")
    # The version Dagster uses for staleness is the source CRC32C.
    record = instance.get_latest_data_version_record(KEY, partition_key="2017-05-27")
    assert record is not None
    recorded = record.event_log_entry.asset_materialization
    assert recorded is not None and recorded.tags is not None
    assert recorded.tags["dagster/data_version"] == crc_of(sample_files[NEW_SAMPLE])


def test_ranged_run_records_one_materialization_per_week(
    mirror: MtaMirror,
    resources: dict[str, object],
    lake: Lake,
    instance: DagsterInstance,
    range_files: dict[str, bytes],
) -> None:
    result = materialize(
        [raw_turnstile],
        resources=resources,
        instance=instance,
        tags={RANGE_START: "2017-05-27", RANGE_END: "2017-06-17"},
    )
    assert result.success
    entries = materializations(instance)
    by_week = {entry.asset_materialization.partition: entry for entry in entries}  # type: ignore[union-attr]
    assert len(entries) == len(RANGE_WEEKS) and set(by_week) == set(RANGE_WEEKS)
    for week, name in RANGE_WEEKS.items():
        assert_week_recorded(
            by_week[week], week, name, range_files[week], lake, mirror, "landed", single_week=False
        )
    assert len({metadata_of(e)["source_crc32c"] for e in entries}) == len(RANGE_WEEKS)
    assert all(mirror.gets(name) == 1 for name in RANGE_WEEKS.values())


def test_ranged_run_with_a_404_records_the_others_and_names_the_week(
    mirror: MtaMirror,
    resources: dict[str, object],
    lake: Lake,
    instance: DagsterInstance,
    range_files: dict[str, bytes],
) -> None:
    mirror.inject(RANGE_WEEKS["2017-06-03"], Status(404))  # listed on the index, but gone
    started = time.monotonic()
    result = materialize(
        [raw_turnstile],
        resources=resources,
        instance=instance,
        tags={RANGE_START: "2017-05-27", RANGE_END: "2017-06-17"},
        raise_on_error=False,
    )
    assert not result.success
    assert time.monotonic() - started < 20  # a 404 is not worth the run retry policy's wait
    assert mirror.gets(RANGE_WEEKS["2017-06-03"]) == 1
    recorded = {e.asset_materialization.partition for e in materializations(instance)}  # type: ignore[union-attr]
    assert recorded == {"2017-05-27", "2017-06-10", "2017-06-17"}
    message = step_failure_message(result)
    assert "week 2017-06-03" in message and "turnstile_170610.txt" in message
    assert "not published (HTTP 404)" in message
    assert "2017-06-10" not in message


def test_week_missing_from_the_index_is_not_published(
    mirror: MtaMirror, resources: dict[str, object], lake: Lake, instance: DagsterInstance
) -> None:
    result = materialize_week(resources, instance, "2017-06-03", raise_on_error=False)
    assert not result.success
    message = step_failure_message(result)
    assert "week 2017-06-03" in message and "not published" in message
    assert mirror.gets("turnstile_170610.txt") == 0
    assert materializations(instance) == []
    assert lake.list("raw/") == []


def test_irregular_pre_2013_week_lands_the_file_named_on_the_index(
    mirror: MtaMirror,
    resources: dict[str, object],
    lake: Lake,
    instance: DagsterInstance,
    sample_files: dict[str, bytes],
) -> None:
    old = sample_files["turnstile_110528.txt"]
    for name in ("turnstile_111210.txt", "turnstile_111219.txt", "turnstile_111224.txt"):
        mirror.add(name, old)
    result = materialize_week(resources, instance, "2011-12-10")
    assert result.success
    (entry,) = materializations(instance)
    assert metadata_of(entry)["file_name"] == "turnstile_111219.txt"  # a Monday, not 111217
    assert mirror.gets("turnstile_111219.txt") == 1


def test_index_unreadable_uses_the_computed_name(
    mirror: MtaMirror,
    resources: dict[str, object],
    lake: Lake,
    instance: DagsterInstance,
    sample_files: dict[str, bytes],
) -> None:
    mirror.inject("turnstile.html", Status(503), Status(503))  # every attempt (max_retries=1)
    result = materialize_week(resources, instance, "2017-05-27")
    assert result.success
    assert mirror.requests["/developers/turnstile.html"] == 2
    (entry,) = materializations(instance)
    assert metadata_of(entry)["file_name"] == NEW_SAMPLE


@pytest.mark.parametrize("bad_key", ["2017-05-28", "not-a-week", "2010-04-24"])
def test_partition_key_not_a_turnstile_week_fails_clearly(
    bad_key: str, resources: dict[str, object], instance: DagsterInstance, lake: Lake
) -> None:
    with pytest.raises(DagsterUnknownPartitionError, match=bad_key):
        materialize_week(resources, instance, bad_key)
    assert lake.list("raw/") == []


def test_reland_config_downloads_again(
    mirror: MtaMirror, resources: dict[str, object], lake: Lake, instance: DagsterInstance
) -> None:
    materialize_week(resources, instance, "2017-05-27")
    again = materialize_week(resources, instance, "2017-05-27")
    assert again.success and mirror.gets(NEW_SAMPLE) == 1
    relanded = materialize_week(
        resources, instance, "2017-05-27", run_config={"ops": {"raw_turnstile": {"config": {"reland": True}}}}
    )
    assert relanded.success and mirror.gets(NEW_SAMPLE) == 2
    statuses = [metadata_of(e)["status"] for e in reversed(materializations(instance))]
    assert statuses == ["landed", "already_landed", "relanded"]


def test_missing_bucket_fails_at_once_naming_it(
    mirror: MtaMirror, fake_gcs: object, instance: DagsterInstance
) -> None:
    resources = {
        "mta_source": MtaSource(site_url=mirror.url),
        "lake": lake_resource_from_env({"MTA_LAKE_URL": "gs://no-such-bucket/mta"}),
    }
    started = time.monotonic()
    result = materialize_week(resources, instance, "2017-05-27", raise_on_error=False)
    assert not result.success
    assert time.monotonic() - started < 20  # not retried by the run retry policy
    message = step_failure_message(result)
    assert "no-such-bucket" in message and "MTA_LAKE_URL" in message
    assert mirror.gets(NEW_SAMPLE) == 0 and mirror.requests["/developers/turnstile.html"] == 0


def test_week_not_up_yet_is_retried_in_the_same_run_until_it_lands(
    mirror: MtaMirror,
    resources: dict[str, object],
    instance: DagsterInstance,
    sample_files: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The week that just ended, as the Saturday schedule would request it, before the MTA has
    # published its file. The grace period is widened so the test does not depend on the weekday.
    week = weeks.latest_ended_week()
    name = weeks.file_name(weeks.week_end(week))
    monkeypatch.setenv("MTA_LATE_FILE_RETRY_SECONDS", "1")
    monkeypatch.setenv("MTA_LATE_FILE_GRACE_HOURS", str(24 * 9))
    publisher = threading.Timer(0.5, mirror.add, args=(name, sample_files[NEW_SAMPLE]))
    publisher.start()
    try:
        result = materialize_week(resources, instance, week.isoformat())
    finally:
        publisher.cancel()
    assert result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) >= 1
    (entry,) = materializations(instance)
    assert metadata_of(entry)["file_name"] == name


def test_old_week_missing_is_not_retried(resources: dict[str, object], instance: DagsterInstance) -> None:
    # Years after the fact a missing file is simply not published: fail at once, no retry.
    result = materialize_week(resources, instance, "2019-03-02", raise_on_error=False)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert "not published" in step_failure_message(result)


@pytest.fixture
def quick_transient_retry(monkeypatch: pytest.MonkeyPatch) -> RetryPolicy:
    """The asset's retry of transient failures, with its waits cut to 0.1 s (the count as shipped)."""
    quick = RetryPolicy(max_retries=raw_assets.TRANSIENT_FAILURE_RETRY.max_retries, delay=0.1)
    monkeypatch.setattr(raw_assets, "TRANSIENT_FAILURE_RETRY", quick)
    return quick


@pytest.mark.parametrize("failing_tries", [1, 3])
def test_a_transient_failure_is_tried_again_in_the_run_and_named_if_it_lasts(
    failing_tries: int,
    quick_transient_retry: RetryPolicy,
    mirror: MtaMirror,
    resources: dict[str, object],
    lake: Lake,
    instance: DagsterInstance,
    range_files: dict[str, bytes],
) -> None:
    # 503 on both in-run attempts at one week (the resource allows one retry): a transient failure
    # that outlasted the in-run retries. The step asks to be tried again, saying why, with the weeks
    # that landed recorded; once its tries are used up it fails with the reason itself.
    failing = RANGE_WEEKS["2017-06-03"]
    mirror.inject(failing, *[Status(503)] * (2 * failing_tries))
    result = materialize(
        [raw_turnstile],
        resources=resources,
        instance=instance,
        tags={RANGE_START: "2017-05-27", RANGE_END: "2017-06-10"},
        raise_on_error=False,
    )
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == min(failing_tries, quick_transient_retry.max_retries)
    for retry in retries:
        error = retry.event_specific_data.error  # type: ignore[union-attr]
        assert error.cause is not None and "week 2017-06-03" in error.cause.message
        assert "HTTP 503" in error.cause.message
    recorded = [e.asset_materialization.partition for e in materializations(instance)]  # type: ignore[union-attr]
    if failing_tries <= quick_transient_retry.max_retries:
        assert result.success
        assert sorted(set(recorded)) == ["2017-05-27", "2017-06-03", "2017-06-10"]
        assert mirror.gets(failing) == 2 * failing_tries + 1
    else:
        assert not result.success
        message = step_failure_message(result)
        assert "week 2017-06-03" in message and "HTTP 503" in message
        assert "Exceeded max_retries" not in message  # the reason itself, not Dagster's count
        assert set(recorded) == {"2017-05-27", "2017-06-10"}
        assert lake.stat(raw_key(failing)) is None


def test_the_asset_has_no_dagster_retry_policy_so_an_interrupted_run_is_never_retried() -> None:
    # Dagster turns an interrupt (a run terminated at its maximum runtime, or cancelled) into a retry
    # of a step that has a retry policy: the run would land weeks after it was marked failed. The
    # asset retries transient failures itself; the interrupt: mta_lake_tests/e2e/test_run_max_runtime.py.
    assert raw_turnstile.op.retry_policy is None
