"""Failure alerts: a run-failure sensor that posts to Slack and/or a plain JSON webhook.

| variable | meaning |
|---|---|
| ``MTA_SLACK_WEBHOOK_URL`` | a Slack incoming webhook (``https://hooks.slack.com/services/...``) |
| ``MTA_ALERT_WEBHOOK_URL`` | any URL that accepts a JSON POST (PagerDuty/Opsgenie bridges, a chat bot, ...) |
| ``MTA_DAGSTER_UI_URL`` | the UI's address, for the link to the run (default ``http://127.0.0.1:3000``) |

With neither webhook set the sensor still runs and logs, once per failed run, that alerts are
off. Messages name the run, its job, the weeks (partition or range tags), the error and a link to
the run; never a webhook URL, a key or any other environment value. The payload builders are
plain functions, tested against a real HTTP server.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

SLACK_VARIABLE = "MTA_SLACK_WEBHOOK_URL"
WEBHOOK_VARIABLE = "MTA_ALERT_WEBHOOK_URL"
UI_VARIABLE = "MTA_DAGSTER_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
ERROR_LIMIT = 2500
"""Slack cuts a section's text at 3000 characters; keep the error under that."""


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job_name: str
    weeks: str
    """``2024-01-13``, ``2024-01-06..2024-02-24``, or ``(no partition)``."""
    error: str
    url: str


def run_weeks(tags: Mapping[str, str]) -> str:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return "(no partition)"


def run_url(run_id: str, ui_url: str | None = None) -> str:
    base = (ui_url or os.environ.get(UI_VARIABLE) or DEFAULT_UI_URL).rstrip("/")
    return f"{base}/runs/{run_id}"


def _clip(text: str, limit: int = ERROR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n... (truncated)"


def slack_payload(failed: FailedRun) -> dict[str, object]:
    """Slack's incoming-webhook format: ``text`` for notifications, ``blocks`` for the message."""
    title = f":red_circle: mta_lake run failed: {failed.job_name}, weeks {failed.weeks}"
    return {
        "text": f"{title} ({failed.url})",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Run*\n<{failed.url}|{failed.run_id[:8]}>"},
                    {"type": "mrkdwn", "text": f"*Weeks*\n{failed.weeks}"},
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{_clip(failed.error)}```"}},
        ],
    }


def json_payload(failed: FailedRun) -> dict[str, object]:
    return {
        "event": "run_failure",
        "source": "mta_lake",
        "run_id": failed.run_id,
        "job_name": failed.job_name,
        "weeks": failed.weeks,
        "error": _clip(failed.error, 20000),
        "run_url": failed.url,
    }


@dataclass(frozen=True)
class AlertTargets:
    slack_url: str | None
    webhook_url: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AlertTargets":
        env = os.environ if environ is None else environ
        return cls(env.get(SLACK_VARIABLE) or None, env.get(WEBHOOK_VARIABLE) or None)

    @property
    def configured(self) -> bool:
        return bool(self.slack_url or self.webhook_url)


def send_alert(failed: FailedRun, targets: AlertTargets, timeout: float = 10.0) -> list[str]:
    """Post to each configured target; return what happened, one line each (no URLs: they are secrets)."""
    outcomes = []
    for name, variable, url, payload in (
        ("Slack", SLACK_VARIABLE, targets.slack_url, slack_payload(failed)),
        ("webhook", WEBHOOK_VARIABLE, targets.webhook_url, json_payload(failed)),
    ):
        if not url:
            continue
        try:
            response = requests.post(url, json=payload, timeout=timeout)
            response.raise_for_status()
            outcomes.append(f"{name} alert sent ({variable})")
        except requests.RequestException as error:
            # The exception text would quote the URL, and a Slack webhook URL is a secret.
            status = getattr(getattr(error, "response", None), "status_code", None)
            outcomes.append(
                f"{name} alert NOT sent ({variable}): {type(error).__name__}"
                + (f", HTTP {status}" if status else "")
            )
    return outcomes


def describe_failure(context: RunFailureSensorContext) -> str:
    """The step failures' own descriptions (the asset names each failed week), else the run's message."""
    lines = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        description = data.user_failure_data.description if data.user_failure_data else None
        message = description or (_error_chain(data.error) if data.error else event.message)
        if message and message not in lines:
            lines.append(message)
    if not lines:
        lines.append(context.failure_event.message or "the run failed")
    return "\n".join(lines)


def _error_chain(error) -> str:
    """An error and its causes: "Exceeded max_retries" alone would hide what kept failing."""
    messages = []
    while error is not None and len(messages) < 4:
        messages.append(error.message.strip())
        error = error.cause
    return "\ncaused by: ".join(messages)


def failed_run_from_context(context: RunFailureSensorContext) -> FailedRun:
    run = context.dagster_run
    return FailedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        weeks=run_weeks(run.tags),
        error=describe_failure(context),
        url=run_url(run.run_id),
    )


@run_failure_sensor(
    name="alert_on_run_failure",
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=int(os.environ.get("MTA_ALERT_INTERVAL_SECONDS") or "15"),
    description=(
        f"Posts each failed run (job, weeks, error, link) to {SLACK_VARIABLE} and/or {WEBHOOK_VARIABLE}; "
        "logs that alerts are off when neither is set."
    ),
)
def alert_on_run_failure(context: RunFailureSensorContext) -> None:
    failed = failed_run_from_context(context)
    targets = AlertTargets.from_env()
    if not targets.configured:
        context.log.warning(
            f"run {failed.run_id} ({failed.job_name}, weeks {failed.weeks}) failed; alerts are OFF: "
            f"set {SLACK_VARIABLE} and/or {WEBHOOK_VARIABLE} to be told"
        )
        return
    for outcome in send_alert(failed, targets):
        context.log.info(f"run {failed.run_id}: {outcome}")
