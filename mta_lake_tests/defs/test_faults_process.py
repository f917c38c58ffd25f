"""Faults in the processes: a run killed with SIGKILL half-way through an upload, and two
landings of the same week at the same moment -- against both lakes.

The killed run is the real CLI (``dagster asset materialize``) in its own process group; the
upload is caught in progress (the source stalls after ~20 MB, once the first 2 MiB chunk has
reached fake-gcs-server through ``mta_lake_harness.gcs_proxy``, or once the local staging file has grown),
then the whole group gets SIGKILL: no ``finally`` runs, no upload is cancelled. What must hold:
the lake shows no partial object (the earlier version is still there, byte for byte) and the next
``dagster asset materialize`` lands the week.
"""

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mta_lake.core import weeks
from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.lake import Lake, LocalLake
from mta_lake.core.landing import NEW_FORMAT_HEADER, land_week
from mta_lake.core.landing_report import LandingReport
from mta_lake.core.layout import raw_key
from mta_lake.core.source import MtaSite, RetryPolicy
from mta_lake_harness.dagster_processes import dagster_env, prepare_dagster_home
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.gcs_proxy import GCSProxy, incompressible_week
from mta_lake_harness.instances import add_partitions
from mta_lake_harness.mirror import MtaMirror, Stall
from mta_lake_harness.paths import REPO_ROOT

DAGSTER = str(Path(sys.executable).parent / "dagster")
BIG = "turnstile_240113.txt"
BIG_WEEK = "2024-01-06"
SAMPLE = "turnstile_170603.txt"
SAMPLE_WEEK = "2017-05-27"
OLD = "turnstile_150919.txt"  # an earlier, small version of BIG's week (same format)


def week_file(key: str) -> weeks.WeekFile:
    resolved = weeks.resolve_week(weeks.parse_week(key), None)
    assert resolved is not None
    return resolved


def quick_site(mirror: MtaMirror) -> MtaSite:
    return MtaSite(mirror.url, read_timeout=30, retry=RetryPolicy(max_retries=0))


def stored(lake: Lake, key: str) -> bytes:
    with lake.open_read(key) as stream:
        return stream.read()


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.05)


def materialize(env: dict[str, str], log: Path, *, reland: bool = False) -> subprocess.Popen[bytes]:
    """``dagster asset materialize`` for BIG_WEEK, in its own process group."""
    args = [DAGSTER, "asset", "materialize", "-m", "mta_lake.definitions", "--select", "raw_turnstile"]
    args += ["--partition", BIG_WEEK]
    if reland:
        args += ["--config-json", json.dumps({"ops": {"raw_turnstile": {"config": {"reland": True}}}})]
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("kind", ["local", "gcs"])
def test_sigkill_mid_upload_leaves_the_old_object_and_the_next_run_lands(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, sample_files: dict[str, bytes]
) -> None:
    new = incompressible_week(24 << 20, NEW_FORMAT_HEADER)  # gzip ~9 MB: several upload chunks
    old = sample_files[OLD]
    key = raw_key(BIG)
    env = dagster_env(dict(os.environ), prepare_dagster_home(tmp_path / "dagster_home"))
    add_partitions(tmp_path / "dagster_home", [BIG_WEEK])  # a published week (the index sensor's job)
    proxy: GCSProxy | None = None
    with MtaMirror() as mirror:
        mirror.add(BIG, old)
        if kind == "gcs":
            server: FakeGCS = request.getfixturevalue("fake_gcs")
            bucket = server.create_bucket()
            lake: Lake = GCSLake(server.client(), bucket, "mta")
            proxy = GCSProxy(server.url).start()  # only watched: it sees the chunks go up
            env.update(MTA_LAKE_URL=f"gs://{bucket}/mta", STORAGE_EMULATOR_HOST=proxy.url)
        else:
            lake = LocalLake(tmp_path / "lake")
            env["MTA_LAKE_URL"] = str(lake.root)
        env["MTA_SITE_URL"] = mirror.url
        try:
            land_week(week_file(BIG_WEEK), quick_site(mirror), lake)  # version 1 is in the lake
            before, before_meta = stored(lake, key), lake.stat(key)
            assert before_meta is not None

            mirror.add(BIG, new)  # the MTA republished the week: version 2
            mirror.inject(BIG, Stall(120, after=20 << 20))
            run = materialize(env, tmp_path / "killed-run.log", reland=True)
            try:
                if proxy is not None:
                    wait_until(lambda: proxy.forwarded["PUT"] >= 1, 90, "the first upload chunk")
                else:
                    # A re-land stages its candidate under raw/turnstile/.relanding/.
                    staging = lambda: [  # noqa: E731
                        p
                        for p in (lake.root / "raw" / "turnstile").rglob(".*.part")
                        if p.stat().st_size > 4 << 20
                    ]
                    wait_until(lambda: bool(staging()), 90, "the staging file to grow")
                assert run.poll() is None, (tmp_path / "killed-run.log").read_text()[-3000:]
            finally:
                kill_group(run)
            assert run.returncode == -signal.SIGKILL

            # Nothing partial: the earlier version is what readers see, byte for byte.
            after_meta = lake.stat(key)
            assert after_meta is not None and after_meta.metadata == before_meta.metadata
            assert stored(lake, key) == before
            assert gzip.decompress(before) == old
            assert [o.key for o in lake.list("raw/turnstile/")] == [key]
            if isinstance(lake, LocalLake):
                visible = [
                    p.name for p in (lake.root / "raw" / "turnstile").iterdir() if not p.name.startswith(".")
                ]
                assert visible == [BIG + ".gz"]

            # The next attempt (no re-land asked: the source's new ETag says it changed) lands it.
            mirror.clear_faults()
            retry = materialize(env, tmp_path / "next-run.log")
            assert retry.wait(timeout=240) == 0, (tmp_path / "next-run.log").read_text()[-3000:]
            landed = lake.stat(key)
            assert landed is not None and landed.metadata["source_bytes"] == str(len(new))
            assert gzip.decompress(stored(lake, key)) == new
        finally:
            if proxy is not None:
                proxy.stop()


@pytest.mark.parametrize("lake_kind", ["local", "gcs"])
def test_two_landings_of_the_same_week_at_once_leave_one_intact_object(
    lake_kind: str, tmp_path: Path, request: pytest.FixtureRequest, sample_files: dict[str, bytes]
) -> None:
    """Two runs (separate sites, separate lake clients) land one week at the same moment."""
    data = sample_files[SAMPLE]
    key = raw_key(SAMPLE)
    if lake_kind == "gcs":
        server: FakeGCS = request.getfixturevalue("fake_gcs")
        bucket = server.create_bucket()

        def open_lake() -> Lake:
            return GCSLake(server.client(), bucket, "mta")
    else:

        def open_lake() -> Lake:
            return LocalLake(tmp_path / "lake")

    with MtaMirror() as mirror:
        mirror.add(SAMPLE, data)
        # Both downloads pause half-way, so both are in flight at once.
        mirror.inject(SAMPLE, Stall(1.0, after=len(data) // 2), Stall(1.0, after=len(data) // 2))
        start = threading.Barrier(2)
        reports: list[LandingReport] = []
        errors: list[BaseException] = []

        def one_run() -> None:
            site, lake = quick_site(mirror), open_lake()
            start.wait()
            try:
                reports.append(land_week(week_file(SAMPLE_WEEK), site, lake))
            except BaseException as error:
                errors.append(error)
            finally:
                site.close()

        threads = [threading.Thread(target=one_run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
        assert mirror.max_active >= 2, "the two downloads did not overlap"
    assert errors == []
    assert sorted(r.status for r in reports) == ["landed", "landed"]
    lake = open_lake()
    assert [o.key for o in lake.list("raw/turnstile/")] == [key]
    assert gzip.decompress(stored(lake, key)) == data
    meta = lake.stat(key)
    assert meta is not None and meta.metadata["source_crc32c"] == reports[0].stats.crc32c
    if isinstance(lake, LocalLake):
        assert not list(lake.root.rglob("*.part")), "staging files were left behind"


LAND_ONE_WEEK = """
import sys
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from mta_lake.core import weeks
from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.landing import land_week
from mta_lake.core.source import MtaSite, RetryPolicy

site_url, endpoint, bucket, week = sys.argv[1:5]
client = storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint})
week_file = weeks.resolve_week(weeks.parse_week(week), None)
print(land_week(week_file, MtaSite(site_url, retry=RetryPolicy(max_retries=0)), GCSLake(client, bucket, "mta")).status)
"""


def test_sigkill_after_the_bytes_and_before_the_object_leaves_no_object_without_its_counts(
    fake_gcs: FakeGCS, tmp_path: Path
) -> None:
    """A week over one upload chunk: its bytes go to a hidden staging object, then one rewrite creates
    the object with every metadata field. The landing process is SIGKILLed while that rewrite is
    held in the proxy: every byte is in the bucket, and still no object exists without its counts
    (before, the counts followed in a PATCH, and a kill there left an object without them)."""
    new = incompressible_week(12 << 20, NEW_FORMAT_HEADER)
    bucket = fake_gcs.create_bucket()
    lake = GCSLake(fake_gcs.client(), bucket, "mta")
    key = raw_key(BIG)
    with MtaMirror() as mirror, GCSProxy(fake_gcs.url) as proxy:
        mirror.add(BIG, new)
        proxy.hold = "rewriteTo"
        child = subprocess.Popen(
            [sys.executable, "-c", LAND_ONE_WEEK, mirror.url, proxy.url, bucket, BIG_WEEK],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert proxy.held.wait(90), (
                child.communicate(timeout=5)[0][-3000:] if child.poll() is not None else ""
            )
            staged = [b for b in fake_gcs.client().list_blobs(bucket) if b.name.endswith(".part")]
            assert len(staged) == 1 and staged[0].size > 2 << 20  # every byte is up, in the staging object
            assert lake.stat(key) is None and lake.list("raw/") == []  # and no object yet
        finally:
            kill_group(child)  # type: ignore[arg-type]
            proxy.release()
        assert child.returncode == -signal.SIGKILL
        # The lake as it was: no object at all (the staging leftover is hidden from every listing).
        assert lake.stat(key) is None and lake.list("") == []
        # The next landing creates the object whole, its counts with it.
        proxy.hold = None
        done = subprocess.run(
            [sys.executable, "-c", LAND_ONE_WEEK, mirror.url, proxy.url, bucket, BIG_WEEK],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0 and done.stdout.strip() == "landed", done.stderr[-3000:]
    landed = lake.stat(key)
    assert landed is not None and landed.metadata["source_bytes"] == str(len(new))
    assert {"source_crc32c", "data_rows", "landed_at", "source_url"} <= set(landed.metadata)
    assert gzip.decompress(stored(lake, key)) == new
