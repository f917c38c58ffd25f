"""Failure alerts: the messages and their delivery to Slack and/or a plain JSON webhook.

Plain Python, no Dagster; the run-failure sensor (``mta_lake.defs.automation.alerts``) builds a
``FailedRun`` and calls ``send_alert``. Messages name the run, its job, the weeks, the error and a
link to the run; never a webhook URL, a key or any other environment value. The targets
(``MTA_SLACK_WEBHOOK_URL``, ``MTA_ALERT_WEBHOOK_URL``) are secrets: read when an alert is sent,
never kept or logged (docs/SETTINGS.md).
"""

from collections.abc import Mapping
from dataclasses import dataclass

import requests

from mta_lake.core import settings

SLACK_VARIABLE = "MTA_SLACK_WEBHOOK_URL"
WEBHOOK_VARIABLE = "MTA_ALERT_WEBHOOK_URL"
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


def run_url(run_id: str, ui_url: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


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
        return cls(settings.secret(SLACK_VARIABLE, environ), settings.secret(WEBHOOK_VARIABLE, environ))

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
