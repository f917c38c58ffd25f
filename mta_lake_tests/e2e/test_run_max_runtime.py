"""A stuck run ends: run monitoring's maximum runtime, through a real daemon (``dagster dev``).

The repo-root dagster.yaml as shipped (run monitoring on, ``max_runtime_seconds``), with the limit
shortened to 8 s and the monitoring poll to 1 s, so that the run ends seconds after it starts. The
week's download stalls for two minutes (the mirror holds the body; the read timeout and the download
deadline are longer), so only the maximum runtime can end the run. It does: the run is terminated
and marked FAILURE with Dagster's "Exceeded maximum runtime" message, the run-failure alert reaches
a webhook naming the run, and the run's download is stopped with it: its step fails, is not retried
(Dagster would retry an interrupted step that had a retry policy, and land the week after the run was
marked failed: ``mta_lake.defs.raw.assets.TRANSIENT_FAILURE_RETRY``), and nothing lands afterwards.
About 70 s, most of it ``dagster dev`` starting.
"""

import os
import time
from pathlib import Path

import pytest
import yaml

from mta_lake.core.lake import LocalLake
from mta_lake.tools.graphql import DagsterGraphQL
from mta_lake_harness.dagster_processes import REPO_ROOT, running_dagster_dev
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.graphql import run_event_types, run_status, sensor_selector
from mta_lake_harness.mirror import MtaMirror, Stall
from mta_lake_harness.paths import RAW_SAMPLES
from mta_lake_harness.webhook import WebhookServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SAMPLE = RAW_SAMPLES / "turnstile_170603.txt"
WEEK, FILE = "2024-06-01", "turnstile_240608.txt"
MAX_RUNTIME = 8
LAUNCH_RUN = """
mutation Materialize($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""


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
    result = client.execute(LAUNCH_RUN, {"params": params})["launchRun"]
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


def test_a_stuck_run_is_ended_at_its_maximum_runtime_and_reported(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["max_runtime_seconds"] > 0
    config["run_monitoring"].update(max_runtime_seconds=MAX_RUNTIME, poll_interval_seconds=1)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    lake = LocalLake(tmp_path / "lake")
    with MtaMirror() as mirror, WebhookServer() as webhook:
        mirror.add(FILE, SAMPLE.read_bytes())
        mirror.inject(FILE, Stall(120, after=2000))
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
        home = tmp_path / "dagster_home"
        with running_dagster_dev(
            env, home, port=port, config=tmp_path / "dagster.yaml", partitions=[WEEK]
        ) as dev:
            client = DagsterGraphQL(dev.url)
            run_id = materialize_week(client, "raw_turnstile", WEEK)
            started = time.monotonic()
            assert wait_for_status(client, run_id, timeout=120) == "FAILURE"
            ended = time.monotonic() - started
            error = client.run_error(run_id) or ""
            assert f"Exceeded maximum runtime of {MAX_RUNTIME} seconds" in error, error
            assert MAX_RUNTIME <= ended < 60, ended  # not the stall's two minutes
            assert mirror.gets(FILE) >= 1  # it was stuck in the download, not failing before it
            alerts = webhook.wait_for(1, timeout=60)
            assert any(alert.get("run_id") == run_id for alert in alerts), alerts
            # The terminated run's step ended with it, not up for a retry: it runs nothing more.
            step_ended = wait_for_step_end(client, run_id, timeout=60)
            assert step_ended == "ExecutionStepFailureEvent", run_event_types(client, run_id)
            # The terminated run's download was stopped with it: nothing lands after it ended.
            time.sleep(2)
            assert lake.list("") == [], "the terminated run's download carried on and landed"
