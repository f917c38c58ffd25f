"""``mta-lake materialize WEEK``: one week through every layer (or some), run here and recorded in the instance.

What ``dagster asset materialize --partition`` does, said once and for exactly the week asked for:

- **The week must be published.** It must be a partition of ``turnstile_weeks`` (the published and
  landed weeks, ``mta_lake.core.published_weeks``). A week that is not one yet is looked up on the
  index page: published, the partitions are brought up to date first (what the ``watch_mta_index``
  sensor's next tick would do); not published, the week is refused before anything runs (exit 2,
  the file name expected and "not published"), and nothing is recorded.
- **Every layer by default** (raw, clean, mart); ``--select`` takes asset names or layer names. A
  selection gets what it needs: a mart model brings the mart models it reads from, and a layer
  whose week is not in the lake yet brings the layer below it (said in one line).
- **One line per asset**, about the week asked for: ``materialized``, or ``failed:`` and the reason
  (the week, the file, what went wrong) once; a run that recorded any other week is a failure. Dagster's
  and dbt's own output stays in the instance's event log (the UI shows the run); for a failed mart
  step the path of dbt's log is printed.
- **No step retries** (the executor's ``retries: disabled``): a person at a terminal wants the reason
  now, not after the asset's retry of transient failures (``TRANSIENT_FAILURE_RETRY``) has waited
  minutes; the source's own retries still apply.
"""

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    JobDefinition,
    execute_job,
    reconstructable,
)

from mta_lake.core import layout, reconcile, weeks
from mta_lake.core.layout import MART_MODELS, RAW_TURNSTILE, TURNSTILE_READINGS, WEEKLY_ASSETS
from mta_lake.core.published_weeks import PARTITIONS_NAME, not_published_message, plan_partitions
from mta_lake.core.settings import Settings

RUN_CONFIG = {
    # Step retries off: a person at a terminal wants the reason now (the job's in-process executor).
    "execution": {"config": {"retries": {"disabled": {}}}},
    # Dagster's event log stays in the instance; this command says the outcome itself, once.
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 2, 3


class WeekRefused(Exception):
    """The week cannot be run: not published (``code`` 2), or unknown because the index is unreadable (3)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    code: int
    lines: list[str] = field(default_factory=list)


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


def ensure_published_partition(instance: DagsterInstance, week: date, settings: Settings) -> None:
    """Make ``week`` a partition if it is published; raise ``WeekRefused`` if it is not (or cannot be told)."""
    key = week.isoformat()
    if instance.has_dynamic_partition(PARTITIONS_NAME, key):
        return
    from mta_lake.core.lake import open_lake
    from mta_lake.core.source import site_from_settings
    from mta_lake.defs.automation.in_flight import in_flight
    from mta_lake.defs.partitions import apply_partition_plan

    site = site_from_settings(settings)
    try:
        published = site.published_file_dates()
    finally:
        site.close()
    if published is None:
        raise WeekRefused(
            f"week {key}: not a partition yet, and the MTA index page ({site.index_url}) could not be "
            "read to tell whether it is published (the reason is above); nothing was run",
            EXIT_UNREACHABLE,
        )
    if week not in weeks.map_published_weeks(published):
        raise WeekRefused(not_published_message(week, site.index_url) + "; nothing was run", EXIT_REFUSED)
    in_lake = list(reconcile.lake_weeks(reconcile.read_lake(open_lake(settings))))
    now = datetime.now(weeks.NEW_YORK)
    plan = plan_partitions(
        instance.get_dynamic_partitions(PARTITIONS_NAME),
        published,
        in_lake,
        in_flight(instance).weeks,
        now,
        timedelta(seconds=settings.late_file_grace_seconds),
    )
    apply_partition_plan(instance, plan)
    if not instance.has_dynamic_partition(PARTITIONS_NAME, key):
        # Older than the newest key while runs are in flight: added out of order (the sensor sorts later).
        instance.add_dynamic_partitions(PARTITIONS_NAME, [key])


def with_what_it_needs(
    selected: Sequence[str], week: date, settings: Settings
) -> tuple[list[str], list[str]]:
    """The selection plus the mart models a selected model reads, plus a lower layer whose week is not in
    the lake yet; and one line for each thing added."""
    from mta_lake.core.lake import open_lake

    chosen = list(selected)
    notes: list[str] = []
    mart = [name for name in MART_MODELS if name in chosen]
    if mart:
        needed = _mart_upstream(mart)
        added = [name for name in MART_MODELS if name in needed and name not in chosen]
        if added:
            notes.append(f"also building {', '.join(added)}: {', '.join(mart)} read(s) from them")
            chosen += added
    key = week.isoformat()
    lake = open_lake(settings)
    if mart and TURNSTILE_READINGS not in chosen and lake.stat(layout.clean_readings_key(key)) is None:
        notes.append(f"also building {TURNSTILE_READINGS}: week {key} is not in the clean layer yet")
        chosen.append(TURNSTILE_READINGS)
    if TURNSTILE_READINGS in chosen and RAW_TURNSTILE not in chosen:
        landed = reconcile.lake_weeks(reconcile.read_lake(lake))
        if week not in landed:
            notes.append(f"also building {RAW_TURNSTILE}: week {key} is not in the lake yet")
            chosen.append(RAW_TURNSTILE)
    return [name for name in WEEKLY_ASSETS if name in chosen], notes


def _mart_upstream(models: Sequence[str]) -> set[str]:
    """Every mart model the given models read from, directly or not (from the definitions' asset graph)."""
    from mta_lake.definitions import defs

    graph = defs.resolve_asset_graph()
    seen: set[str] = set()
    todo = [AssetKey(name) for name in models]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            name = parent.to_user_string()
            if name in MART_MODELS and name not in seen:
                seen.add(name)
                todo.append(parent)
    return seen


def materialize_week(week: date, selected: Sequence[str], settings: Settings | None = None) -> Outcome:
    """Run ``selected`` (and what they need) for ``week`` in this process, on the instance in ``DAGSTER_HOME``."""
    settings = settings or Settings.from_env()
    with DagsterInstance.get() as instance:
        ensure_published_partition(instance, week, settings)
        names, notes = with_what_it_needs(selected, week, settings)
        # dagster-dbt echoes dbt's log lines to stdout; they are in dbt's own log and the run's event log.
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            result = execute_job(
                reconstructable(weekly_assets_job),
                instance,
                run_config=RUN_CONFIG,
                tags={weeks.PARTITION_TAG: week.isoformat(), "mta_lake/trigger": "cli"},
                asset_selection=[AssetKey(name.split("/")) for name in names],
            )
        events = result.all_events
    lines = list(notes)
    succeeded = result.success
    key = week.isoformat()
    recorded: dict[str, set[str]] = {}
    for event in events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key is not None:
            partition = event.event_specific_data.materialization.partition  # type: ignore[union-attr]
            recorded.setdefault(event.asset_key.to_user_string(), set()).add(partition or "(no partition)")
    failures = {
        event.step_key: event.step_failure_data.error
        for event in events
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data is not None
    }
    mart_failed = False
    for name in names:
        weeks_recorded = recorded.get(name, set())
        other = sorted(weeks_recorded - {key})
        if other:
            succeeded = False
            lines.append(f"{name} {key}: FAILED: the run recorded week(s) {', '.join(other)}, not {key}")
        elif key in weeks_recorded:
            lines.append(f"{name} {key}: materialized")
        else:
            succeeded = False
            reason = _step_failure(failures, name)
            mart_failed = mart_failed or name in MART_MODELS
            lines.append(
                f"{name} {key}: " + (f"failed: {reason}" if reason else _not_run_reason(name, failures))
            )
    if mart_failed:
        from mta_lake.core.mart.dbt_project import warehouse_from_settings

        lines.append(f"dbt's log: {warehouse_from_settings(settings).work_dir / 'logs' / 'dbt.log'}")
    lines.append(f"run {result.run_id} in {instance_description()}")
    return Outcome(EXIT_OK if succeeded else EXIT_FAILED, lines)


def _step_failure(failures: dict[str | None, object], name: str) -> str | None:
    """The failure of the step that computes ``name`` (the mart's models share one step)."""
    step = name.replace("/", "__")
    error = failures.get(step)
    if error is None and name in MART_MODELS:
        error = next((e for s, e in failures.items() if s and "ridership_mart" in s), None)
    return _reason(error) if error is not None else None


def _not_run_reason(name: str, failures: dict[str | None, object]) -> str:
    if failures:
        return "not materialized: an earlier step failed (above)"
    return "not materialized: its step ran but recorded nothing for this week"


def _reason(error: object) -> str:
    """The innermost message of a step's error, without its class: the asset's own words (week, file,
    what went wrong)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    message = " ".join(str(getattr(error, "message", error)).split())
    prefix, _, rest = message.partition(": ")
    return rest if rest and prefix.rsplit(".", 1)[-1] == getattr(error, "cls_name", None) else message


def instance_description() -> str:
    home = os.environ.get("DAGSTER_HOME")
    return f"the instance in {home}" if home else "an ephemeral instance (DAGSTER_HOME is not set)"
