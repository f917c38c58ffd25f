"""A stuck run ends, through a real daemon (``dagster dev``): at its maximum runtime, or cancelled.

The repo-root dagster.yaml as shipped (run monitoring on, ``max_runtime_seconds``), with the limit
shortened to 8 s and the monitoring poll to 1 s, so that the run ends seconds after it starts. The
week's download stalls for two minutes (the mirror holds the body; the download deadline is longer),
so only the maximum runtime, or a person pressing Terminate, can end the run. It ends: FAILURE with
Dagster's "Exceeded maximum runtime" message and the run-failure alert naming the run, or CANCELED; and
the run's download is stopped with it: its step fails, is not retried (Dagster would retry an
interrupted step that had a retry policy, and land the week after the run had ended:
``mta_lake.defs.raw.assets.TRANSIENT_FAILURE_RETRY``), and nothing lands afterwards.
About 90 s for the module, most of it ``dagster dev`` starting (once).
"""

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from mta_lake.core.lake import LocalLake
from mta_lake.tools.graphql import DagsterGraphQL
from mta_lake.tools.graphql.queries import LAUNCH_RUN_MUTATION
from mta_lake_harness.dagster_processes import REPO_ROOT, running_dagster_dev
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.graphql import run_event_types, run_status, sensor_selector, terminate_run
from mta_lake_harness.mirror import MtaMirror, Stall
from mta_lake_harness.paths import RAW_SAMPLES
from mta_lake_harness.webhook import WebhookServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SAMPLE = RAW_SAMPLES / "turnstile_170603.txt"
WEEK, FILE = "2024-06-01", "turnstile_240608.txt"
CANCELLED_WEEK, CANCELLED_FILE = "2024-06-08", "turnstile_240615.txt"
MAX_RUNTIME = 8


def materialize_week(client: DagsterGraphQL, asset: str, week: str) -> str:
    """Launch one run of ``asset`` for ``week``, as the UI's Materialize button does; its run id."""
    where = sensor_selector(client, "alert_on_run_failure")
    params = {
        "selector": {
            "repositoryLocationName": where["repositoryLocationName"],
            "repositoryName": where["repositoryName"],
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": [asset]}],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": week}]},
    }
    result = client.execute(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def wait_for_status(client: DagsterGraphQL, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (status := run_status(client, run_id)) not in ("SUCCESS", "FAILURE", "CANCELED"):
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout:.0f} s"
        time.sleep(0.5)
    return status


def wait_for_step_end(client: DagsterGraphQL, run_id: str, timeout: float) -> str:
    """How the run's step ended: its first failure, retry or success event (the step outlives the
    run's status, which run monitoring sets before the run worker is interrupted)."""
    ends = ("ExecutionStepFailureEvent", "ExecutionStepUpForRetryEvent", "ExecutionStepSuccessEvent")
    deadline = time.monotonic() + timeout
    while not (ended := [kind for kind in run_event_types(client, run_id) if kind in ends]):
        assert time.monotonic() < deadline, f"run {run_id}: its step has not ended after {timeout:.0f} s"
        time.sleep(0.5)
    return ended[0]


@dataclass(frozen=True)
class Stack:
    """``dagster dev`` on the shipped dagster.yaml (maximum runtime shortened), the mirror and the lake
    it lands from and into, and the webhook its run-failure alerts reach."""

    client: DagsterGraphQL
    mirror: MtaMirror
    lake: LocalLake
    webhook: WebhookServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("run_ends")
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["max_runtime_seconds"] > 0
    config["run_monitoring"].update(max_runtime_seconds=MAX_RUNTIME, poll_interval_seconds=1)
    (root / "dagster.yaml").write_text(yaml.safe_dump(config))
    lake = LocalLake(root / "lake")
    with MtaMirror() as mirror, WebhookServer() as webhook:
        for name in (FILE, CANCELLED_FILE):
            mirror.add(name, SAMPLE.read_bytes())
        port = free_port()
        env = {
            **os.environ,
            "MTA_SITE_URL": mirror.url,
            "MTA_LAKE_URL": str(lake.root),
            "MTA_RECONCILE_SENSOR": "stopped",
            "MTA_INDEX_WATCH_SENSOR": "stopped",
            "MTA_ALERT_WEBHOOK_URL": f"{webhook.url}/alerts",
            "MTA_ALERT_INTERVAL_SECONDS": "2",
            "MTA_DAGSTER_UI_URL": f"http://127.0.0.1:{port}",
        }
        env.pop("MTA_SLACK_WEBHOOK_URL", None)
        with running_dagster_dev(
            env,
            root / "dagster_home",
            port=port,
            config=root / "dagster.yaml",
            partitions=[WEEK, CANCELLED_WEEK],
        ) as dev:
            yield Stack(DagsterGraphQL(dev.url), mirror, lake, webhook)


def landed(lake: LocalLake, name: str) -> list[str]:
    return [entry.key for entry in lake.list("") if name in entry.key]


def test_a_stuck_run_is_ended_at_its_maximum_runtime_and_reported(stack: Stack) -> None:
    client, mirror = stack.client, stack.mirror
    mirror.inject(FILE, Stall(120, after=2000))
    run_id = materialize_week(client, "raw_turnstile", WEEK)
    started = time.monotonic()
    assert wait_for_status(client, run_id, timeout=120) == "FAILURE"
    ended = time.monotonic() - started
    error = client.run_error(run_id) or ""
    assert f"Exceeded maximum runtime of {MAX_RUNTIME} seconds" in error, error
    assert MAX_RUNTIME <= ended < 60, ended  # not the stall's two minutes
    assert mirror.gets(FILE) >= 1  # it was stuck in the download, not failing before it
    alerts = stack.webhook.wait_for(1, timeout=60)
    assert any(alert.get("run_id") == run_id for alert in alerts), alerts
    # The terminated run's step ended with it, not up for a retry: it runs nothing more.
    step_ended = wait_for_step_end(client, run_id, timeout=60)
    assert step_ended == "ExecutionStepFailureEvent", run_event_types(client, run_id)
    # The terminated run's download was stopped with it: nothing lands after it ended.
    time.sleep(2)
    assert landed(stack.lake, FILE) == [], "the terminated run's download carried on and landed"


def test_a_run_cancelled_from_the_ui_is_canceled_and_lands_nothing_after(stack: Stack) -> None:
    client, mirror = stack.client, stack.mirror
    mirror.inject(CANCELLED_FILE, Stall(120, after=2000))
    run_id = materialize_week(client, "raw_turnstile", CANCELLED_WEEK)
    # The run is in the download (requested and held mid-body; the mirror's stall count would also
    # count the previous test's stall, which outlives its run on the server's side).
    deadline = time.monotonic() + 60
    while mirror.gets(CANCELLED_FILE) < 1:
        assert time.monotonic() < deadline, "the run never asked for its file"
        time.sleep(0.2)
    time.sleep(1)
    terminate_run(client, run_id)
    assert wait_for_status(client, run_id, timeout=60) == "CANCELED"
    step_ended = wait_for_step_end(client, run_id, timeout=60)
    assert step_ended == "ExecutionStepFailureEvent", run_event_types(client, run_id)
    time.sleep(2)
    assert mirror.gets(CANCELLED_FILE) == 1  # never downloaded again
    assert landed(stack.lake, CANCELLED_FILE) == [], "the cancelled run's download carried on and landed"
