"""What the MTA source looks like as a whole: still publishing or not, and which weeks it never will.

Plain Python, no Dagster. Two decisions live here, each a pure function of the index page's file
dates and ``now``; the Dagster pieces (the weekly schedule, the ``watch_mta_index`` sensor, the
partitions, ``mta-lake status``) only read the inputs and act on the answer.

**A source that stops publishing** (``source_status``). When the newest file on the index page is
more than ``MTA_SOURCE_STALE_WEEKS`` weeks old, the source *looks discontinued*: the weekly
schedule skips its ticks with that reason instead of launching a run that can only fail (and alert)
every Saturday; the sensor says so once (a log line, an observation on ``raw_turnstile`` and one
alert), and says once more when files appear again; ``mta-lake status`` prints it. Nothing has to
be switched back on: the next tick after a new file appears lands it.

**Weeks the MTA never published** (``excluded_weeks``), and why they are *exclusions of the time
partitions* built from a snapshot of the index. Dagster 1.13 has no "not published" partition
status: any week that is a partition and has no materialisation is *Missing*, is offered by
"Materialize missing" and launched by a backfill of missing weeks. The alternatives considered:

- ``DynamicPartitionsDefinition`` with a key per published week: it would show exactly the
  published weeks, but the weekly schedule, partition *ranges* (``BackfillPolicy``, one run per
  range of weeks), the freshness policy and every existing materialisation are built on the time
  partitions; a fresh clone would show no weeks at all until a sensor had run.
- reading the index page when the code location loads: every process (the webserver, the daemon,
  every run worker) would fetch it, loads would hang on a slow site and fail offline, and two
  processes could disagree about which weeks exist.
- ``WeeklyPartitionsDefinition(exclusions=...)`` built from a **snapshot** of the index that a
  sensor keeps in the lake (``state/published_files.json``, written whole or not at all, and only
  when it changes). Every process reads the same small object, so the webserver, the daemon and the
  run workers agree; the time partitions, ranges, the schedule and all materialisations stay as
  they are (an excluded week is simply not a partition; its key is still a valid week everywhere
  else). Chosen.

A week is excluded when the index lists no file for it, its publication deadline has passed (a week
merely late, the current weekend, stays a partition and shows as missing), and the lake holds no
object for it (a landed week is never hidden). The snapshot stores the exclusions themselves, so
that every process that loads the definitions builds exactly the same partitions from it. A fresh
clone has no snapshot: no exclusions, every week since 2010 is a partition, until the sensor's first
tick. Partitions are read when the code location loads, so a changed snapshot shows after a reload;
the sensor asks the webserver to reload the code location (``MTA_DAGSTER_UI_URL``), as the UI's
"Reload" button does.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import requests

from mta_lake.core import alerts, weeks
from mta_lake.core.alerts import AlertTargets
from mta_lake.core.lake import Lake

SNAPSHOT_KEY = "state/published_files.json"
"""Where the snapshot of the index lives in the lake (beside ``raw/``, never listed as a week)."""

SNAPSHOT_VERSION = 1
JSON = "application/json"


# -- a source that stops publishing ------------------------------------------------------------


@dataclass(frozen=True)
class SourceStatus:
    """Whether the source looks discontinued at ``now``, and why."""

    discontinued: bool
    newest_file: date | None
    """The date in the newest file name on the index page (None: the page lists no file)."""
    stale_weeks: int
    """``MTA_SOURCE_STALE_WEEKS``: the age of the newest file beyond which the source looks discontinued."""
    age_days: int | None
    """How old the newest file is at ``now``, in days."""

    @property
    def newest_file_name(self) -> str | None:
        return weeks.file_name(self.newest_file) if self.newest_file else None

    @property
    def newest_week(self) -> date | None:
        """The week the newest file holds (the last partition that can land)."""
        return weeks.week_of_file(self.newest_file) if self.newest_file else None

    @property
    def since(self) -> date | None:
        """The first week with no file: the source looks discontinued since then."""
        return self.newest_week + timedelta(days=7) if self.newest_week else None

    def describe(self) -> str:
        """One sentence, for a skip reason, a log line, an alert and ``mta-lake status``."""
        if self.newest_file is None:
            return "the MTA source looks discontinued: its index page lists no turnstile file"
        age = f"{self.age_days // 7} weeks" if self.age_days is not None else "?"
        if self.discontinued:
            return (
                f"the MTA source looks discontinued since week {self.since}: its newest file, "
                f"{self.newest_file_name} (week {self.newest_week}), is {age} old "
                f"(more than MTA_SOURCE_STALE_WEEKS={self.stale_weeks}); weekly runs are skipped "
                "until a new file appears"
            )
        return f"the MTA source is publishing: newest file {self.newest_file_name} (week {self.newest_week}), {age} old"


def source_status(published: Iterable[date], now: datetime, stale_weeks: int) -> SourceStatus:
    """Discontinued when the index's newest file is more than ``stale_weeks`` weeks old at ``now``.

    Normally the newest file is a week old on Saturday morning (the week that just ended is about
    to be published) and less afterwards; ``stale_weeks`` missed weeks in a row means stopped.
    """
    newest = max(published, default=None)
    today = now.astimezone(weeks.NEW_YORK).date()
    if newest is None:
        return SourceStatus(discontinued=True, newest_file=None, stale_weeks=stale_weeks, age_days=None)
    age = (today - newest).days
    return SourceStatus(
        discontinued=age > 7 * stale_weeks, newest_file=newest, stale_weeks=stale_weeks, age_days=age
    )


# -- weeks the MTA never published: exclusions of the time partitions -----------------------------


def excluded_weeks(
    published: Iterable[date],
    now: datetime,
    grace: timedelta = weeks.PUBLICATION_GRACE,
    in_lake: Iterable[date] = (),
) -> list[date]:
    """Ended weeks with no published file, past their publication deadline, and not in the lake."""
    by_week = weeks.map_published_weeks(published)
    keep = set(in_lake)
    return [
        week
        for week in weeks.weeks_between(weeks.FIRST_WEEK, weeks.latest_ended_week(now))
        if week not in by_week and week not in keep and weeks.publication_deadline(week, grace) <= now
    ]


@dataclass(frozen=True)
class Snapshot:
    """What the sensor keeps in the lake: the index's file dates, the exclusions, the source status.

    Nothing in it changes from one tick to the next unless the index (or the calendar, for the
    exclusions and the status) does, so it is rewritten only when something changed.
    """

    file_dates: tuple[date, ...]
    excluded: tuple[date, ...]
    discontinued: bool
    stale_weeks: int
    version: int = SNAPSHOT_VERSION
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def newest_file(self) -> date | None:
        return self.file_dates[-1] if self.file_dates else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "file_dates": [d.isoformat() for d in self.file_dates],
                "excluded_weeks": [w.isoformat() for w in self.excluded],
                "source": {
                    "discontinued": self.discontinued,
                    "newest_file": self.newest_file.isoformat() if self.newest_file else None,
                    "stale_weeks": self.stale_weeks,
                },
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "Snapshot":
        """Parse a snapshot; ``ValueError`` for anything that is not one (the caller ignores it)."""
        try:
            data = json.loads(text)
            source = data["source"]
            return cls(
                file_dates=tuple(sorted(date.fromisoformat(d) for d in data["file_dates"])),
                excluded=tuple(sorted(date.fromisoformat(w) for w in data["excluded_weeks"])),
                discontinued=bool(source["discontinued"]),
                stale_weeks=int(source["stale_weeks"]),
                version=int(data["version"]),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a published-files snapshot: {type(error).__name__} {error}") from None


def take_snapshot(
    published: Sequence[date],
    now: datetime,
    stale_weeks: int,
    grace: timedelta = weeks.PUBLICATION_GRACE,
    in_lake: Iterable[date] = (),
) -> Snapshot:
    status = source_status(published, now, stale_weeks)
    return Snapshot(
        file_dates=tuple(sorted(set(published))),
        excluded=tuple(excluded_weeks(published, now, grace, in_lake)),
        discontinued=status.discontinued,
        stale_weeks=stale_weeks,
    )


@dataclass(frozen=True)
class SnapshotChange:
    """What changed from the stored snapshot to the new one: what the sensor does about it."""

    write: bool
    """Store the new snapshot (something in it differs)."""
    reload: bool
    """The exclusions differ: the code location must be reloaded to show them."""
    discontinued_now: bool
    """The source has just started looking discontinued: say so, once."""
    resumed_now: bool
    """The source looked discontinued and has published again: say so, once."""
    newly_excluded: tuple[date, ...] = ()
    no_longer_excluded: tuple[date, ...] = ()


def compare_snapshots(stored: Snapshot | None, new: Snapshot) -> SnapshotChange:
    """Decide from the stored snapshot (None: none yet) and the new one."""
    old_excluded = set(stored.excluded) if stored else set()
    was_discontinued = stored.discontinued if stored else False
    return SnapshotChange(
        write=stored != new,
        reload=old_excluded != set(new.excluded),
        discontinued_now=new.discontinued and not was_discontinued,
        resumed_now=was_discontinued and not new.discontinued,
        newly_excluded=tuple(sorted(set(new.excluded) - old_excluded)),
        no_longer_excluded=tuple(sorted(old_excluded - set(new.excluded))),
    )


def exclusion_datetimes(excluded: Iterable[date]) -> list[datetime]:
    """The exclusions as ``WeeklyPartitionsDefinition`` takes them: each week's start, midnight in New York."""
    return [datetime.combine(week, datetime.min.time(), weeks.NEW_YORK) for week in excluded]


# -- the snapshot in the lake --------------------------------------------------------------------


def read_snapshot(lake: Lake) -> Snapshot | None:
    """The stored snapshot, or None when there is none (or it is not one: it is then rewritten)."""
    if lake.stat(SNAPSHOT_KEY) is None:
        return None
    with lake.open_read(SNAPSHOT_KEY) as stream:
        data = stream.read()
    try:
        return Snapshot.from_json(data)
    except ValueError:
        return None


def write_snapshot(lake: Lake, snapshot: Snapshot) -> str:
    """Store ``snapshot`` whole or not at all (the lake's writer); return its address."""
    with lake.writer(SNAPSHOT_KEY, content_type=JSON) as pending:
        pending.write(snapshot.to_json().encode())
    return lake.uri(SNAPSHOT_KEY)


def load_exclusions(lake: Lake) -> list[date]:
    """The weeks to exclude from the partitions, from the stored snapshot (none without one)."""
    snapshot = read_snapshot(lake)
    return list(snapshot.excluded) if snapshot else []


# -- the weekly schedule's decision ----------------------------------------------------------------


@dataclass(frozen=True)
class TickDecision:
    """What a weekly tick at ``now`` does: land ``week``, or skip for ``skip_reason``."""

    week: date
    skip_reason: str | None
    status: SourceStatus | None
    """None when the index could not be read (the run then decides, with computed file names)."""


def weekly_tick(published: Sequence[date] | None, now: datetime, stale_weeks: int) -> TickDecision:
    """Land the week that just ended, unless the source looks discontinued.

    An unreadable index is not a discontinued source: the week is launched and its run decides
    (a late file is retried through the weekend, see ``mta_lake.defs.raw.assets``).
    """
    week = weeks.latest_ended_week(now)
    if published is None:
        return TickDecision(week=week, skip_reason=None, status=None)
    status = source_status(published, now, stale_weeks)
    if status.discontinued:
        reason = f"{status.describe()}. Week {week} is not launched; this tick runs again next Saturday."
        return TickDecision(week=week, skip_reason=reason[0].upper() + reason[1:], status=status)
    return TickDecision(week=week, skip_reason=None, status=status)


# -- saying it once ------------------------------------------------------------------------------


def notice_payloads(message: str, status: SourceStatus) -> tuple[dict[str, object], dict[str, object]]:
    """The Slack and the plain JSON form of a source notice (discontinued, or resumed)."""
    icon = ":warning:" if status.discontinued else ":white_check_mark:"
    slack = {"text": f"{icon} mta_lake: {message}"}
    plain = {
        "event": "source_discontinued" if status.discontinued else "source_resumed",
        "source": "mta_lake",
        "message": message,
        "newest_file": status.newest_file_name,
        "stale_weeks": status.stale_weeks,
    }
    return slack, plain


def send_source_notice(
    message: str, status: SourceStatus, targets: AlertTargets, timeout: float = 10.0
) -> list[str]:
    """Post a source notice to the alert targets (``MTA_SLACK_WEBHOOK_URL``, ``MTA_ALERT_WEBHOOK_URL``).

    Sent by the sensor only when the status changes, so an operator hears of a stopped source once,
    not every Saturday. Returns one line per target, never its URL (a secret).
    """
    if not targets.configured:
        return ["source notice not sent: no alert target set (MTA_SLACK_WEBHOOK_URL, MTA_ALERT_WEBHOOK_URL)"]
    slack, plain = notice_payloads(message, status)
    outcomes = []
    for name, variable, url, payload in (
        ("Slack", alerts.SLACK_VARIABLE, targets.slack_url, slack),
        ("webhook", alerts.WEBHOOK_VARIABLE, targets.webhook_url, plain),
    ):
        if not url:
            continue
        try:
            requests.post(url, json=payload, timeout=timeout).raise_for_status()
            outcomes.append(f"{name} source notice sent ({variable})")
        except requests.RequestException as error:
            outcomes.append(f"{name} source notice NOT sent ({variable}): {type(error).__name__}")
    return outcomes
