"""Reconcile three views of the weeks: what the MTA published, what is in the lake, what Dagster recorded.

Plain Python, no Dagster. The reconciliation sensor (``mta_lake.defs.automation.reconcile_sensor``) and
``mta-lake status`` both call ``reconcile`` and act on, or print, its answer; what the sensor does
about it (``plan_reconciliation``) is decided here too, so the sensor only reads and reports:

| state | published | in the lake | recorded by Dagster | what to do |
|---|---|---|---|---|
| ``landed`` | (any) | yes | yes | nothing |
| ``unrecorded`` | (any) | yes | no | record it as materialised, from the object's metadata; no download |
| ``missing`` | yes | no | no | land it |
| ``lost`` | yes | no | yes | say so loudly, land it again |
| ``not_published`` | no | no | (any) | nothing: the MTA has no file for it (yet) |
| ``unknown`` | index unreadable | no | (any) | nothing this time: cannot tell missing from not published |
"""

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from mta_lake.core import weeks
from mta_lake.core.lake import Lake, LakeObject
from mta_lake.core.layout import RAW_PREFIX, raw_file_name
from mta_lake.core.source import MtaSite


class WeekState(StrEnum):
    LANDED = "landed"
    UNRECORDED = "unrecorded"
    MISSING = "missing"
    LOST = "lost"
    NOT_PUBLISHED = "not_published"
    UNKNOWN = "unknown"


NEEDS_LANDING = (WeekState.MISSING, WeekState.LOST)


@dataclass(frozen=True)
class WeekStatus:
    week: date
    state: WeekState
    file_name: str | None
    """The published file (or, for a week in the lake, the object's file name)."""
    lake_object: LakeObject | None = None

    @property
    def key(self) -> str:
        return self.week.isoformat()


@dataclass(frozen=True)
class Reconciliation:
    weeks: tuple[WeekStatus, ...]
    index_readable: bool = True
    newest_file: date | None = None
    """The date of the newest file on the index page (None: unreadable), for ``source_state.source_status``."""

    def by_state(self, state: WeekState) -> list[WeekStatus]:
        return [status for status in self.weeks if status.state == state]

    def keys(self, *states: WeekState) -> list[str]:
        return [status.key for status in self.weeks if status.state in states]

    def counts(self) -> dict[str, int]:
        return {state.value: len(self.by_state(state)) for state in WeekState}

    @property
    def to_land(self) -> list[str]:
        """Weeks to request, oldest first: missing and lost."""
        return self.keys(*NEEDS_LANDING)

    @property
    def to_record(self) -> list[WeekStatus]:
        return self.by_state(WeekState.UNRECORDED)


def lake_weeks(objects: Iterable[LakeObject]) -> dict[date, LakeObject]:
    """Week -> lake object for every ``raw/turnstile/turnstile_YYMMDD.txt.gz`` in the listing."""
    found: dict[date, LakeObject] = {}
    for obj in objects:
        name = raw_file_name(obj.key)
        try:
            file_date = weeks.file_date_from_name(name)
        except ValueError:
            continue  # not a turnstile object (a stray file in the folder)
        week = weeks.week_of_file(file_date)
        if week >= weeks.FIRST_WEEK:
            found[week] = obj
    return found


def reconcile(
    published: Mapping[date, date] | None,
    lake_objects: Iterable[LakeObject],
    recorded: Iterable[str],
    now: datetime | None = None,
    first: date = weeks.FIRST_WEEK,
    last: date | None = None,
) -> Reconciliation:
    """The state of every week from ``first`` to ``last`` (default: the newest ended week)."""
    last = last or weeks.latest_ended_week(now)
    in_lake = lake_weeks(lake_objects)
    recorded_keys = set(recorded)
    statuses = []
    for week in weeks.weeks_between(first, last):
        key = week.isoformat()
        obj = in_lake.get(week)
        file_date = published.get(week) if published is not None else None
        if obj is not None:
            state = WeekState.LANDED if key in recorded_keys else WeekState.UNRECORDED
            name = raw_file_name(obj.key)
        elif published is None:
            state, name = WeekState.UNKNOWN, None
        elif file_date is None:
            state, name = WeekState.NOT_PUBLISHED, None
        else:
            state = WeekState.LOST if key in recorded_keys else WeekState.MISSING
            name = weeks.file_name(file_date)
        statuses.append(WeekStatus(week=week, state=state, file_name=name, lake_object=obj))
    return Reconciliation(
        weeks=tuple(statuses),
        index_readable=published is not None,
        newest_file=max(published.values(), default=None) if published else None,
    )


def read_published(site: MtaSite) -> dict[date, date] | None:
    """Week -> file date from the site's index page, or None when it cannot be read."""
    dates = site.published_file_dates()
    return None if dates is None else weeks.map_published_weeks(dates)


def read_lake(lake: Lake) -> list[LakeObject]:
    """The lake's turnstile objects, listed now (never remembered)."""
    return lake.list(RAW_PREFIX)


def contiguous_batches(keys: Iterable[str], size: int) -> list[list[str]]:
    """Split weekly keys into runs of consecutive weeks of at most ``size`` (partition ranges)."""
    batches: list[list[str]] = []
    previous: date | None = None
    for key in sorted(set(keys)):
        week = date.fromisoformat(key)
        if batches and previous is not None and (week - previous).days == 7 and len(batches[-1]) < size:
            batches[-1].append(key)
        else:
            batches.append([key])
        previous = week
    return batches


def format_weeks(keys: Sequence[str], limit: int = 12) -> str:
    """Weeks as compact ranges: ``2024-01-06..2024-02-03 (5), 2024-03-02``."""
    parts = []
    for batch in contiguous_batches(keys, size=len(keys) or 1):
        parts.append(batch[0] if len(batch) == 1 else f"{batch[0]}..{batch[-1]} ({len(batch)})")
    shown = ", ".join(parts[:limit])
    return shown + (f", ... ({len(parts) - limit} more ranges)" if len(parts) > limit else "")


# -- what the reconciliation sensor does about it ------------------------------------------------


@dataclass(frozen=True)
class ReconcilePlan:
    """One tick's decisions: what to request, what to record, what to warn about, the next cursor."""

    request: list[str]
    """Weeks to land, oldest first, as one asset backfill (empty: request nothing)."""
    record: list[WeekStatus]
    """Weeks in the lake that Dagster does not know: record them from the object, no download."""
    lost: list[WeekStatus]
    """Weeks recorded but gone from the lake and not being landed: say so loudly (they are requested)."""
    lost_in_flight: list[WeekStatus]
    """Lost weeks that a run or backfill in flight is already landing again."""
    candidates: int
    """Weeks that could be requested now (before the per-tick limit)."""
    waiting_for_backfill: bool
    """True when candidates wait because a reconciliation backfill is still unfinished."""
    requested_at: dict[str, float]
    """The next cursor: when each week still to land was last requested (epoch seconds); weeks of
    the clean layer are remembered as ``clean:WEEK``."""
    request_clean: list[str] = field(default_factory=list)
    """Weeks in the raw lake whose clean week is missing: to clean, without landing anything."""
    not_partitions: list[str] = field(default_factory=list)
    """Weeks to land or record that are not partitions yet: they wait for the index sensor to add them."""


def plan_reconciliation(
    result: Reconciliation,
    *,
    requested_at: Mapping[str, float],
    in_flight: Iterable[str],
    reconciling: bool,
    now: float,
    max_weeks: int,
    max_records: int,
    retry_seconds: float,
    clean_missing: Iterable[str] = (),
    partitions: Collection[str] | None = None,
) -> ReconcilePlan:
    """Decide a tick from the three views, the cursor, what is in flight and ``now``.

    - A missing week is requested unless a run or backfill in flight covers it, or it was requested
      less than ``retry_seconds`` ago (a week that fails to land is not retried every tick).
    - A lost week is requested whatever the cursor says (its object was there once), unless in flight.
    - Only one reconciliation backfill at a time: while one is unfinished nothing is requested.
    - ``clean_missing`` (weeks whose raw object is in the lake and whose clean object is not) are
      requested for cleaning alone, under the same rules (not in flight, not requested within
      ``retry_seconds``, one reconciliation at a time, at most ``max_weeks``).
    - The cursor forgets weeks that are now in the lake and requests older than ``retry_seconds``.
    - ``partitions``: the partition keys there are. A week that is not one cannot be requested or
      recorded yet (``not_partitions``); the index sensor adds published and landed weeks.
    """
    keys = None if partitions is None else set(partitions)

    def is_partition(week: str) -> bool:
        return keys is None or week in keys

    flying = set(in_flight)
    lost = result.by_state(WeekState.LOST)
    lost_keys = {status.key for status in lost}
    candidates = [
        week
        for week in result.to_land
        if week not in flying
        and is_partition(week)
        and (week in lost_keys or now - requested_at.get(week, 0.0) >= retry_seconds)
    ]
    request = [] if reconciling else candidates[:max_weeks]
    still_unclean = set(clean_missing)
    clean_candidates = [
        week
        for week in sorted(still_unclean)
        if week not in flying
        and is_partition(week)
        and now - requested_at.get(f"{CLEAN}{week}", 0.0) >= retry_seconds
    ]
    request_clean = [] if reconciling else clean_candidates[:max_weeks]
    cursor = {
        **requested_at,
        **{week: now for week in request},
        **{f"{CLEAN}{w}": now for w in request_clean},
    }
    in_lake = set(result.keys(WeekState.LANDED, WeekState.UNRECORDED))

    def still_wanted(entry: str) -> bool:
        if entry.startswith(CLEAN):
            return entry.removeprefix(CLEAN) in still_unclean
        return entry not in in_lake

    cursor = {entry: at for entry, at in cursor.items() if still_wanted(entry) and now - at < retry_seconds}
    return ReconcilePlan(
        request=request,
        record=[status for status in result.to_record if is_partition(status.key)][:max_records],
        lost=[status for status in lost if status.key not in flying],
        lost_in_flight=[status for status in lost if status.key in flying],
        candidates=len(candidates),
        waiting_for_backfill=bool(candidates or clean_candidates) and reconciling,
        requested_at=cursor,
        request_clean=request_clean,
        not_partitions=sorted(
            {week for week in result.to_land if not is_partition(week)}
            | {status.key for status in result.to_record if not is_partition(status.key)}
        ),
    )


CLEAN = "clean:"
"""Cursor entries of the clean layer's requests (``clean:2024-01-06``)."""


def load_cursor(cursor: str | None) -> dict[str, float]:
    """The sensor's cursor: ``{"requested": {week: epoch seconds}}``; anything unreadable is empty."""
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    requested = data.get("requested", {}) if isinstance(data, dict) else {}
    if not isinstance(requested, dict):
        return {}
    try:
        return {str(week): float(at) for week, at in requested.items()}
    except (TypeError, ValueError):
        return {}


def dump_cursor(requested_at: Mapping[str, float]) -> str:
    return json.dumps({"requested": dict(requested_at)}, sort_keys=True)
