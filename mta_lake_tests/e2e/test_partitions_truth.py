"""The Partitions tab tells the truth: weeks the MTA never published are not partitions.

A real ``dagster dev`` (its daemon ticks ``watch_mta_index`` every 5 s) against the MTA mirror
serving the last nine ended weeks but two, and an empty lake. Through GraphQL, the data the UI's
Partitions tab shows (``partitionKeysByDimension``, ``assetPartitionStatuses``):

1. a fresh start has no snapshot: every week since 2010-05-01 is a partition (and Missing);
2. the sensor writes ``state/published_files.json`` and has the webserver reload the code location:
   only the published weeks (and a week merely late) are partitions, so nothing the MTA never
   published is listed, counted Missing, or offered by "materialize missing";
3. the MTA publishes one of the missing weeks after all: after the next tick and reload it is a
   partition again; the schedule and the job are still there.
"""

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from mta_lake.core import source_state, weeks
from mta_lake.core.lake import LocalLake
from mta_lake_tests.support.dagster_processes import running_dagster_dev
from mta_lake_tests.support.fake_gcs import free_port
from mta_lake_tests.support.mirror import MtaMirror

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DEFS_MODULE = "mta_lake.definitions"

PARTITIONS_QUERY = """
query { assetNodeOrError(assetKey: {path: ["raw_turnstile"]}) { __typename ... on AssetNode {
  partitionKeysByDimension { partitionKeys }
  assetPartitionStatuses { __typename ... on TimePartitionStatuses { ranges { status startKey endKey } } } } } }
"""
SCHEDULES_QUERY = """
query { workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename
  ... on RepositoryLocation { repositories { schedules { name } sensors { name } } } } } } } }
"""


def graphql(url: str, query: str) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def partition_keys(url: str) -> list[str]:
    node = graphql(url, PARTITIONS_QUERY)["assetNodeOrError"]
    return node["partitionKeysByDimension"][0]["partitionKeys"]


def wait_for_keys(url: str, wanted, timeout: float = 60.0) -> list[str]:
    """Poll the partition keys until ``wanted(keys)``; the reload restarts the code server meanwhile."""
    deadline = time.monotonic() + timeout
    keys: list[str] = []
    while time.monotonic() < deadline:
        try:
            keys = partition_keys(url)
            if wanted(keys):
                return keys
        except (requests.RequestException, KeyError, TypeError):
            pass  # the location is reloading
        time.sleep(1)
    raise AssertionError(
        f"partitions not as wanted after {timeout:.0f} s: {len(keys)} keys, last {keys[-12:]}"
    )


@pytest.fixture
def setting() -> Iterator[tuple[MtaMirror, list[str], list[str]]]:
    latest = weeks.latest_ended_week(datetime.now(weeks.NEW_YORK))
    served = [latest - timedelta(days=7 * i) for i in range(9)][::-1]
    never = [served[2], served[5]]  # two weeks with no file (both long past their deadline)
    with MtaMirror() as mirror:
        for week in served:
            if week not in never:
                mirror.add(weeks.file_name(weeks.week_end(week)), b"x")
        yield mirror, [w.isoformat() for w in served], [w.isoformat() for w in never]


def test_weeks_never_published_are_not_partitions_and_come_back_when_published(
    tmp_path: Path, setting
) -> None:
    mirror, served, never = setting
    lake = LocalLake(tmp_path / "lake")
    port = free_port()
    env = dict(os.environ)
    env.update(
        MTA_SITE_URL=mirror.url,
        MTA_LAKE_URL=str(lake.root),
        MTA_DAGSTER_UI_URL=f"http://127.0.0.1:{port}",  # where the sensor asks for the reload
        MTA_INDEX_WATCH_INTERVAL_SECONDS="5",
        MTA_RECONCILE_SENSOR="stopped",
    )
    for name in ("MTA_ALERT_WEBHOOK_URL", "MTA_SLACK_WEBHOOK_URL", "STORAGE_EMULATOR_HOST"):
        env.pop(name, None)
    started = time.monotonic()
    with running_dagster_dev(env, tmp_path / "dagster_home", module=DEFS_MODULE, port=port) as dev:
        # 1. No snapshot yet (or the sensor has not ticked): every week since 2010 is a partition.
        first = partition_keys(dev.url)
        if source_state.read_snapshot(lake) is None:
            assert first[0] == weeks.FIRST_WEEK.isoformat() and len(first) > 800

        # 2. The sensor's snapshot, then the reload: only what the MTA published (or may still).
        keys = wait_for_keys(dev.url, lambda keys: len(keys) < 100)
        assert keys == [week for week in served if week not in never]
        statuses = graphql(dev.url, PARTITIONS_QUERY)["assetNodeOrError"]["assetPartitionStatuses"]
        assert statuses["ranges"] == []  # nothing landed: every listed week is Missing, and published
        snapshot = source_state.read_snapshot(lake)
        assert snapshot is not None and {w.isoformat() for w in snapshot.excluded} >= set(never)
        assert not snapshot.discontinued

        # 3. The MTA publishes one of them after all: a partition again after the next reload.
        back = never[0]
        mirror.add(weeks.file_name(weeks.week_end(datetime.fromisoformat(back).date())), b"x")
        keys = wait_for_keys(dev.url, lambda keys: back in keys)
        assert never[1] not in keys and len(keys) == len(served) - 1
        repos = [
            repo
            for entry in graphql(dev.url, SCHEDULES_QUERY)["workspaceOrError"]["locationEntries"]
            for repo in entry["locationOrLoadError"]["repositories"]
        ]
        assert {"raw_turnstile_weekly"} <= {s["name"] for repo in repos for s in repo["schedules"]}
        assert "watch_mta_index" in {s["name"] for repo in repos for s in repo["sensors"]}
    print(f"partitions truth e2e: {time.monotonic() - started:.1f} s")
