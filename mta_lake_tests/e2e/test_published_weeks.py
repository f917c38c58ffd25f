"""The week asked for is the week landed, recorded and reported, on a real `dagster dev` on a port that is not 3000.

A mirror withholds weeks of every kind: a week long ago (2010-05-08), an old-format week (2014-09-27),
the first and the last week of a range (2024-01-13, 2024-02-10), and the newest ended week. Through
GraphQL, as the UI does, and through the CLI:

1. from the first minute after start the partitions are exactly the published weeks (the index sensor's
   first tick), ``partitionStats`` counts failed 0 and missing = published and not landed;
2. a backfill of a range of published weeks of both formats lands and records exactly those weeks;
3. a week with no file is refused before launch: by the UI's own mutation (not a partition), by
   ``mta-lake backfill`` (exit 2, the week, the file name, "not published"; ``--published-only`` lands
   the rest) and by ``mta-lake materialize`` (exit 2, nothing recorded);
4. launched before, during or after the MTA withdraws a file, a backfill ends the same way: the other
   week landed and recorded, the withdrawn one never landed nor recorded, said "not published", and
   gone from the partitions, with nothing counted failed;
5. a run waiting for a late week keeps the weeks it landed recorded and shown materialised while it
   waits, and lands the late week when its file comes.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from mta_lake.core import weeks
from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.tools.graphql import DagsterGraphQL, UnknownPartitionsError
from mta_lake_harness.dagster_processes import DagsterDev, running_dagster_dev
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.graphql import wait_for_partitions
from mta_lake_harness.mirror import MtaMirror
from mta_lake_harness.paths import RAW_SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


OLD_FORMAT = (RAW_SAMPLES / "turnstile_110528.txt").read_bytes()
NEW_FORMAT = (RAW_SAMPLES / "turnstile_150919.txt").read_bytes()
MTA_LAKE = str(Path(sys.executable).parent / "mta-lake")

NEWEST = weeks.latest_ended_week(datetime.now(weeks.NEW_YORK))
PUBLISHED_OLD = ["2010-05-01", "2014-09-20", "2014-10-04"]
PUBLISHED_NEW = ["2014-10-11", "2024-01-20", "2024-01-27", "2024-02-03"]
# Weeks of the race (4.): each pair a week that stays and one whose file is withdrawn.
RACE = {
    "before": ("2023-06-03", "2023-06-10"),
    "during": ("2023-07-01", "2023-07-08"),
    "after": ("2023-08-05", "2023-08-12"),
}
# 5.: the last published week and the newest, published late: consecutive partitions, so one run.
LATE_PAIR = ("2025-06-07", NEWEST.isoformat())
WITHHELD = ["2010-05-08", "2014-09-27", "2024-01-13", "2024-02-10", NEWEST.isoformat()]

QUERY_STATS = """
query { assetNodeOrError(assetKey: {path: ["raw_turnstile"]}) { ... on AssetNode {
  partitionStats { numMaterialized numPartitions numFailed numMaterializing }
  assetPartitionStatuses { ... on DefaultPartitionStatuses {
    materializedPartitions failedPartitions unmaterializedPartitions materializingPartitions } } } } }
"""


def file_of(week: str) -> str:
    return weeks.file_name(weeks.week_end(date.fromisoformat(week)))


def published_weeks() -> list[str]:
    race = [week for pair in RACE.values() for week in pair]
    return sorted({*PUBLISHED_OLD, *PUBLISHED_NEW, *race, LATE_PAIR[0]})


@dataclass
class Stack:
    dev: DagsterDev
    mirror: MtaMirror
    lake: LocalLake
    env: dict[str, str]
    started: float
    client: DagsterGraphQL

    def stats(self) -> dict:
        node = self.client.execute(QUERY_STATS)["assetNodeOrError"]
        return {"stats": node["partitionStats"], **node["assetPartitionStatuses"]}

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MTA_LAKE, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e-published")
    lake = LocalLake(root / "lake")
    port = free_port()
    assert port != 3000
    with MtaMirror() as mirror:
        for week in published_weeks():
            mirror.add(file_of(week), OLD_FORMAT if file_of(week) <= "turnstile_141011.txt" else NEW_FORMAT)
        env = dict(os.environ)
        env.update(
            MTA_SITE_URL=mirror.url,
            MTA_LAKE_URL=str(lake.root),
            MTA_INDEX_WATCH_INTERVAL_SECONDS="5",
            MTA_RECONCILE_SENSOR="stopped",  # the backfills here are the only work
            MTA_WEEKS_PER_RUN="26",
            # 5.: the newest week counts as late for two weeks (whatever the weekday the test runs on),
            # and a run waiting for it tries again every 20 s.
            MTA_LATE_FILE_GRACE_HOURS=str(14 * 24),
            MTA_LATE_FILE_RETRY_SECONDS="20",
            PYTHONUNBUFFERED="1",
        )
        for name in (
            "MTA_DAGSTER_UI_URL",
            "MTA_ALERT_WEBHOOK_URL",
            "MTA_SLACK_WEBHOOK_URL",
            "STORAGE_EMULATOR_HOST",
        ):
            env.pop(name, None)
        env["DAGSTER_HOME"] = str(root / "dagster_home")  # for mta-lake materialize
        env["MTA_DAGSTER_UI_URL"] = f"http://127.0.0.1:{port}"  # for mta-lake backfill
        started = time.monotonic()
        with (
            running_dagster_dev(env, root / "dagster_home", port=port) as dev,
            DagsterGraphQL(dev.url) as client,
        ):
            yield Stack(dev, mirror, lake, env, started, client)


def test_1_from_the_first_minute_the_partitions_are_the_published_weeks(stack: Stack) -> None:
    keys = wait_for_partitions(stack.client, published_weeks(), timeout=90)
    truthful_after = time.monotonic() - stack.started
    assert truthful_after < 60, f"the partitions were true only {truthful_after:.0f} s after start"
    assert keys == published_weeks()  # in week order; no week withheld, none of 2026 but published ones
    stats = stack.stats()
    assert stats["stats"] == {
        "numMaterialized": 0,
        "numPartitions": len(published_weeks()),
        "numFailed": 0,
        "numMaterializing": 0,
    }
    assert sorted(stats["unmaterializedPartitions"]) == published_weeks()  # missing = published, not landed
    print(f"partitions true {truthful_after:.1f} s after `dagster dev` started")


def test_2_a_range_of_both_formats_lands_and_records_exactly_its_weeks(stack: Stack) -> None:
    wanted = ["2014-09-20", "2014-10-04", "2014-10-11"]  # old, old, new: a range of consecutive partitions
    status = stack.client.wait_for_backfill(
        stack.client.launch_asset_backfill(wanted, asset_keys=["raw_turnstile", "turnstile_readings"]),
        timeout=300,
    )
    assert status.succeeded, status.summary()
    recorded = sorted({week for run in status.runs for week in run.materialized})
    assert recorded == wanted  # these weeks, nothing else
    assert set(wanted) <= stack.client.partition_statuses("turnstile_readings")["materialized"]
    # The range's run covered exactly the three keys: 2014-09-27 (withheld) is not a partition.
    assert {run.partitions for run in status.runs} == {tuple(wanted)}
    for week in wanted:
        assert stack.lake.stat(raw_key(file_of(week))) is not None
    assert stack.lake.stat(raw_key(file_of("2014-09-27"))) is None
    stats = stack.stats()
    assert set(stats["materializedPartitions"]) >= set(wanted) and stats["stats"]["numFailed"] == 0


def test_3_a_week_with_no_file_is_refused_before_launch(stack: Stack) -> None:
    # The UI's own mutation: not a partition, refused, nothing launched.
    with pytest.raises(UnknownPartitionsError, match="2024-01-13"):
        stack.client.launch_asset_backfill(["2024-01-13", "2024-01-20"], asset_keys=["raw_turnstile"])
    # The CLI names every week of the range with no file, and the file it expected.
    refused = stack.cli("backfill", "2024-01-13", "2024-02-10", "--select", "raw")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "2 weeks not published" in refused.stderr
    assert (
        "2024-01-13 (turnstile_240120.txt)" in refused.stderr
        and "2024-02-10 (turnstile_240217.txt)" in refused.stderr
    )
    assert "nothing was launched" in refused.stderr and "--published-only" in refused.stderr
    materialize = stack.cli("materialize", "2024-01-13")
    assert materialize.returncode == 2 and "week 2024-01-13: not published" in materialize.stderr
    assert "turnstile_240120.txt" in materialize.stderr
    # --published-only: the three published weeks of the range, exactly, and nothing else.
    landed = stack.cli(
        "backfill", "2024-01-13", "2024-02-10", "--select", "raw", "--published-only", "--wait", "--poll", "2"
    )
    assert landed.returncode == 0, landed.stdout + landed.stderr
    assert "skipping 2 weeks not published" in landed.stdout and "result: every week landed" in landed.stdout
    for week in ("2024-01-20", "2024-01-27", "2024-02-03"):
        assert stack.lake.stat(raw_key(file_of(week))) is not None
    for week in ("2024-01-13", "2024-02-10"):
        assert stack.lake.stat(raw_key(file_of(week))) is None
    stats = stack.stats()
    assert not {"2024-01-13", "2024-02-10"} & set(stats["materializedPartitions"] + stats["failedPartitions"])
    assert stats["stats"]["numFailed"] == 0


def test_4_before_during_or_after_a_withdrawal_the_same_outcome(stack: Stack) -> None:
    keep, gone = RACE["before"]
    # Before: launched while its file is listed (a partition), withdrawn before its run reads the index.
    before = stack.client.launch_asset_backfill([keep, gone], asset_keys=["raw_turnstile"])
    stack.mirror.remove(file_of(gone))
    # During: withdrawn, and launched at once, before the sensor's next tick (the CLI reads the index).
    keep2, gone2 = RACE["during"]
    stack.mirror.remove(file_of(gone2))
    during = stack.cli(
        "backfill", keep2, gone2, "--select", "raw", "--published-only", "--wait", "--poll", "2"
    )
    # After: withdrawn, the sensor has removed it from the partitions, then launched.
    keep3, gone3 = RACE["after"]
    stack.mirror.remove(file_of(gone3))
    deadline = time.monotonic() + 60
    while gone3 in stack.client.asset_partitions().keys:
        assert time.monotonic() < deadline, f"{gone3} still a partition 60 s after its file was withdrawn"
        time.sleep(1)
    with pytest.raises(UnknownPartitionsError):
        stack.client.launch_asset_backfill([keep3, gone3], asset_keys=["raw_turnstile"])
    after = stack.cli(
        "backfill", keep3, gone3, "--select", "raw", "--published-only", "--wait", "--poll", "2"
    )

    first = stack.client.wait_for_backfill(before, timeout=300)
    assert list(first.failed_weeks) == [gone]
    assert "not published" in first.failed_weeks[gone] and file_of(gone) in first.failed_weeks[gone]
    for outcome, week in ((during, gone2), (after, gone3)):
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr
        skipped = next(line for line in outcome.stdout.splitlines() if line.startswith("--published-only"))
        assert week in skipped and file_of(week) in skipped and "not published" in skipped
    # The same end in every order: the week that stays landed and recorded once, the withdrawn one
    # neither, and no longer a partition; nothing is counted failed.
    deadline = time.monotonic() + 60
    while {gone, gone2, gone3} & set(stack.client.asset_partitions().keys):
        assert time.monotonic() < deadline, "withdrawn weeks still partitions after 60 s"
        time.sleep(1)
    stats = stack.stats()
    assert stats["stats"]["numFailed"] == 0
    for week in (keep, keep2, keep3):
        assert stack.lake.stat(raw_key(file_of(week))) is not None and week in stats["materializedPartitions"]
    for week in (gone, gone2, gone3):
        assert stack.lake.stat(raw_key(file_of(week))) is None
        assert week not in stats["materializedPartitions"]


def test_5_a_run_waiting_for_a_late_week_shows_the_weeks_it_landed(stack: Stack) -> None:
    landed, late = LATE_PAIR
    # The weekly schedule makes the newest week a partition when it launches it; as it would:
    partitions = stack.client.asset_partitions()
    stack.client.add_partitions(partitions, PARTITIONS_NAME, [late])
    backfill = stack.client.launch_asset_backfill([landed, late], asset_keys=["raw_turnstile"])
    deadline = time.monotonic() + 180
    while True:
        stats = stack.stats()
        if landed in stats["materializedPartitions"] and late in stats["materializingPartitions"]:
            break
        assert time.monotonic() < deadline, f"never saw {landed} landed while {late} waits: {stats}"
        time.sleep(2)
    assert stack.lake.stat(raw_key(file_of(landed))) is not None
    assert stack.client.backfill_progress(backfill).status == "REQUESTED"  # still waiting, not failed
    # The file comes: the next attempt lands it, in the same run.
    stack.mirror.add(file_of(late), NEW_FORMAT)
    status = stack.client.wait_for_backfill(backfill, timeout=240)
    assert status.succeeded, status.summary()
    (run,) = status.runs  # one run, which waited for the late week and then landed it
    assert run.partitions == (landed, late) and stack.lake.stat(raw_key(file_of(late))) is not None
    assert stack.stats()["stats"]["numFailed"] == 0
