"""``alert_on_run_failure``: posts each failed run to Slack and/or a JSON webhook.

A thin skin over ``mta_lake.core.alerts``: it turns Dagster's failure context into a
``FailedRun`` (the step failures' own descriptions, which name each failed week) and sends it.
With neither webhook set it still runs and logs, once per failed run, that alerts are off.
"""

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from mta_lake.core import weeks
from mta_lake.core.alerts import (
    SLACK_VARIABLE,
    WEBHOOK_VARIABLE,
    AlertTargets,
    FailedRun,
    run_url,
    send_alert,
)
from mta_lake.defs.environment import SETTINGS, run_settings


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


def failed_run_from_context(context: RunFailureSensorContext, ui_url: str | None = None) -> FailedRun:
    run = context.dagster_run
    return FailedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        weeks=weeks.run_weeks_label(run.tags),
        error=describe_failure(context),
        # Read when the alert is sent, like the webhook targets: the link follows the current setting.
        url=run_url(run.run_id, ui_url or run_settings().ui_address),
    )


@run_failure_sensor(
    name="alert_on_run_failure",
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SETTINGS.alert_interval_seconds,
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
