"""Failure alerts, received by a real HTTP server on 127.0.0.1."""

from collections.abc import Iterator

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context, materialize

from mta_lake.core.alerts import AlertTargets, FailedRun, send_alert
from mta_lake.core.weeks import run_weeks_label
from mta_lake.defs.automation.alerts import alert_on_run_failure
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import LocalLakeResource, MtaSource
from mta_lake_harness.instances import instance_with_every_week
from mta_lake_harness.mirror import MtaMirror
from mta_lake_harness.webhook import WebhookServer

FAILED = FailedRun(
    run_id="0123456789abcdef",
    job_name="__ASSET_JOB",
    weeks="2024-01-06..2024-01-13",
    error="week 2024-01-13 (turnstile_240120.txt, http://x/turnstile_240120.txt): not published: HTTP 404",
    url="http://127.0.0.1:3000/runs/0123456789abcdef",
)


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def test_slack_and_json_payloads_are_posted(webhook: WebhookServer) -> None:
    targets = AlertTargets(slack_url=f"{webhook.url}/slack", webhook_url=f"{webhook.url}/hook")
    outcomes = send_alert(FAILED, targets)
    assert outcomes == [
        "Slack alert sent (MTA_SLACK_WEBHOOK_URL)",
        "webhook alert sent (MTA_ALERT_WEBHOOK_URL)",
    ]
    slack, plain = webhook.wait_for(2)
    assert webhook.paths == ["/slack", "/hook"]
    assert "__ASSET_JOB" in slack["text"] and "2024-01-06..2024-01-13" in slack["text"]
    assert FAILED.url in slack["text"]
    assert any("not published: HTTP 404" in str(block) for block in slack["blocks"])
    assert plain == {
        "event": "run_failure",
        "source": "mta_lake",
        "run_id": FAILED.run_id,
        "job_name": "__ASSET_JOB",
        "weeks": "2024-01-06..2024-01-13",
        "error": FAILED.error,
        "run_url": FAILED.url,
    }


def test_a_failing_webhook_is_reported_without_its_url() -> None:
    with WebhookServer(status=500) as server:
        outcomes = send_alert(FAILED, AlertTargets(slack_url=None, webhook_url=f"{server.url}/secret-token"))
    assert outcomes == ["webhook alert NOT sent (MTA_ALERT_WEBHOOK_URL): HTTPError, HTTP 500"]
    assert "secret-token" not in outcomes[0]


def test_run_weeks_from_tags() -> None:
    assert run_weeks_label({"dagster/partition": "2024-01-06"}) == "2024-01-06"
    assert (
        run_weeks_label(
            {
                "dagster/asset_partition_range_start": "2024-01-06",
                "dagster/asset_partition_range_end": "2024-01-20",
            }
        )
        == "2024-01-06..2024-01-20"
    )
    assert run_weeks_label({}) == "(no partition)"


def _failed_run_context(instance: DagsterInstance, mirror: MtaMirror, tmp_path):
    result = materialize(
        [raw_turnstile],
        partition_key="2024-01-13",  # turnstile_240120.txt: not on the mirror
        instance=instance,
        resources={
            "mta_source": MtaSource(site_url=mirror.url, max_retries=0),
            "lake": LocalLakeResource(path=str(tmp_path)),
        },
        raise_on_error=False,
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (failure,) = instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_FAILURE).records
    return build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure.event_log_entry.dagster_event,
    ).for_run_failure()


def test_failed_run_alert_names_run_week_error_and_link(webhook, mirror, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MTA_ALERT_WEBHOOK_URL", f"{webhook.url}/hook")
    monkeypatch.delenv("MTA_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("MTA_DAGSTER_UI_URL", "http://dagster.example:3000/")
    with instance_with_every_week() as instance:
        context = _failed_run_context(instance, mirror, tmp_path)
        alert_on_run_failure(context)
        (payload,) = webhook.wait_for(1)
    assert payload["run_id"] == context.dagster_run.run_id
    assert payload["weeks"] == "2024-01-13"
    assert payload["run_url"] == f"http://dagster.example:3000/runs/{context.dagster_run.run_id}"
    assert "week 2024-01-13" in payload["error"] and "turnstile_240120.txt" in payload["error"]
    assert "not published" in payload["error"]


def test_alerts_off_is_logged(mirror, tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.delenv("MTA_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("MTA_SLACK_WEBHOOK_URL", raising=False)
    with instance_with_every_week() as instance:
        context = _failed_run_context(instance, mirror, tmp_path)
        capfd.readouterr()
        alert_on_run_failure(context)
    assert "alerts are OFF: set MTA_SLACK_WEBHOOK_URL and/or MTA_ALERT_WEBHOOK_URL" in capfd.readouterr().err
