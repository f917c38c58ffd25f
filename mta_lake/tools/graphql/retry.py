"""The one retry policy of the GraphQL client: when a request that got no answer is tried again, and when not.

A request that gets no answer is tried again after 2 s, 4 s, 8 s ... at most 30 s apart (``Backoff``).
A time-out (or HTTP 504) means a webserver that is there but busy (``DagsterBusyError``): retried for as
long as the caller waits. Not connecting at all (``DagsterUnreachableError``) is retried too, and ends
the wait only once it has lasted ``unreachable_after`` seconds without a connection in between. The
launch of a backfill is the one request never retried (it is not idempotent): see ``launch``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mta_lake.tools.graphql.errors import DagsterNotAnsweringError, DagsterUnreachableError

T = TypeVar("T")

DEFAULT_UNREACHABLE_AFTER = 300.0
"""Seconds without a single connection to the webserver before waiting stops: longer than a
``dagster dev`` restart, short enough that a webserver that is gone is reported within minutes."""


@dataclass(frozen=True)
class Backoff:
    """Seconds between tries of a request that got no answer: ``first``, doubling, at most ``cap``.

    No jitter: one client polling one webserver has nobody to fall in step with.
    """

    first: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds before try number ``attempt + 1`` (``attempt`` 1-based: 2, 4, 8, 16, 30, 30 ...)."""
        return min(self.cap, self.first * 2 ** (attempt - 1))


@dataclass(frozen=True)
class RetryNotice:
    """A request that got no answer, and when it is tried again: what ``on_retry`` receives."""

    url: str
    reason: str
    """How it failed: ``timed out after 30 s``, ``NewConnectionError: ... Connection refused``, ..."""
    delay: float
    """Seconds until the next try."""
    silent_for: float
    """Seconds since the first request of this outage that got no answer."""
    unreachable_for: float | None
    """Seconds without a connection, or None when the webserver is there but slow (a time-out)."""
    unreachable_after: float
    """When ``unreachable_for`` reaches this, waiting stops."""

    def message(self) -> str:
        """One line: ``webserver at URL not answering (REASON); retrying in M s - ... for K s so far``."""
        delay = f"{self.delay:.0f}" if self.delay >= 1 else f"{self.delay:.1f}"
        head = f"webserver at {self.url} not answering ({self.reason}); retrying in {delay} s"
        if self.unreachable_for is None:
            return f"{head} - no answer for {self.silent_for:.0f} s so far"
        return (
            f"{head} - unreachable for {self.unreachable_for:.0f} s so far "
            f"(gives up at {self.unreachable_after:.0f} s)"
        )


class Outage:
    """Requests in a row that got no answer: when to try again, and when to give up.

    A slow answer (``DagsterBusyError``) means a webserver that is there: tried again, for as long
    as the caller waits, and the unreachable clock starts over. Failing to connect
    (``DagsterUnreachableError``) is tried again too, until it has lasted ``unreachable_after``
    seconds with no connection in between: then ``failed`` raises a ``DagsterUnreachableError``
    saying for how long.
    """

    def __init__(
        self,
        url: str,
        unreachable_after: float = DEFAULT_UNREACHABLE_AFTER,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.unreachable_after = unreachable_after
        self.backoff = backoff or Backoff()
        self._clock = clock
        self._attempts = 0
        self._silent_since: float | None = None
        self._unreachable_since: float | None = None

    def answered(self) -> None:
        """A request got its answer: the outage, if any, is over."""
        self._attempts = 0
        self._silent_since = self._unreachable_since = None

    def failed(self, error: DagsterNotAnsweringError) -> RetryNotice:
        """Record a request that got no answer; say when to try again, or raise if it is time to stop."""
        now = self._clock()
        self._attempts += 1
        if self._silent_since is None:
            self._silent_since = now
        delay = self.backoff.delay(self._attempts)
        unreachable_for: float | None = None
        if isinstance(error, DagsterUnreachableError):
            if self._unreachable_since is None:
                self._unreachable_since = now
            unreachable_for = now - self._unreachable_since
            if unreachable_for >= self.unreachable_after:
                raise DagsterUnreachableError(
                    f"could not connect to the Dagster webserver at {self.url} for {unreachable_for:.0f} s "
                    f"(the limit is {self.unreachable_after:.0f} s; last error: {error.reason})",
                    url=self.url,
                    reason=error.reason,
                    may_have_arrived=error.may_have_arrived,
                )
            # The last try falls on the limit, not up to 30 s after it.
            delay = min(delay, self.unreachable_after - unreachable_for)
        else:
            self._unreachable_since = None  # it connected: the clock starts over
        return RetryNotice(
            url=self.url,
            reason=error.reason,
            delay=delay,
            silent_for=now - self._silent_since,
            unreachable_for=unreachable_for,
            unreachable_after=self.unreachable_after,
        )


class OutOfTime(Exception):
    """The caller's deadline comes before the next try."""


def ride_out(
    call: Callable[[], T],
    outage: Outage,
    deadline: float,
    on_retry: Callable[[RetryNotice], None] | None,
) -> T:
    """``call()``, tried again after each failure to get an answer, as ``outage`` decides.

    Raises ``OutOfTime`` when the next try would come after ``deadline`` (``time.monotonic``).
    """
    while True:
        try:
            result = call()
        except DagsterNotAnsweringError as error:
            notice = outage.failed(error)
            if time.monotonic() + notice.delay > deadline:
                raise OutOfTime(error.reason) from None
            if on_retry is not None:
                on_retry(notice)
            time.sleep(notice.delay)
        else:
            outage.answered()
            return result
