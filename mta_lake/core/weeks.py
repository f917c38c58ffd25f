"""Which MTA file holds which week: partition keys, file names and the site's index page.

Plain Python, no Dagster. A *week* is identified by the Saturday that starts seven days of
readings (the partition key, ``2024-01-13`` for 01/13-01/19/2024). The MTA publishes the file
for that week when it ends, normally on the following Saturday, named after that day:
``turnstile_240120.txt``. Before 2013 publication dates wander (a Wednesday in 2010, a Monday in
December 2011) and some weeks have no file at all, so a week is resolved against the file dates
listed on the index page: the published file nearest the week's end, within three days.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

NEW_YORK_ZONE = "America/New_York"
"""The MTA's time zone: weeks, service days, the schedule and freshness are all New York time."""
NEW_YORK = ZoneInfo(NEW_YORK_ZONE)
FIRST_WEEK = date(2010, 5, 1)
"""The first partition: the Saturday before ``turnstile_100505.txt``, the first published file."""

LAST_OLD_FORMAT_FILE = date(2014, 10, 11)
"""``turnstile_141011.txt`` is the last file without a header; ``141018`` starts the new format."""

MATCH_WINDOW = timedelta(days=3)
"""How far a published file's date may be from a week's end and still be that week's file."""

FILE_NAME_RE = re.compile(r"turnstile_(\d{6})\.txt")


class InvalidWeekError(ValueError):
    """A partition key that is not a week of ``turnstile_weeks``."""


@dataclass(frozen=True)
class WeekFile:
    """The file that holds one week of readings."""

    week: date
    """The Saturday that starts the week (the partition key)."""
    file_date: date
    """The date in the file's name."""
    from_index: bool
    """True when the index page listed this file; False when the name was computed."""

    @property
    def name(self) -> str:
        return file_name(self.file_date)

    @property
    def key(self) -> str:
        return self.week.isoformat()

    @property
    def is_old_format(self) -> bool:
        return self.file_date <= LAST_OLD_FORMAT_FILE


def file_name(file_date: date) -> str:
    return f"turnstile_{file_date:%y%m%d}.txt"


def file_date_from_name(name: str) -> date:
    match = FILE_NAME_RE.fullmatch(name)
    if not match:
        raise ValueError(f"{name!r} is not a turnstile file name (turnstile_YYMMDD.txt)")
    return datetime.strptime(match.group(1), "%y%m%d").date()


def week_end(week: date) -> date:
    """The Saturday after the week: the day its file is normally published and named after."""
    return week + timedelta(days=7)


def latest_ended_week(now: datetime | None = None) -> date:
    """The newest week that has ended in New York at ``now``: the newest partition that exists."""
    today = (now or datetime.now(NEW_YORK)).astimezone(NEW_YORK).date()
    # date.weekday(): Monday 0 .. Saturday 5. The current week started on the last Saturday
    # on or before today; it is still running, so the newest ended week is the one before.
    current_week = today - timedelta(days=(today.weekday() - 5) % 7)
    return current_week - timedelta(days=7)


PUBLICATION_GRACE = timedelta(days=2)
"""How long after a week ends its file may still legitimately be on its way (the MTA publishes on
Saturday morning, sometimes later that weekend)."""


def publication_deadline(week: date, grace: timedelta = PUBLICATION_GRACE) -> datetime:
    """Until when a missing file for ``week`` counts as late rather than not published."""
    return datetime.combine(week_end(week), datetime.min.time(), NEW_YORK) + grace


def parse_week(key: str, now: datetime | None = None) -> date:
    """Check that ``key`` names a week of ``turnstile_weeks`` and return its Saturday."""
    try:
        week = date.fromisoformat(key)
    except (TypeError, ValueError):
        raise InvalidWeekError(f"week {key!r} is not a turnstile week: expected a date YYYY-MM-DD") from None
    if week.weekday() != 5:
        raise InvalidWeekError(
            f"week {key!r} is not a turnstile week: weeks start on a Saturday, and {week:%A} is not one"
        )
    if week < FIRST_WEEK:
        raise InvalidWeekError(
            f"week {key!r} is not a turnstile week: the first week is {FIRST_WEEK.isoformat()}"
        )
    newest = latest_ended_week(now)
    if week > newest:
        raise InvalidWeekError(
            f"week {key!r} is not a turnstile week yet: it has not ended "
            f"(the newest ended week is {newest.isoformat()})"
        )
    return week


def weeks_between(first: date, last: date) -> list[date]:
    """Every week from ``first`` to ``last`` inclusive."""
    count = (last - first).days // 7 + 1
    return [first + timedelta(days=7 * i) for i in range(max(count, 0))]


def published_file_dates(index_html: str) -> list[date]:
    """The dates of every ``turnstile_YYMMDD.txt`` linked from the index page, sorted, unique."""
    found: set[date] = set()
    for match in FILE_NAME_RE.finditer(index_html):
        try:
            found.add(datetime.strptime(match.group(1), "%y%m%d").date())
        except ValueError:
            continue  # a malformed link on the page is not a file we could fetch anyway
    return sorted(found)


def resolve_week(week: date, published: Sequence[date] | None) -> WeekFile | None:
    """The file that holds ``week``, or None when the MTA published no file for it.

    ``published`` is the list of file dates from the index page, or None when the index could
    not be read; then the regular name (the Saturday after the week) is assumed, which is right
    for every week since 2013.
    """
    end = week_end(week)
    if published is None:
        return WeekFile(week=week, file_date=end, from_index=False)
    # Windows of +-3 days around consecutive Saturdays cannot overlap, so a file belongs to at
    # most one week. Within a window two files can tie (2 days before and 2 after the end):
    # the earlier wins, here and in map_published_weeks.
    candidates = [d for d in published if abs(d - end) <= MATCH_WINDOW]
    if not candidates:
        return None
    nearest = min(candidates, key=lambda d: (abs(d - end), d))
    return WeekFile(week=week, file_date=nearest, from_index=True)


def week_of_file(file_date: date) -> date:
    """The week whose end is nearest ``file_date`` (the inverse of ``resolve_week``)."""
    # Saturday of the week containing file_date+3 days, minus 7: the Saturday ``end`` with
    # |file_date - end| <= 3 is the one on or before file_date + 3 days.
    shifted = file_date + MATCH_WINDOW
    end = shifted - timedelta(days=(shifted.weekday() - 5) % 7)
    return end - timedelta(days=7)


def map_published_weeks(published: Iterable[date]) -> dict[date, date]:
    """Week -> file date for every published file (files before the first week are dropped)."""
    mapping: dict[date, date] = {}
    for file_date in sorted(published):
        week = week_of_file(file_date)
        if week >= FIRST_WEEK:
            previous = mapping.get(week)
            end = week_end(week)
            if previous is None or abs(file_date - end) < abs(previous - end):
                mapping[week] = file_date
    return mapping


# -- the weeks of a Dagster run, from its tags -------------------------------------------------
# Dagster's own tag names (dagster._core.storage.tags), spelled out so the core needs no Dagster.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"


def run_weeks(tags: Mapping[str, str], keys: Sequence[str] | None = None) -> list[str]:
    """The weeks a run covers: its partition tag, or every week of its partition-range tags.

    ``keys``: the partition keys in their order (a range is a run of consecutive keys); without
    them, every week between the range's first and last, a superset when some weeks are not keys.
    """
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not (start and end):
        return []
    if keys is not None and start in keys and end in keys:
        first, last = keys.index(start), keys.index(end)
        return list(keys[first : last + 1])
    return [w.isoformat() for w in weeks_between(date.fromisoformat(start), date.fromisoformat(end))]


def run_weeks_label(tags: Mapping[str, str]) -> str:
    """``2024-01-13``, ``2024-01-06..2024-02-24``, or ``(no partition)``: a run's weeks in one phrase."""
    covered = run_weeks(tags)
    if not covered:
        return "(no partition)"
    return covered[0] if len(covered) == 1 else f"{covered[0]}..{covered[-1]}"
