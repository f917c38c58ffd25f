"""Which weeks are partitions: the weeks the MTA published, kept in order.

Plain Python, no Dagster. ``turnstile_weeks`` is a set of partition keys held by the Dagster
instance (``mta_lake.defs.partitions``): every ended week whose file the index page lists, and every
week already in the lake. A week the MTA never published is not a partition, so the UI never shows
it as missing, "Materialize missing" never offers it and no backfill launches it; a week whose file
appears later becomes one on the next tick of the ``watch_mta_index`` sensor. Because the keys live
in the instance, every process (webserver, daemon, run workers, the CLI) sees the same keys at once,
with no reload of the code location and whatever port the webserver listens on.

``plan_partitions`` decides, from the keys there are now and what the index and the lake say, which
keys to add and which to delete:

- **add** every published or landed week that is not a partition yet;
- **keep** a key that is published or landed, that a run or backfill in flight targets (a backfill
  whose partitions vanish fails as a whole), or whose publication deadline has not passed (the week
  the weekly schedule is waiting for);
- **delete** the rest: weeks with no file past their deadline (a week the schedule waited for in
  vain, a file withdrawn from the index), and keys that are not weeks at all;
- **order**: Dagster orders the keys as they were added, and a range of partitions (a backfill's
  runs, the UI's range picker) is a run of consecutive keys in that order. Keys are added in week
  order; a week that appears *before* the newest key (an old file published late) is inserted by
  deleting the keys after it and adding them back in order (their history stays: materialisations
  belong to the key, not to its place). That is done only when nothing is in flight; until then the
  week waits (``deferred``), so a running backfill never sees its keys move.

An unreadable index changes nothing but adds landed weeks: missing cannot be told from unpublished.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mta_lake.core import weeks

PARTITIONS_NAME = "turnstile_weeks"
"""The name of the dynamic partitions definition in the Dagster instance."""


@dataclass(frozen=True)
class PartitionPlan:
    """The changes that make the partition keys equal the published (and landed) weeks, in order."""

    delete: tuple[str, ...] = ()
    """Keys to delete first (no file and past their deadline, not weeks, or moved to restore order)."""
    add: tuple[str, ...] = ()
    """Keys to add next, in this order."""
    unpublished: tuple[str, ...] = ()
    """The deleted keys that are weeks with no published file (for the log)."""
    deferred: tuple[str, ...] = ()
    """Published weeks not added yet: they belong before the newest key, and runs are in flight."""

    @property
    def changed(self) -> bool:
        return bool(self.delete or self.add)

    @property
    def moved(self) -> tuple[str, ...]:
        """Keys deleted and added back only to restore week order."""
        return tuple(key for key in self.delete if key in set(self.add))


def _week(key: str) -> date | None:
    try:
        week = date.fromisoformat(key)
    except ValueError:
        return None
    return week if week.weekday() == 5 and week >= weeks.FIRST_WEEK else None


def partition_weeks(published: Iterable[date], in_lake: Iterable[date], now: datetime) -> list[date]:
    """Every week that should be a partition at ``now``: ended with a published file, or in the lake."""
    newest = weeks.latest_ended_week(now)
    by_week = weeks.map_published_weeks(published)
    return sorted({week for week in by_week if week <= newest} | set(in_lake))


def plan_partitions(
    current: Sequence[str],
    published: Sequence[date] | None,
    in_lake: Iterable[date] | None,
    in_flight: Iterable[str],
    now: datetime,
    grace: timedelta = weeks.PUBLICATION_GRACE,
) -> PartitionPlan:
    """What to delete and add so that ``current`` becomes the published and landed weeks, in week order.

    ``published``: the index page's file dates, or None when it could not be read. ``in_lake``: weeks
    whose raw file is in the lake, or None when the lake could not be listed. Either None: nothing
    is deleted (a missing week cannot be told from an unpublished one, nor a landed one from a
    vanished one). ``in_flight``: keys a run or a backfill not yet finished targets.
    """
    flying = set(in_flight)
    wanted = {week.isoformat() for week in partition_weeks(published or [], in_lake or [], now)}
    if published is None or in_lake is None:
        wanted |= {key for key in current if _week(key)}

    def keep(key: str) -> bool:
        week = _week(key)
        if key in flying or key in wanted:
            return True
        # A week the schedule (or a person) asked for before its file is up stays until its deadline.
        return week is not None and now < weeks.publication_deadline(week, grace)

    deleted = [key for key in current if not keep(key)]
    remaining = [key for key in current if keep(key)]
    missing = sorted(wanted - set(current))
    in_order = remaining == sorted(remaining) and (not remaining or not missing or missing[0] > remaining[-1])
    deferred: list[str] = []
    if in_order:
        added = missing
    elif flying:
        # Restoring the order would delete and re-add keys under a running backfill: wait.
        tail = remaining[-1] if remaining == sorted(remaining) else max(remaining)
        added = [key for key in missing if key > tail]
        deferred = [key for key in missing if key <= tail]
    else:
        target = sorted(set(remaining) | set(missing))
        prefix = 0
        while prefix < len(remaining) and remaining[prefix] == target[prefix]:
            prefix += 1
        deleted += remaining[prefix:]
        added = target[prefix:]
    unpublished = [key for key in deleted if _week(key) and key not in wanted and key not in added]
    return PartitionPlan(
        delete=tuple(deleted), add=tuple(added), unpublished=tuple(unpublished), deferred=tuple(deferred)
    )


def unpublished_weeks(requested: Iterable[date], published: Sequence[date]) -> list[date]:
    """The weeks of ``requested`` that have no published file (ended or not), in order."""
    by_week = weeks.map_published_weeks(published)
    return sorted(week for week in set(requested) if week not in by_week)


def not_published_message(week: date, index_url: str) -> str:
    """One line for a week with no file: the week, the file name expected and "not published"."""
    expected = weeks.file_name(weeks.week_end(week))
    return (
        f"week {week.isoformat()}: not published: the MTA index ({index_url}) lists no "
        f"{expected} (nor any file within 3 days of {weeks.week_end(week).isoformat()})"
    )
