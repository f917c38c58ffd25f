"""Reconcile three views of the weeks: what the MTA published, what is in the lake, what Dagster recorded.

Plain Python, no Dagster. The reconciliation sensor (``mta_lake.sensors``) and ``mta-lake status``
both call ``reconcile`` and act on, or print, its answer:

| state | published | in the lake | recorded by Dagster | what to do |
|---|---|---|---|---|
| ``landed`` | (any) | yes | yes | nothing |
| ``unrecorded`` | (any) | yes | no | record it as materialised, from the object's metadata; no download |
| ``missing`` | yes | no | no | land it |
| ``lost`` | yes | no | yes | say so loudly, land it again |
| ``not_published`` | no | no | (any) | nothing: the MTA has no file for it (yet) |
| ``unknown`` | index unreadable | no | (any) | nothing this time: cannot tell missing from not published |
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from mta_lake import weeks
from mta_lake.lake import Lake, LakeObject
from mta_lake.landing import LAKE_PREFIX
from mta_lake.source import MtaSite


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


@dataclass(frozen=True)
class Views:
    """The three views, read once."""

    published: Mapping[date, date] | None
    """Week -> file date from the index page; None when the index could not be read."""
    lake_objects: Sequence[LakeObject]
    recorded: frozenset[str] = field(default_factory=frozenset)


def lake_weeks(objects: Iterable[LakeObject]) -> dict[date, LakeObject]:
    """Week -> lake object for every ``raw/turnstile/turnstile_YYMMDD.txt.gz`` in the listing."""
    found: dict[date, LakeObject] = {}
    for obj in objects:
        name = obj.key.rsplit("/", 1)[-1].removesuffix(".gz")
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
            name = obj.key.rsplit("/", 1)[-1].removesuffix(".gz")
        elif published is None:
            state, name = WeekState.UNKNOWN, None
        elif file_date is None:
            state, name = WeekState.NOT_PUBLISHED, None
        else:
            state = WeekState.LOST if key in recorded_keys else WeekState.MISSING
            name = weeks.file_name(file_date)
        statuses.append(WeekStatus(week=week, state=state, file_name=name, lake_object=obj))
    return Reconciliation(weeks=tuple(statuses), index_readable=published is not None)


def read_published(site: MtaSite) -> dict[date, date] | None:
    """Week -> file date from the site's index page, or None when it cannot be read."""
    dates = site.published_file_dates()
    return None if dates is None else weeks.map_published_weeks(dates)


def read_lake(lake: Lake) -> list[LakeObject]:
    """The lake's turnstile objects, listed now (never remembered)."""
    return lake.list(LAKE_PREFIX)


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


def recorded_metadata(lake: Lake, obj: LakeObject) -> dict[str, str | int]:
    """What to record for a week found in the lake, read from the object's own metadata.

    The same names as a landing's materialisation metadata, so the UI reads the same either way.
    """
    meta = dict(obj.metadata)

    def number(name: str) -> int | None:
        value = meta.get(name, "")
        return int(value) if value.isdigit() else None

    metadata: dict[str, str | int] = {
        "dagster/uri": lake.uri(obj.key),
        "status": "recorded_from_lake",
        "file_name": obj.key.rsplit("/", 1)[-1].removesuffix(".gz"),
        "stored_bytes": obj.size,
    }
    for name, value in (
        ("source_url", meta.get("source_url")),
        ("source_bytes", number("source_bytes")),
        ("data_rows", number("data_rows")),
        ("source_crc32c", meta.get("source_crc32c")),
        ("landed_at", meta.get("landed_at")),
        ("server_last_modified", meta.get("source_last_modified")),
        ("server_etag", meta.get("source_etag")),
        ("server_size", number("source_content_length")),
    ):
        if value is not None and value != "":
            metadata[name] = value
    return metadata


def format_weeks(keys: Sequence[str], limit: int = 12) -> str:
    """Weeks as compact ranges: ``2024-01-06..2024-02-03 (5), 2024-03-02``."""
    parts = []
    for batch in contiguous_batches(keys, size=len(keys) or 1):
        parts.append(batch[0] if len(batch) == 1 else f"{batch[0]}..{batch[-1]} ({len(batch)})")
    shown = ", ".join(parts[:limit])
    return shown + (f", ... ({len(parts) - limit} more ranges)" if len(parts) > limit else "")
