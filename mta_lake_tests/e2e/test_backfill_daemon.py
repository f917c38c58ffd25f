"""End to end through a real daemon: ``dagster dev``, asset backfills over GraphQL, the CLI, alerts.

One ``dagster dev`` for the module (about 8 s to start). The backfills run side by side to stay
within the backfill daemon's 30 s tick: each is checked on its own runs.

- 4 weeks, all published, ``MTA_WEEKS_PER_RUN=2``: 4 lake objects, 2 runs (the BackfillPolicy).
- 3 weeks, the middle one withheld upstream (the mirror answers 404 and does not list it): that
  week fails with a message naming it, the other two land, and an alert reaches a local webhook.
- ``mta-lake backfill --missing-only --wait`` over 2 weeks, one already in the lake: lands only
  the other one; then ``mta-lake status`` reports each week's state.
- Then the reconciliation sensor, switched on as in the UI: a deleted lake object comes back, a
  newly published week lands, and the week put in the lake by hand is recorded, not downloaded.
"""

import contextlib
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import MART_MODELS, clean_readings_key, raw_key
from mta_lake.tools.graphql import DagsterGraphQL
from mta_lake_harness.dagster_processes import DagsterDev, running_dagster_dev
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.graphql import run_status, start_sensor
from mta_lake_harness.instances import every_ended_week
from mta_lake_harness.mirror import MtaMirror, Stall
from mta_lake_harness.paths import RAW_SAMPLES
from mta_lake_harness.webhook import WebhookServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MTA_LAKE = str(Path(sys.executable).parent / "mta-lake")
SAMPLE = RAW_SAMPLES / "turnstile_170603.txt"  # new format

FILES = "/developers/data/nyct/turnstile/"
POLICY_WEEKS = ["2024-03-02", "2024-03-09", "2024-03-16", "2024-03-23"]
WITHHELD_WEEK = "2024-04-13"  # file turnstile_240420.txt: never served
FAILING_WEEKS = ["2024-04-06", WITHHELD_WEEK, "2024-04-20"]
CLI_WEEKS = ["2024-05-04", "2024-05-11"]  # 2024-05-04 is put in the lake by hand beforehand
SERVED_FILES = [
    "turnstile_240309.txt",
    "turnstile_240316.txt",
    "turnstile_240323.txt",
    "turnstile_240330.txt",
    "turnstile_240413.txt",
    "turnstile_240427.txt",
    "turnstile_240511.txt",
    "turnstile_240518.txt",
]


@dataclass
class Stack:
    dev: DagsterDev
    mirror: MtaMirror
    lake: LocalLake
    webhook: WebhookServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e-backfill")
    data = SAMPLE.read_bytes()
    lake = LocalLake(root / "lake")
    with lake.writer(raw_key("turnstile_240511.txt")) as pending:  # "landed by an older pipeline"
        pending.write(gzip.compress(data))
        pending.metadata["source_bytes"] = str(len(data))
    with MtaMirror() as mirror, WebhookServer() as webhook:
        for name in SERVED_FILES:
            mirror.add(name, data)
        env = dict(os.environ)
        env.update(
            MTA_SITE_URL=mirror.url,
            MTA_LAKE_URL=str(lake.root),
            MTA_WEEKS_PER_RUN="2",
            # The sensor would land every listed week on its own; this test drives backfills.
            MTA_RECONCILE_SENSOR="stopped",
            # Keeps the withheld week a partition (made one below, as if it had been published when
            # the backfill was launched): this test launches it to see it fail, naming "not published".
            MTA_INDEX_WATCH_SENSOR="stopped",
            MTA_RECONCILE_INTERVAL_SECONDS="10",
            MTA_RECONCILE_MAX_WEEKS="16",
            MTA_ALERT_WEBHOOK_URL=f"{webhook.url}/alerts",
            MTA_ALERT_INTERVAL_SECONDS="5",
        )
        env.pop("MTA_SLACK_WEBHOOK_URL", None)
        port = free_port()
        env["MTA_DAGSTER_UI_URL"] = f"http://127.0.0.1:{port}"  # the alert's link to the run
        with running_dagster_dev(env, root / "dagster_home", port=port, partitions=every_ended_week()) as dev:
            yield Stack(dev, mirror, lake, webhook, env)


def test_backfills_through_graphql_and_the_cli(stack: Stack) -> None:
    client = DagsterGraphQL(stack.dev.url)
    policy_id = client.launch_asset_backfill(POLICY_WEEKS)
    failing_id = client.launch_asset_backfill(FAILING_WEEKS)
    cli = subprocess.Popen(
        [MTA_LAKE, "backfill", *CLI_WEEKS, "--missing-only", "--wait", "--timeout", "450", "--poll", "2"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Three backfills at once through a daemon that plans every 30 s: about 150-180 s on CI's 2 cores,
        # once 300 s (still planning the mart with every week landed) while the load test ran beside it.
        policy = client.wait_for_backfill(policy_id, timeout=450)
        failing = client.wait_for_backfill(failing_id, timeout=450)
        cli_out, _ = cli.communicate(timeout=450)
    finally:
        if cli.poll() is None:
            cli.kill()

    # Every week of the first backfill landed and was cleaned in runs of MTA_WEEKS_PER_RUN=2 weeks;
    # the mart took the weeks in runs of its own (BackfillPolicy.single_run: one run for the weeks
    # ready when the daemon plans it, so one or two runs, whichever the timing).
    assert policy.succeeded, policy
    assert policy.materialized == 4
    landing_runs = [run for run in policy.runs if "raw_turnstile" in run.assets]
    assert sorted(len(run.partitions) for run in landing_runs) == [2, 2]
    mart_runs = [run for run in policy.runs if run not in landing_runs]
    assert mart_runs and all(set(run.assets) <= set(MART_MODELS) for run in mart_runs)
    # (The mart's models may go in several runs, some of them each, as their upstream weeks are done.)
    assert sorted({week for run in mart_runs for week in run.partitions}) == POLICY_WEEKS
    for week in ("240309", "240316", "240323", "240330"):
        stored = stack.lake.stat(raw_key(f"turnstile_{week}.txt"))
        assert stored is not None
        with stack.lake.open_read(stored.key) as handle:
            assert gzip.decompress(handle.read()) == SAMPLE.read_bytes()

    # The withheld week failed with a message naming it; the others landed.
    assert failing.is_finished and not failing.succeeded
    assert list(failing.failed_weeks) == [WITHHELD_WEEK], failing.runs
    # Its run-mate landed, and the run stopped before cleaning it: said so, not counted as failed.
    assert list(failing.incomplete_weeks) == ["2024-04-06"], failing.runs
    message = failing.failed_weeks[WITHHELD_WEEK]
    assert "week 2024-04-13" in message and "turnstile_240420.txt" in message and "not published" in message
    assert stack.lake.stat(raw_key("turnstile_240413.txt")) is not None
    assert stack.lake.stat(raw_key("turnstile_240427.txt")) is not None
    assert stack.lake.stat(raw_key("turnstile_240420.txt")) is None
    assert failing.materialized == 2 and failing.failed == 1

    # And the failure reached the webhook, naming the run, the weeks and the error.
    alerts = stack.webhook.wait_for(1, timeout=60)
    failed_run_ids = {run.run_id for run in failing.runs if run.status == "FAILURE"}
    alert = next(a for a in alerts if a["run_id"] in failed_run_ids)
    assert WITHHELD_WEEK in alert["weeks"]
    assert "turnstile_240420.txt" in alert["error"]
    assert alert["run_url"] == f"{stack.dev.url}/runs/{alert['run_id']}"

    # mta-lake backfill --missing-only skipped the week already in the lake and landed the other.
    assert cli.returncode == 0, cli_out
    assert "--missing-only: 1 week(s) absent from the lake; skipping 1 landed" in cli_out
    assert "result: every week landed" in cli_out
    assert "1/1 weeks landed" in cli_out
    assert stack.lake.stat(raw_key("turnstile_240518.txt")) is not None

    # mta-lake status against the running instance.
    status = subprocess.run(
        [MTA_LAKE, "status", "--from", "2024-03-02", "--to", "2024-05-11", "--json", "--url", stack.dev.url],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)["weeks"]
    assert report["landed"] == [*POLICY_WEEKS, "2024-04-06", "2024-04-20", "2024-05-11"]
    assert report["unrecorded"] == ["2024-05-04"]  # in the lake, never recorded by Dagster
    assert WITHHELD_WEEK in report["not_published"]
    assert report["missing"] == [] and report["lost"] == []


def test_cli_backfill_reports_unknown_instance_cleanly(stack: Stack) -> None:
    result = subprocess.run(
        [MTA_LAKE, "backfill", "2024-03-02", "2024-03-09", "--url", "http://127.0.0.1:9"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "no Dagster webserver at http://127.0.0.1:9" in result.stderr


KILLED_WEEK = "2024-06-08"  # file turnstile_240615.txt


def _run_process_ids(dagster_home: Path, run_id: str) -> set[int]:
    """Every process a run reported starting (run worker, step subprocess) from its event log."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        messages = [entry.message or "" for entry in instance.all_logs(run_id)]
    return {int(pid) for message in messages for pid in re.findall(r"\bpid: (\d+)", message)}


def test_run_killed_mid_download_is_marked_failed_and_the_next_run_lands(stack: Stack) -> None:
    name = "turnstile_240615.txt"
    data = SAMPLE.read_bytes()
    stack.mirror.add(name, data)
    # The first download stops half-way and hangs there, so the run is caught mid-transfer.
    stack.mirror.inject(name, Stall(seconds=120, after=len(data) // 2))
    client = DagsterGraphQL(stack.dev.url)
    first = client.launch_asset_backfill([KILLED_WEEK], asset_keys=["raw_turnstile"])
    deadline = time.monotonic() + 120
    while stack.mirror.gets(name) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stack.mirror.gets(name) == 1, "the run never started downloading"
    (run,) = client.backfill_status(first).runs
    pids = _run_process_ids(stack.dev.dagster_home, run.run_id)
    assert pids, "the run reported no process id"
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    # Nothing may notice the kill from inside the run; Dagster must see the process gone.
    deadline = time.monotonic() + 120
    while (status := run_status(client, run.run_id)) not in {"FAILURE", "SUCCESS"}:
        assert time.monotonic() < deadline, f"the killed run is still {status} after 120 s"
        time.sleep(1)
    assert status == "FAILURE"
    assert stack.lake.stat(raw_key(name)) is None, "a killed download left an object behind"
    assert not [
        p
        for p in (stack.lake.root / "raw" / "turnstile").iterdir()
        if name in p.name and not p.name.startswith(".")
    ]

    again = client.wait_for_backfill(
        client.launch_asset_backfill([KILLED_WEEK], asset_keys=["raw_turnstile"]), timeout=180
    )
    assert again.succeeded, again.summary()
    with stack.lake.open_read(raw_key(name)) as handle:
        assert gzip.decompress(handle.read()) == data


def test_reconcile_sensor_restores_lands_and_records(stack: Stack) -> None:
    client = DagsterGraphQL(stack.dev.url)
    lost_key = raw_key("turnstile_240309.txt")
    assert stack.lake.stat(lost_key) is not None, "the backfill test lands this week first"
    stack.lake.delete(lost_key)
    stack.mirror.add("turnstile_240601.txt", SAMPLE.read_bytes())  # week 2024-05-25, new
    downloads_of_hand_landed = stack.mirror.requests[f"{FILES}turnstile_240511.txt"]

    assert start_sensor(client, "reconcile_raw_turnstile") == "RUNNING"
    deadline = time.monotonic() + 180
    wanted = {"2024-03-02", "2024-05-04", "2024-05-25"}
    while time.monotonic() < deadline:
        recorded = client.partition_statuses()["materialized"]
        cleaned = client.partition_statuses("turnstile_readings")["materialized"]
        if (
            wanted <= recorded
            and wanted <= cleaned
            and stack.lake.stat(lost_key)
            and stack.lake.stat(raw_key("turnstile_240601.txt"))
        ):
            break
        time.sleep(2)
    else:
        pytest.fail(
            f"the sensor did not reconcile within 180 s: recorded {sorted(recorded)}, cleaned {sorted(cleaned)}"
        )
    # The clean weeks followed without anyone asking: in the landing runs (2024-03-02, 2024-05-25)
    # and, for the week landed by hand before, in a cleaning run of its own (2024-05-04).
    for week in wanted:
        assert stack.lake.stat(clean_readings_key(week)) is not None, week
    with stack.lake.open_read(lost_key) as handle:
        assert gzip.decompress(handle.read()) == SAMPLE.read_bytes()
    # Recorded from the lake object's metadata, never downloaded.
    assert stack.mirror.requests[f"{FILES}turnstile_240511.txt"] == downloads_of_hand_landed
