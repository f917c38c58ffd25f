"""``mta-lake materialize WEEK``: one week of some weekly assets, run here and recorded in the instance.

What ``dagster asset materialize --partition`` does, said once: that command prints Dagster's event
log, where a failed step's reason appears twice (the step's failure, then the run's), each under a stack
trace, and it honours the asset's ``RetryPolicy``, so an unreachable site is reported minutes later.
Here the run goes to the same instance (``DAGSTER_HOME``; the UI shows it like any other), the event
log stays in the instance, and the outcome is one line per asset. Step retries are turned off for this
run (the executor's ``retries: disabled``); the source's own retries, with their one-line notices, still
apply.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    JobDefinition,
    execute_job,
    reconstructable,
)
from dagster._core.storage.tags import PARTITION_NAME_TAG
from dagster._utils.error import SerializableErrorInfo

from mta_lake.core.layout import WEEKLY_ASSETS

RUN_CONFIG = {
    # Step retries off: a person at a terminal wants the reason now (the job's in-process executor).
    "execution": {"config": {"retries": {"disabled": {}}}},
    # Dagster's event log stays in the instance; this command says the outcome itself, once.
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}


def weekly_assets_job() -> JobDefinition:
    """The weekly job (raw and every layer above it), rebuilt by ``execute_job`` from this module
    (``reconstructable``); a run selects some of its assets."""
    import warnings

    from dagster import BetaWarning

    # The assets' BackfillPolicy is "beta" in 1.13: a warning for the project's authors, not for this terminal.
    warnings.filterwarnings("ignore", category=BetaWarning)
    # The raw and clean weeks' BackfillPolicy differ from the mart's: a backfill matter, not one week's.
    warnings.filterwarnings("ignore", message="Asset job turnstile_week_job materializes assets with varying")
    from mta_lake.definitions import defs
    from mta_lake.defs.jobs import turnstile_week_job

    return defs.resolve_job_def(turnstile_week_job.name)


@dataclass
class Outcome:
    succeeded: bool
    lines: list[str] = field(default_factory=list)


def materialize_week(week: date, asset_names: Sequence[str]) -> Outcome:
    """Run ``asset_names`` for ``week`` in this process, on the instance in ``DAGSTER_HOME``."""
    unknown = [name for name in asset_names if name not in WEEKLY_ASSETS]
    if unknown:
        return Outcome(
            False, [f"not a weekly asset: {', '.join(unknown)} (choose from {', '.join(WEEKLY_ASSETS)})"]
        )
    keys = [AssetKey(name.split("/")) for name in asset_names]
    with DagsterInstance.get() as instance:
        result = execute_job(
            reconstructable(weekly_assets_job),
            instance,
            run_config=RUN_CONFIG,
            tags={PARTITION_NAME_TAG: week.isoformat(), "mta_lake/trigger": "cli"},
            asset_selection=keys,
        )
        events = result.all_events
    landed = {
        event.asset_key.to_user_string()
        for event in events
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key is not None
    }
    failures = {
        event.step_key: event.step_failure_data.error
        for event in events
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data is not None
    }
    lines = []
    for name in asset_names:
        step = name.replace("/", "__")
        if name in landed:
            lines.append(f"{name} {week.isoformat()}: materialized")
        elif step in failures and failures[step] is not None:
            lines.append(f"{name} {week.isoformat()}: failed: {_reason(failures[step])}")
        else:
            lines.append(f"{name} {week.isoformat()}: not materialized")
    lines.append(f"run {result.run_id} in {instance_description()}")
    return Outcome(result.success, lines)


def _reason(error: SerializableErrorInfo) -> str:
    """The innermost message of a step's error, without its class: the asset's own words (week, file,
    what went wrong)."""
    while error.cause is not None:
        error = error.cause
    message = " ".join(error.message.split())
    prefix, _, rest = message.partition(": ")
    return rest if rest and prefix.rsplit(".", 1)[-1] == error.cls_name else message


def instance_description() -> str:
    home = os.environ.get("DAGSTER_HOME")
    return f"the instance in {home}" if home else "an ephemeral instance (DAGSTER_HOME is not set)"
