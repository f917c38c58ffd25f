"""Real servers as fixtures: the MTA mirror (HTTP on 127.0.0.1), fake-gcs-server, and lakes."""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.lake import Lake, LocalLake
from mta_lake.core.source import MtaSite, RetryPolicy
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.instances import instance_with_every_week
from mta_lake_harness.mirror import MtaMirror
from mta_lake_harness.paths import FIXTURES

# The slowest modules first, the end-to-end ones longest first: `make test` runs two processes
# (pytest-xdist, a module per worker at a time), so they start at once and the short modules fill
# in beside them, instead of the longest running alone at the end.
SLOWEST_MODULES = (
    "e2e.test_published_weeks",
    "e2e.test_backfill_daemon",
    "e2e.test_production_stack",
    "e2e.test_load_backfill",
    "e2e.test_cli_wait",
    "e2e.test_run_max_runtime",
    "core.mart.bigquery.test_bigquery_mart",
    "core.mart.test_mart_real_weeks",
    "dashboard.test_pages",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.module.__name__.removeprefix("mta_lake_tests.") if item.module else ""
        return SLOWEST_MODULES.index(module) if module in SLOWEST_MODULES else len(SLOWEST_MODULES)

    items.sort(key=rank)  # stable: the rest keep their order


# Real samples (see fixtures/mta/MANIFEST.md) and the week each one holds.
SAMPLE_WEEKS = {
    "turnstile_110528.txt": "2011-05-21",  # old format, LF, no header
    "turnstile_150919.txt": "2015-09-12",  # new format, LF
    "turnstile_170603.txt": "2017-05-27",  # new format, CRLF, padded
}
FULL_WEEKS = {
    "turnstile_240106.txt": "2023-12-30",  # 33.1 MB, a complete week
    "turnstile_240113.txt": "2024-01-06",  # 33.4 MB
}


@pytest.fixture(scope="session")
def sample_files() -> dict[str, bytes]:
    """The small raw samples, byte for byte."""
    return {name: (FIXTURES / "raw" / name).read_bytes() for name in SAMPLE_WEEKS}


@pytest.fixture(scope="session")
def full_week_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two complete weeks, decompressed once per session to files (33 MB each)."""
    folder = tmp_path_factory.mktemp("full-weeks")
    paths = {}
    for name in FULL_WEEKS:
        target = folder / name
        with gzip.open(FIXTURES / "weeks" / f"{name}.gz", "rb") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        paths[name] = target
    return paths


@pytest.fixture
def mirror(sample_files: dict[str, bytes]) -> Iterator[MtaMirror]:
    """A fresh MTA mirror serving the small samples (listed on its index page)."""
    with MtaMirror() as server:
        for name, data in sample_files.items():
            server.add(name, data)
        yield server


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    """One fake-gcs-server for the session; STORAGE_EMULATOR_HOST points at it.

    A key the developer's own environment gives (GOOGLE_APPLICATION_CREDENTIALS,
    MTA_GCS_SERVICE_ACCOUNT_JSON) is set aside: it would win over the emulator's anonymous access
    (mta_lake.core.lake.gcs_credentials) and send token requests to Google.
    """
    server = FakeGCS(tmp_path_factory.mktemp("fake-gcs") / "server.log").start()
    names = ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "MTA_GCS_SERVICE_ACCOUNT_JSON")
    previous = {name: os.environ.get(name) for name in names}
    os.environ["STORAGE_EMULATOR_HOST"] = server.url
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    os.environ.pop("MTA_GCS_SERVICE_ACCOUNT_JSON", None)
    try:
        yield server
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(params=["local", "gcs"])
def lake_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """MTA_LAKE_URL for a fresh, empty lake: a temporary folder, then a fake-gcs-server bucket."""
    if request.param == "local":
        return str(tmp_path / "lake")
    server: FakeGCS = request.getfixturevalue("fake_gcs")
    return f"gs://{server.create_bucket()}/mta"


@pytest.fixture
def lake(lake_url: str, request: pytest.FixtureRequest) -> Lake:
    """The same fresh lake as ``lake_url``, opened directly (no Dagster)."""
    if lake_url.startswith("gs://"):
        server: FakeGCS = request.getfixturevalue("fake_gcs")
        bucket, _, prefix = lake_url[5:].partition("/")
        return GCSLake(server.client(), bucket, prefix)
    return LocalLake(lake_url)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    """An ephemeral Dagster instance whose ``turnstile_weeks`` are every ended week (the index sensor's
    job in a real deployment; tests of which weeks are partitions use ``empty_instance``)."""
    with instance_with_every_week() as ephemeral:
        yield ephemeral


@pytest.fixture
def empty_instance() -> Iterator[DagsterInstance]:
    """An ephemeral Dagster instance with no partitions yet (a fresh deployment before the first tick)."""
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


FAST_RETRY = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.05)
"""Retries as in production, with waits short enough for tests (three attempts in all)."""


@pytest.fixture
def site(mirror: MtaMirror) -> Iterator[MtaSite]:
    """The mirror as an ``MtaSite`` with fast retries and a short read timeout."""
    client = MtaSite(mirror.url, connect_timeout=2.0, read_timeout=1.0, retry=FAST_RETRY)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def lake_snapshot(lake: Lake) -> Callable[[], dict[str, tuple[bytes, dict[str, str]]]]:
    """Everything stored for ``lake``, read straight from the store: name -> (bytes, metadata).

    For the local lake that is every file under the root, hidden ones included (metadata
    sidecars, staging files); for GCS every object in the bucket, whatever its prefix.
    """

    def snapshot() -> dict[str, tuple[bytes, dict[str, str]]]:
        found: dict[str, tuple[bytes, dict[str, str]]] = {}
        if isinstance(lake, LocalLake):
            if lake.root.exists():
                for path in sorted(lake.root.rglob("*")):
                    if path.is_file():
                        found[path.relative_to(lake.root).as_posix()] = (path.read_bytes(), {})
            return found
        assert isinstance(lake, GCSLake)
        for blob in lake.client.list_blobs(lake.bucket_name):
            found[blob.name] = (blob.download_as_bytes(raw_download=True), dict(blob.metadata or {}))
        return found

    return snapshot
