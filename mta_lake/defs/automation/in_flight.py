"""Which weeks a run or a backfill not yet finished will land (what the sensors must leave alone)."""

from dataclasses import dataclass

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from mta_lake.core import weeks
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.defs.dagster_private import unfinished_backfill_targets

RECONCILE_TAG = "mta_lake/reconcile"
"""Tags the backfills the reconciliation sensor requests (it keeps one in flight at a time)."""

UNFINISHED_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class InFlight:
    weeks: frozenset[str]
    """Weeks some unfinished run or backfill targets."""
    reconciling: bool
    """A backfill the reconciliation sensor requested is unfinished."""


def in_flight(instance: DagsterInstance) -> InFlight:
    """The weeks unfinished runs and backfills target, ranges resolved against the partition keys."""
    keys = instance.get_dynamic_partitions(PARTITIONS_NAME)
    flying: set[str] = set()
    for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED_RUN_STATUSES)):
        flying.update(weeks.run_weeks(run.tags, keys))
    reconciling = False
    for tags, targeted in unfinished_backfill_targets(instance):
        reconciling = reconciling or bool(tags.get(RECONCILE_TAG))
        flying.update(targeted)
    return InFlight(frozenset(flying), reconciling)
