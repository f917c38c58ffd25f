"""Land the weeks of one run: the index read once, a pool of downloads, every failure kept, and
how the run ends (landed, retry later because every missing file is merely late, or failed).

Plain Python, no Dagster: ``mta_lake.defs.raw.assets`` is the thin skin that reports each outcome
to Dagster. One week's landing is ``mta_lake.core.landing.land_week``.
"""

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mta_lake.core import weeks
from mta_lake.core.lake import Lake, LakeError
from mta_lake.core.landing import (
    LandingError,
    LandingReport,
    RetriesExhaustedError,
    WeekNotPublishedError,
    land_week,
)
from mta_lake.core.source import MtaSite
from mta_lake.core.weeks import WeekFile


@dataclass(frozen=True)
class LateFilePolicy:
    """When a week's missing file is late (try again later) rather than not published."""

    retry_seconds: float = 3600.0
    """Wait between attempts at a week whose file is not up yet."""
    grace: timedelta = weeks.PUBLICATION_GRACE
    """How long after a week ends its missing file counts as late."""

    @property
    def max_retries(self) -> int:
        """Attempts that fit in the grace period, plus one for the attempt that finds it over."""
        return math.ceil(self.grace.total_seconds() / max(self.retry_seconds, 1)) + 1


@dataclass(frozen=True)
class WeekFailure:
    """A week of the run that did not land, and why."""

    week: str
    error: Exception

    def __str__(self) -> str:
        return str(self.error)


@dataclass(frozen=True)
class RunVerdict:
    """How a run of weeks ended: ``landed``, ``retry_later`` (only late files) or ``failed``."""

    outcome: str
    failures: tuple[WeekFailure, ...] = ()
    retry_seconds: float = 0.0
    max_retries: int = 0

    @property
    def failed_weeks(self) -> list[str]:
        return sorted(failure.week for failure in self.failures)

    @property
    def retryable(self) -> bool:
        """True when every failure was transient and outlasted its retries: a later run may succeed."""
        return bool(self.failures) and all(
            isinstance(failure.error, RetriesExhaustedError) for failure in self.failures
        )

    def summary(self, run_size: int) -> str:
        """One line per failed week (the week, the file and the reason), in week order."""
        lines = [str(failure) for failure in sorted(self.failures, key=lambda f: f.week)]
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} of {run_size} weeks failed:\n" + "\n".join(lines)


class RunLanding:
    """Land the weeks of one run: the index read once, a pool of downloads, every failure kept.

    Iterate it to land the weeks; each week is yielded as soon as it is done (a ``LandingReport``
    or a ``WeekFailure``). Then ``verdict()`` says how the run ended. ``now`` is the clock the
    late-file decision reads, so it can be tested without waiting.

        landing = RunLanding(keys, site, lake, late=LateFilePolicy(...))
        for outcome in landing:
            ...
        verdict = landing.verdict()
    """

    def __init__(
        self,
        keys: Sequence[str],
        site: MtaSite,
        lake: Lake,
        *,
        reland: bool = False,
        max_workers: int = 1,
        late: LateFilePolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(weeks.NEW_YORK),
    ) -> None:
        self.keys = list(keys)
        self.site = site
        self.lake = lake
        self.reland = reland
        self.max_workers = max_workers
        self.late = late or LateFilePolicy()
        self.now = now
        self.failures: dict[str, WeekFailure] = {}
        self.index_readable: bool | None = None
        """None until the index is read (it is not read when no week is valid)."""

    def __iter__(self) -> Iterator[LandingReport | WeekFailure]:
        todo: list[tuple[str, date]] = []
        for key in self.keys:
            try:
                todo.append((key, weeks.parse_week(key, self.now())))
            except weeks.InvalidWeekError as error:
                yield self._fail(key, error)
        if not todo:
            return
        published = self.site.published_file_dates()
        self.index_readable = published is not None
        pool = ThreadPoolExecutor(max_workers=self.max_workers)
        try:
            futures = {pool.submit(self._land_one, week, published): key for key, week in todo}
            for future in as_completed(futures):
                key = futures[future]
                try:
                    yield future.result()
                except (LandingError, LakeError) as error:
                    # A LakeError here (a bucket that can be listed but not written) is a setting
                    # to fix: it fails the week like the rest.
                    yield self._fail(key, error)
        except BaseException:
            # Interrupted (the run was terminated: its maximum runtime, a cancel) or abandoned: stop
            # the downloads in flight and start no other, so that nothing lands after the run has
            # ended (a stalled download would otherwise finish, and land, minutes later).
            self.site.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _fail(self, key: str, error: Exception) -> WeekFailure:
        failure = WeekFailure(key, error)
        self.failures[key] = failure
        return failure

    def _land_one(self, week: date, published: Sequence[date] | None) -> LandingReport:
        week_file = weeks.resolve_week(week, published)
        if week_file is None:
            placeholder = WeekFile(week=week, file_date=weeks.week_end(week), from_index=False)
            raise WeekNotPublishedError(
                placeholder,
                self.site.index_url,
                "not published: the index page lists no file within 3 days of the week's end",
            )
        return land_week(week_file, self.site, self.lake, reland=self.reland)

    def verdict(self) -> RunVerdict:
        """Call after iterating. ``retry_later`` when every failure is a file that is merely late."""
        failures = tuple(self.failures[key] for key in self.keys if key in self.failures)
        if not failures:
            return RunVerdict("landed")
        if all_late(failures, self.now(), self.late):
            return RunVerdict(
                "retry_later",
                failures,
                retry_seconds=self.late.retry_seconds,
                max_retries=self.late.max_retries,
            )
        return RunVerdict("failed", failures)


def all_late(failures: Iterable[WeekFailure], now: datetime, late: LateFilePolicy) -> bool:
    """True when every failure is a file not published yet, and the next attempt is still in its grace."""
    next_attempt = now + timedelta(seconds=late.retry_seconds)
    return all(
        isinstance(failure.error, WeekNotPublishedError)
        and next_attempt < weeks.publication_deadline(date.fromisoformat(failure.week), late.grace)
        for failure in failures
    )
