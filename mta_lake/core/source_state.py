"""What the MTA source looks like as a whole: still publishing, or stopped.

Plain Python, no Dagster. The decision is a pure function of the index page's file dates and ``now``;
the Dagster pieces (the weekly schedule, the ``watch_mta_index`` sensor, ``mta-lake status``) only
read the inputs and act on the answer.

**A source that stops publishing** (``source_status``). When the newest file on the index page is
more than ``MTA_SOURCE_STALE_WEEKS`` weeks old, the source *looks discontinued*: the weekly
schedule skips its ticks with that reason instead of launching a run that can only fail (and alert)
every Saturday; the sensor says so once (a log line, an observation on ``raw_turnstile`` and one
alert), and says once more when files appear again; ``mta-lake status`` prints it. Nothing has to
be switched back on: the next tick after a new file appears lands it.

Which weeks are partitions (the published ones) is ``mta_lake.core.published_weeks``'s to decide.

**The index as last read** (``IndexSnapshot``, ``state/published_files.json`` in the lake): the
``watch_mta_index`` sensor writes the index's file dates there whenever they change, whole or not at
all, so that readers that must not reach the MTA themselves (the dashboard's data-quality view) can
still tell a missing week from one never published.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import requests

from mta_lake.core import alerts, weeks
from mta_lake.core.alerts import AlertTargets
from mta_lake.core.lake import Lake

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


# -- the index as last read, kept in the lake ---------------------------------------------------------

SNAPSHOT_KEY = "state/published_files.json"
"""Where the index's file dates are kept in the lake (beside ``raw/``, never listed as a week)."""


@dataclass(frozen=True)
class IndexSnapshot:
    """The file dates the index page listed when the sensor last read it."""

    file_dates: tuple[date, ...]

    def to_json(self) -> str:
        return json.dumps({"version": 2, "file_dates": [d.isoformat() for d in self.file_dates]}, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> "IndexSnapshot":
        """Parse a snapshot (this version's, or the older one with exclusions); ``ValueError`` otherwise."""
        try:
            data = json.loads(text)
            return cls(tuple(sorted(date.fromisoformat(d) for d in data["file_dates"])))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not an index snapshot: {type(error).__name__} {error}") from None


def read_snapshot(lake: Lake) -> IndexSnapshot | None:
    """The snapshot in the lake, or None when there is none (or it is not one)."""
    if lake.stat(SNAPSHOT_KEY) is None:
        return None
    with lake.open_read(SNAPSHOT_KEY) as stream:
        data = stream.read()
    try:
        return IndexSnapshot.from_json(data)
    except ValueError:
        return None


def write_snapshot(lake: Lake, snapshot: IndexSnapshot) -> str:
    """Store the snapshot whole or not at all (the lake's writer); return its address."""
    with lake.writer(SNAPSHOT_KEY, content_type="application/json") as pending:
        pending.write(snapshot.to_json().encode())
    return lake.uri(SNAPSHOT_KEY)
