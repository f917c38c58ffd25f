"""Load: a backfill of 260 weeks through the daemon, within the concurrency limits.

``dagster dev`` with the repo's dagster.yaml (pool ``mta_source`` default_limit 4) and
``MTA_WEEKS_PER_RUN=26``: the backfill becomes 10 runs; at most 4 of their steps download at
once, one file each. The mirror serves one small real sample under 260 week file names and counts
how many data-file requests are in flight at the same moment: never more than 4 x 1.
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
from mta_lake_tests.support.dagster_processes import running_dagster_dev
from mta_lake_tests.support.mirror import FILES_PREFIX, MtaMirror, Stall

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SAMPLE = Path(__file__).parents[1] / "fixtures" / "mta" / "raw" / "turnstile_150919.txt"  # new format
WEEKS = [date(2015, 1, 3) + timedelta(weeks=i) for i in range(260)]
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


def test_backfill_of_260_weeks_lands_every_week_within_the_pool(
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
    with running_dagster_dev(env, tmp_path / "dagster_home") as dev, DagsterGraphQL(dev.url) as client:
        backfill_id = client.launch_asset_backfill([week.isoformat() for week in WEEKS], title="load test")
        status = client.wait_for_backfill(backfill_id, timeout=330, poll_interval=3)
        runs = status.runs
    elapsed = time.monotonic() - started
    assert status.succeeded, status.summary()
    # 10 landing runs of 26 weeks (raw and clean); the mart takes all 260 weeks in runs of its own.
    landing_runs = [run for run in runs if len(run.partitions) <= 26]
    assert len(landing_runs) == 10, f"{len(landing_runs)} runs: MTA_WEEKS_PER_RUN=26 should make 10"

    data = SAMPLE.read_bytes()
    landed = {o.key for o in lake.list("raw/turnstile/")}
    assert landed == {raw_key(file_name(week)) for week in WEEKS}
    for week in (WEEKS[0], WEEKS[129], WEEKS[-1]):
        with lake.open_read(raw_key(file_name(week))) as stream:
            assert gzip.decompress(stream.read()) == data

    fetched = sum(
        count
        for (method, path), count in mirror.method_requests.items()
        if method == "GET" and path.startswith(FILES_PREFIX)
    )
    assert fetched == 260, f"{fetched} data-file requests for 260 weeks: something was fetched twice"
    assert mirror.data_max_active <= POOL_LIMIT * DOWNLOADS_PER_STEP, mirror.data_max_active
    assert mirror.data_max_active >= 2, "runs never overlapped: the limit was not exercised"
    print(
        f"260 weeks in {elapsed:.0f} s, {len(landing_runs)} landing runs; at most {mirror.data_max_active} data-file "
        f"connections at once ({mirror.max_active} counting the index page)"
    )
