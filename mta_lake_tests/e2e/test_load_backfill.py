"""Load: a backfill of 130 weeks through the daemon, within the concurrency limits.

``dagster dev`` with the repo's dagster.yaml (pool ``mta_source`` default_limit 4) and
``MTA_WEEKS_PER_RUN=26``: the backfill becomes 5 runs, one more than may download at once; at most 4 of their steps download at
once, one file each. The mirror serves one small real sample under 130 week file names, holds each
download half-way for 0.3 s and counts how many are held at the same moment: never more than 4 x 1.
"""

import gzip
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake.tools.graphql import DagsterGraphQL
from mta_lake_harness.dagster_processes import running_dagster_dev
from mta_lake_harness.mirror import FILES_PREFIX, MtaMirror, Stall
from mta_lake_harness.paths import RAW_SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SAMPLE = RAW_SAMPLES / "turnstile_150919.txt"  # new format
WEEKS = [date(2015, 1, 3) + timedelta(weeks=i) for i in range(130)]
POOL_LIMIT = 4  # repo dagster.yaml: concurrency.pools.default_limit
DOWNLOADS_PER_STEP = 1  # RawTurnstileConfig.max_concurrent_downloads default


def file_name(week: date) -> str:
    return f"turnstile_{week + timedelta(days=7):%y%m%d}.txt"


class CountingMirror(MtaMirror):
    """The mirror, also counting simultaneous requests for data files (not the index page)."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()
        self.data_active = 0
        self.data_max_active = 0

    def _enter(self, path: str, *args: str) -> None:
        super()._enter(path, *args)
        self._local.data = path.startswith(FILES_PREFIX)
        if self._local.data:
            with self._lock:
                self.data_active += 1
                self.data_max_active = max(self.data_max_active, self.data_active)

    def _leave(self) -> None:
        if getattr(self._local, "data", False):
            with self._lock:
                self.data_active -= 1
        super()._leave()


@pytest.fixture(scope="module")
def mirror() -> Iterator[CountingMirror]:
    data = SAMPLE.read_bytes()
    with CountingMirror() as server:
        for week in WEEKS:
            server.add(file_name(week), data)
            # Each download lasts ~0.3 s, so the steps of concurrent runs really overlap.
            server.inject(file_name(week), Stall(0.3, after=len(data) // 2))
        yield server


def test_backfill_of_130_weeks_lands_every_week_within_the_pool(
    mirror: CountingMirror, tmp_path: Path
) -> None:
    lake = LocalLake(tmp_path / "lake")
    env = dict(os.environ)
    env.update(
        MTA_SITE_URL=mirror.url,
        MTA_LAKE_URL=str(lake.root),
        MTA_WEEKS_PER_RUN="26",
        MTA_RECONCILE_SENSOR="stopped",  # this test drives the backfill itself
    )
    env.pop("STORAGE_EMULATOR_HOST", None)
    started = time.monotonic()
    keys = [week.isoformat() for week in WEEKS]
    with (
        running_dagster_dev(env, tmp_path / "dagster_home", partitions=keys) as dev,
        DagsterGraphQL(dev.url) as client,
    ):
        # The raw layer alone: the pool caps downloads, and the layers above download nothing (they
        # have their own end-to-end tests); cleaning and the mart would only stretch the test.
        backfill_id = client.launch_asset_backfill(keys, asset_keys=["raw_turnstile"], title="load test")
        status = client.wait_for_backfill(backfill_id, timeout=330, poll_interval=3)
        runs = status.runs
    elapsed = time.monotonic() - started
    assert status.succeeded, status.summary()
    # 10 landing runs of 26 weeks, and no other.
    landing_runs = [run for run in runs if len(run.partitions) <= 26]
    assert len(runs) == len(landing_runs), [len(run.partitions) for run in runs]
    assert len(landing_runs) == 5, f"{len(landing_runs)} runs: MTA_WEEKS_PER_RUN=26 should make 5"

    data = SAMPLE.read_bytes()
    landed = {o.key for o in lake.list("raw/turnstile/")}
    assert landed == {raw_key(file_name(week)) for week in WEEKS}
    for week in (WEEKS[0], WEEKS[64], WEEKS[-1]):
        with lake.open_read(raw_key(file_name(week))) as stream:
            assert gzip.decompress(stream.read()) == data

    fetched = sum(
        count
        for (method, path), count in mirror.method_requests.items()
        if method == "GET" and path.startswith(FILES_PREFIX)
    )
    assert fetched == len(WEEKS), (
        f"{fetched} data-file requests for {len(WEEKS)} weeks: something was fetched twice"
    )
    # Downloads in flight together, counted while each is held mid-body (every week's file stalls 0.3 s
    # half-way): a client there cannot have moved on to its next week, so no end-of-response overlap
    # (a handler finishing after its client read the last byte) is counted as a fifth download.
    assert mirror.max_stalled <= POOL_LIMIT * DOWNLOADS_PER_STEP, mirror.max_stalled
    assert mirror.max_stalled >= 2, "runs never overlapped: the limit was not exercised"
    print(
        f"{len(WEEKS)} weeks in {elapsed:.0f} s, {len(landing_runs)} landing runs; at most {mirror.max_stalled} downloads "
        f"in flight at once ({mirror.data_max_active} data-file handlers, {mirror.max_active} with the index page)"
    )
