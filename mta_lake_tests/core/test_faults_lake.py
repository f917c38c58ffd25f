"""Faults in the lake: the storage server goes away, answers 503 or 403, the bucket is missing,
the key is malformed, the local disk is full.

Every test drives the real landing code (``land_week``) against a real fake-gcs-server (directly,
or through ``mta_lake_harness.gcs_proxy``) or a real folder. Each one checks what matters for a system of
record: the week lands intact or fails with a clear message, never a partial object, and an
object that was already in the lake is still there, byte for byte, afterwards.
"""

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mta_lake.core import weeks
from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.lake import Lake, LakeError, LocalLake
from mta_lake.core.landing import NEW_FORMAT_HEADER, LandingError, land_week
from mta_lake.core.layout import raw_key
from mta_lake.core.source import MtaSite, RetryPolicy
from mta_lake.defs.resources import GCSLakeResource
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.gcs_proxy import GCSProxy, incompressible_week
from mta_lake_harness.mirror import MtaMirror, Reset, Stall
from mta_lake_harness.paths import REPO_ROOT

SAMPLE = "turnstile_150919.txt"
SAMPLE_WEEK = "2015-09-12"
BIG = "turnstile_240113.txt"
BIG_WEEK = "2024-01-06"


def week_file(key: str) -> weeks.WeekFile:
    resolved = weeks.resolve_week(weeks.parse_week(key), None)
    assert resolved is not None
    return resolved


def quick_site(mirror: MtaMirror, retries: int = 0) -> MtaSite:
    return MtaSite(
        mirror.url,
        read_timeout=20,
        retry=RetryPolicy(max_retries=retries, backoff_base=0.01, backoff_max=0.05),
    )


def stored_bytes(lake: Lake, key: str) -> bytes:
    with lake.open_read(key) as stream:
        return stream.read()


def assert_intact(lake: Lake, key: str, source: bytes) -> None:
    """The object decompresses to exactly the source bytes, and its metadata says so."""
    obj = lake.stat(key)
    assert obj is not None, f"{key} is missing"
    assert gzip.decompress(stored_bytes(lake, key)) == source
    assert obj.metadata.get("source_bytes") == str(len(source))


def assert_clear(error: BaseException, wf: weeks.WeekFile) -> None:
    """A failure a person can act on: it says which week and which file."""
    assert isinstance(error, LandingError), f"{type(error).__name__}: {error}"
    assert wf.key in str(error) and wf.name in str(error), str(error)


def hidden_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part")]


@pytest.fixture(scope="module")
def big_week() -> bytes:
    """~25 MB whose gzip (~9 MB) needs several resumable-upload chunks."""
    return incompressible_week(24 << 20, NEW_FORMAT_HEADER)


@pytest.fixture
def own_gcs(tmp_path: Path) -> Iterator[FakeGCS]:
    """A fake-gcs-server of this test alone (it gets stopped and restarted)."""
    server = FakeGCS(tmp_path / "fake-gcs.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def big_mirror(big_week: bytes, sample_files: dict[str, bytes]) -> Iterator[MtaMirror]:
    with MtaMirror() as server:
        server.add(BIG, big_week)
        server.add(SAMPLE, sample_files[SAMPLE])
        yield server


# -- fake-gcs-server stopped in the middle of an upload ------------------------------------


def test_gcs_stopped_mid_upload_fails_then_next_attempt_lands(
    own_gcs: FakeGCS, big_mirror: MtaMirror, big_week: bytes
) -> None:
    """The server dies after the first 2 MiB chunk went up and comes back empty (memory backend).

    The landing fails (the upload session is gone), nothing partial is visible, and once the
    bucket exists again the next attempt lands the week byte for byte.
    """
    bucket = own_gcs.create_bucket()
    lake = GCSLake(own_gcs.client(), bucket, "mta")
    wf = week_file(BIG_WEEK)
    key = raw_key(wf.name)
    # The source pauses once ~20 MB (the first compressed chunk, and more) have been read.
    big_mirror.inject(BIG, Stall(4, after=20 << 20))
    with GCSProxy(own_gcs.url) as watch:  # only to see when the first chunk has gone up
        lake = GCSLake(watch.client(), bucket, "mta")

        def restart_during_stall() -> None:
            deadline = time.monotonic() + 20
            while watch.forwarded["PUT"] < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            own_gcs.stop()
            time.sleep(1)
            own_gcs.start()

        chaos = threading.Thread(target=restart_during_stall)
        chaos.start()
        with pytest.raises(Exception) as failed:
            land_week(wf, quick_site(big_mirror), lake)
        chaos.join()
        assert watch.forwarded["PUT"] >= 1, "the upload never started: the fault was not exercised"
    message = str(failed.value)
    assert "private_key" not in message
    own_gcs.create_bucket(bucket)
    lake = GCSLake(own_gcs.client(), bucket, "mta")
    assert lake.stat(key) is None  # no partial object
    report = land_week(wf, quick_site(big_mirror), lake)
    assert report.status == "landed"
    assert_intact(lake, key, big_week)
    assert [o.key for o in lake.list("raw/turnstile/")] == [key]


def test_failed_upload_leaves_the_existing_object_intact(
    fake_gcs: FakeGCS, big_mirror: MtaMirror, big_week: bytes, sample_files: dict[str, bytes]
) -> None:
    """A re-land that dies half-way (source reset after a chunk went up) keeps the old object."""
    bucket = fake_gcs.create_bucket()
    lake = GCSLake(fake_gcs.client(), bucket, "mta")
    wf = week_file(BIG_WEEK)
    key = raw_key(wf.name)
    old = sample_files[SAMPLE]  # any earlier, complete version of the file
    big_mirror.add(BIG, old)
    land_week(wf, quick_site(big_mirror), lake)
    before_bytes, before = stored_bytes(lake, key), lake.stat(key)
    big_mirror.add(BIG, big_week)  # the source changed: a re-land starts
    big_mirror.inject(BIG, Reset(20 << 20))
    with pytest.raises(LandingError) as failed:
        # reland=True: no HEAD first (it would take the injected fault).
        land_week(wf, quick_site(big_mirror), lake, reland=True)
    assert_clear(failed.value, wf)
    after = lake.stat(key)
    assert stored_bytes(lake, key) == before_bytes
    assert after is not None and before is not None
    assert after.metadata == before.metadata and after.size == before.size
    assert gzip.decompress(before_bytes) == old


# -- a proxy answering 503 to every Nth request ---------------------------------------------


@pytest.mark.parametrize("every", [2, 3, 5])
def test_gcs_503_every_nth_request_lands_whole_or_not_at_all(
    fake_gcs: FakeGCS, big_mirror: MtaMirror, big_week: bytes, every: int
) -> None:
    bucket = fake_gcs.create_bucket()
    wf = week_file(BIG_WEEK)
    key = raw_key(wf.name)
    with GCSProxy(fake_gcs.url, fail_every=every) as proxy:
        lake = GCSLake(proxy.client(), bucket, "mta")
        try:
            report = land_week(wf, quick_site(big_mirror), lake)
        except Exception as error:  # a failure is allowed; a partial object is not
            report = None
            failure = error
        assert proxy.failed, "no request was answered 503: the fault was not exercised"
        # Retries stop: a handful per failed request, not an endless loop.
        assert proxy.count <= 4 * (len(proxy.failed) + 10)
    direct = GCSLake(fake_gcs.client(), bucket, "mta")
    listed = direct.list("raw/turnstile/")
    if report is None:
        assert listed == [], f"failed with {failure!r} but left {listed}"
    else:
        assert report.status == "landed"
        assert [o.key for o in listed] == [key]
        assert_intact(direct, key, big_week)
        assert direct.stat(key).metadata["source_crc32c"] == report.stats.crc32c


def test_gcs_503_on_a_small_week_is_retried_by_the_client(
    fake_gcs: FakeGCS, big_mirror: MtaMirror, sample_files: dict[str, bytes]
) -> None:
    bucket = fake_gcs.create_bucket()
    wf = week_file(SAMPLE_WEEK)
    with GCSProxy(fake_gcs.url, fail_every=2) as proxy:
        report = land_week(wf, quick_site(big_mirror), GCSLake(proxy.client(), bucket))
        assert proxy.failed
    assert report.status == "landed"
    assert_intact(GCSLake(fake_gcs.client(), bucket), raw_key(wf.name), sample_files[SAMPLE])


# -- missing bucket, malformed and denied credentials ---------------------------------------


def test_missing_bucket_is_named_when_checking_access(fake_gcs: FakeGCS) -> None:
    lake = GCSLake(fake_gcs.client(), "no-such-bucket-6", "mta")
    with pytest.raises(LakeError) as failed:
        lake.check_access()
    assert "no-such-bucket-6" in str(failed.value) and "MTA_LAKE_URL" in str(failed.value)


def test_missing_bucket_fails_the_week_clearly(fake_gcs: FakeGCS, big_mirror: MtaMirror) -> None:
    wf = week_file(SAMPLE_WEEK)
    lake = GCSLake(fake_gcs.client(), "no-such-bucket-6", "mta")
    with pytest.raises(Exception) as failed:
        land_week(wf, quick_site(big_mirror), lake)
    assert_clear(failed.value, wf)
    assert "no-such-bucket-6" in str(failed.value)


def _key_info(**overrides: object) -> dict[str, object]:
    info: dict[str, object] = {
        "type": "service_account",
        "project_id": "mta-lake-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": "-----BEGIN PRIVATE KEY-----\nTHISISNOTAREALKEYBUTASECRETSTRINGALLTHESAME\n-----END PRIVATE KEY-----\n",
        "client_email": "lake@mta-lake-test.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",
    }
    info.update(overrides)
    return {k: v for k, v in info.items() if v is not None}


@pytest.mark.parametrize(
    "key_text",
    [
        pytest.param("private_key=THISISNOTAREALKEYBUTASECRETSTRINGALLTHESAME {", id="not-json"),
        pytest.param(json.dumps(_key_info(client_email=None)), id="no-client-email"),
        pytest.param(json.dumps(_key_info(token_uri=None)), id="no-token-uri"),
        pytest.param(json.dumps(_key_info()), id="private-key-not-pem"),
        pytest.param(json.dumps([1, 2]), id="json-not-an-object"),
    ],
)
def test_malformed_key_fails_clearly_without_the_secret(key_text: str) -> None:
    resource = GCSLakeResource(bucket="mta-lake", service_account_json=key_text)
    with pytest.raises(LakeError) as failed:
        resource.lake().check_access()
    message = str(failed.value)
    assert "MTA_GCS_SERVICE_ACCOUNT_JSON" in message
    assert "THISISNOTAREALKEY" not in message and "0123456789abcdef" not in message
    # The parser's own message could quote the key: it must not be chained into the traceback.
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_denied_access_fails_clearly_and_nothing_is_retried_forever(
    fake_gcs: FakeGCS, big_mirror: MtaMirror
) -> None:
    bucket = fake_gcs.create_bucket()
    wf = week_file(SAMPLE_WEEK)
    with GCSProxy(fake_gcs.url) as proxy:
        proxy.deny = True
        lake = GCSLake(proxy.client(), bucket, "mta")
        with pytest.raises(LakeError) as checked:
            lake.check_access()
        assert "denied" in str(checked.value) and bucket in str(checked.value)
        with pytest.raises(LakeError) as landing:
            land_week(wf, quick_site(big_mirror), lake)
        assert "denied" in str(landing.value) and wf.name in str(landing.value)
        # Each request answered 403 was sent once: nothing was retried.
        assert proxy.failed and len(set(proxy.failed)) == len(proxy.failed), proxy.failed
    assert big_mirror.requests.total() == 0, "nothing was downloaded for a lake we cannot use"


def test_denied_upload_keeps_the_existing_object(
    fake_gcs: FakeGCS, big_mirror: MtaMirror, sample_files: dict[str, bytes]
) -> None:
    """Read access but no write access (a re-land with a read-only key): old object untouched."""
    bucket = fake_gcs.create_bucket()
    wf = week_file(SAMPLE_WEEK)
    key = raw_key(wf.name)
    land_week(wf, quick_site(big_mirror), GCSLake(fake_gcs.client(), bucket))
    direct = GCSLake(fake_gcs.client(), bucket)
    before, before_meta = stored_bytes(direct, key), direct.stat(key)
    with GCSProxy(fake_gcs.url) as proxy:
        proxy.deny_writes = True
        with pytest.raises(Exception) as failed:
            land_week(wf, quick_site(big_mirror), GCSLake(proxy.client(), bucket), reland=True)
        assert proxy.failed and all(line.split()[0] in ("POST", "PUT") for line in proxy.failed)
        assert len(proxy.failed) == 1, "a 403 must not be retried"
    after_meta = direct.stat(key)
    assert stored_bytes(direct, key) == before
    assert before_meta is not None and after_meta is not None
    assert after_meta.metadata == before_meta.metadata
    assert_intact(direct, key, sample_files[SAMPLE])
    assert_clear(failed.value, wf)
    assert "denied" in str(failed.value)


# -- the local lake: a write error (full disk) -----------------------------------------------

FULL_DISK_CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys
    from mta_lake.core import weeks
    from mta_lake.core.lake import LocalLake
    from mta_lake.core.landing import LandingError, land_week
    from mta_lake.core.source import MtaSite, RetryPolicy

    site_url, root, week, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    wf = weeks.resolve_week(weeks.parse_week(week), None)
    site = MtaSite(site_url, retry=RetryPolicy(max_retries=0))
    # A full disk, as seen by this process: writes past `limit` bytes fail with EFBIG
    # (SIGXFSZ ignored so that the write raises instead of killing the process).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        report = land_week(wf, site, LocalLake(root), reland=True)
        print(json.dumps({"ok": report.status}))
    except BaseException as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error),
                          "landing_error": isinstance(error, LandingError)}))
    """
)


def run_full_disk_child(site_url: str, root: Path, week: str, limit: int) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, site_url, str(root), week, str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def local_lake_with_old_week(
    tmp_path: Path, big_mirror: MtaMirror, sample_files: dict[str, bytes]
) -> tuple[LocalLake, Path, bytes, bytes]:
    """A local lake holding an earlier, small version of BIG's week; the mirror now serves a big one."""
    root = tmp_path / "lake"
    lake = LocalLake(root)
    old = sample_files[SAMPLE]
    big_mirror.add(BIG, old)
    land_week(week_file(BIG_WEEK), quick_site(big_mirror), lake)
    path = root / raw_key(BIG)
    meta = path.with_name(f".{path.name}.json")
    return lake, root, path.read_bytes(), meta.read_bytes()


def test_local_full_disk_keeps_the_old_object_and_no_staging_files(
    local_lake_with_old_week: tuple[LocalLake, Path, bytes, bytes], big_mirror: MtaMirror, big_week: bytes
) -> None:
    lake, root, old_object, old_meta = local_lake_with_old_week
    big_mirror.add(BIG, big_week)
    result = run_full_disk_child(big_mirror.url, root, BIG_WEEK, 1 << 20)
    assert "error" in result, f"the landing did not fail: {result}"
    assert "large" in result["message"] or "space" in result["message"], result
    path = root / raw_key(BIG)
    assert path.read_bytes() == old_object
    assert path.with_name(f".{path.name}.json").read_bytes() == old_meta
    assert hidden_leftovers(root) == [], "staging files were left behind"
    assert [o.key for o in lake.list("raw/turnstile/")] == [raw_key(BIG)]
    # Space again: the same landing now succeeds.
    result = run_full_disk_child(big_mirror.url, root, BIG_WEEK, 1 << 30)
    assert result == {"ok": "relanded"}
    assert_intact(lake, raw_key(BIG), big_week)


def test_local_full_disk_names_the_week(
    local_lake_with_old_week: tuple[LocalLake, Path, bytes, bytes], big_mirror: MtaMirror, big_week: bytes
) -> None:
    _, root, _, _ = local_lake_with_old_week
    big_mirror.add(BIG, big_week)
    result = run_full_disk_child(big_mirror.url, root, BIG_WEEK, 1 << 20)
    assert result.get("landing_error") is True, result
    assert BIG_WEEK in result["message"] and BIG in result["message"], result
