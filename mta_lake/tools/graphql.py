"""A small GraphQL client for a running Dagster webserver: asset backfills and their progress.

Used by the ``mta-lake`` CLI, the tests and the benchmarks; no Dagster import. The transport is
``gql`` (what dagster-graphql uses); the queries are the project's own. ``dagster``'s own
``DagsterGraphQLClient`` cannot launch an *asset* backfill of a range in 1.13, and the ``dagster``
CLI has no command for it, so this sends the same ``launchPartitionBackfill`` mutation the UI sends
from "Materialize selected" on a partitioned asset: ``assetSelection`` + ``partitionNames``. An
asset backfill honours the asset's ``BackfillPolicy`` (several weeks a run), which a job backfill
does not.

    client = DagsterGraphQL("http://127.0.0.1:3000")
    backfill_id = client.launch_asset_backfill(["2024-01-06", "2024-01-13"])
    final = client.wait_for_backfill(backfill_id, timeout=600, on_progress=print)
    final.failed_weeks  # {"2024-01-13": "week 2024-01-13: not published: ... 404"}

What it costs the webserver, and what it does when the webserver does not answer:

- **Polls are one small request each** (``backfill_progress``): the backfill's status, its
  per-asset counts and the statuses of its runs not finished yet; nothing that reads an event
  log. The runs, with their weeks, and the errors of the failed ones are listed once, when the
  backfill has finished (``with_runs``), so waiting on 900 weeks in 100+ runs stays cheap.
- **Every request waits ``timeout`` seconds** for its answer (``DEFAULT_REQUEST_TIMEOUT``, 30 s).
- **A poll that gets no answer is tried again** after 2 s, 4 s, 8 s ... at most 30 s apart
  (``Backoff``). A time-out (or HTTP 504) means a webserver that is there but busy
  (``DagsterBusyError``): retried for as long as the caller waits. Not connecting at all (refused,
  unresolvable host, connection reset, HTTP 502/503 from a proxy: ``DagsterUnreachableError``) is
  retried too, and ends the wait only once it has lasted ``unreachable_after`` seconds
  (``DEFAULT_UNREACHABLE_AFTER``, 300 s) without a connection in between.
- **The launch is sent once, never again**: the mutation is not idempotent, and a launch whose
  answer was lost may well have created the backfill. It waits ``LAUNCH_TIMEOUT_FACTOR`` times the
  request timeout, and carries a unique ``LAUNCH_TAG``: when its answer is lost after it may have
  reached the webserver, ``BackfillLaunchUnansweredError`` says so and ``find_launched_backfill``
  looks the backfill up by that tag.
"""

import functools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import requests
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from graphql import GraphQLError as GraphQLSyntaxError
from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectError

from mta_lake.core import weeks
from mta_lake.core.layout import RAW_TURNSTILE, WEEKLY_ASSETS
from mta_lake.core.settings import DEFAULT_UI_URL
from mta_lake.core.source import describe_http_error, innermost_http_error

T = TypeVar("T")

FINISHED_BACKFILL_STATUSES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)
FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds each request waits for its answer. A poll is one small query that an idle webserver
answers in milliseconds; one that waits 30 s is busy, and the poll is tried again rather than
held open longer."""

LAUNCH_TIMEOUT_FACTOR = 4
"""The launch waits this many request timeouts (2 minutes by default): it writes the backfill and
may queue behind other writers on a busy SQLite instance, and it is never sent twice."""

DEFAULT_UNREACHABLE_AFTER = 300.0
"""Seconds without a single connection to the webserver before waiting stops: longer than a
``dagster dev`` restart, short enough that a webserver that is gone is reported within minutes."""

LAUNCH_TAG = "mta_lake/launch_id"
"""A unique tag on every backfill launched here (and so on its runs): finds a backfill whose
launch got no answer."""

CLOCK_SLACK_SECONDS = 600.0
"""How far the webserver's clock may be behind this machine's when looking a launch up by time."""

RUNS_PAGE_SIZE = 50
"""Runs listed per request. Each run's materialisations are read from its event log; a page of 50
stays well within one request's timeout even on a busy instance."""


class GraphQLClientError(Exception):
    """Anything that went wrong talking to the Dagster webserver."""


class DagsterNotAnsweringError(GraphQLClientError):
    """A request got no answer from the webserver.

    ``reason`` says how, in a few words (``timed out after 30 s``, ``NewConnectionError: ...
    Connection refused``, ``HTTP 502``); ``may_have_arrived`` is False only when no connection was
    made, so the webserver cannot have seen (or acted on) the request.
    """

    def __init__(self, message: str, *, url: str, reason: str, may_have_arrived: bool) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.may_have_arrived = may_have_arrived


class DagsterUnreachableError(DagsterNotAnsweringError):
    """No connection to a Dagster webserver at the URL: nothing listens there (not started, wrong
    port, still starting), the host does not resolve, the connection was reset, or a proxy in front
    of it answered 502/503. ``wait_for_backfill`` rides these out for ``unreachable_after`` seconds."""


class DagsterBusyError(DagsterNotAnsweringError):
    """The webserver accepted the request but did not answer in time (or a proxy said 504): it is
    there, and busy. ``wait_for_backfill`` rides these out for as long as it waits."""


class GraphQLError(GraphQLClientError):
    """The webserver answered, but with GraphQL errors or an error type instead of data."""


class BackfillLaunchError(GraphQLClientError):
    """``launchPartitionBackfill`` refused the backfill (unknown asset, bad partitions, ...)."""


class BackfillLaunchUnansweredError(GraphQLClientError):
    """The launch got no answer after it may have reached the webserver: the backfill may exist.

    It is not sent again; ``find_launched_backfill(error.launch_id, error.sent_at)`` tells.
    """

    def __init__(self, message: str, *, launch_id: str, sent_at: float, reason: str) -> None:
        super().__init__(message)
        self.launch_id = launch_id
        self.sent_at = sent_at
        """``time.time()`` when the launch was sent."""
        self.reason = reason


class BackfillTimeoutError(GraphQLClientError):
    """The backfill did not finish within the time given to ``wait_for_backfill``."""

    def __init__(self, message: str, status: "BackfillStatus | None") -> None:
        super().__init__(message)
        self.status = status
        """The last status seen (None if no poll was answered)."""


@dataclass(frozen=True)
class RunInfo:
    """One run launched by a backfill."""

    run_id: str
    status: str
    partitions: tuple[str, ...]
    """The weeks the run covers (from its partition / partition-range tags)."""
    materialized: tuple[str, ...] = ()
    """The weeks it recorded as materialised."""
    error: str | None = None
    """Why it failed: the step's failure description, else the run failure message."""

    @property
    def failed_partitions(self) -> tuple[str, ...]:
        if self.status != "FAILURE":
            return ()
        done = set(self.materialized)
        return tuple(p for p in self.partitions if p not in done)


@dataclass(frozen=True)
class BackfillStatus:
    """A backfill's state as the webserver reports it."""

    backfill_id: str
    status: str
    """``BulkActionStatus``: REQUESTED while running; COMPLETED_SUCCESS, COMPLETED_FAILED, FAILED, CANCELED at the end."""
    targeted: int
    materialized: int
    failed: int
    in_progress: int
    unfinished_runs: dict[str, int] = field(default_factory=dict)
    """Runs not finished yet, counted by ``RunStatus`` (QUEUED, STARTING, STARTED, ...): in every poll."""
    runs: tuple[RunInfo, ...] = ()
    """Every run of the backfill, oldest first: only when ``runs_listed`` (the final report)."""
    runs_listed: bool = False
    failed_weeks: dict[str, str] = field(default_factory=dict)
    """Week -> error message for each week that a failed run of this backfill did not land
    (known only when ``runs_listed``)."""
    error: str | None = None
    """The backfill's own error (the daemon could not plan or launch it)."""

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_BACKFILL_STATUSES

    @property
    def runs_finished(self) -> bool:
        """No run of the backfill is still queued or running."""
        if self.runs_listed:
            return all(run.status in FINISHED_RUN_STATUSES for run in self.runs)
        return not self.unfinished_runs

    @property
    def succeeded(self) -> bool:
        return self.status in {"COMPLETED", "COMPLETED_SUCCESS"} and not self.failed_weeks

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    def summary(self) -> str:
        text = (
            f"backfill {self.backfill_id}: {self.status.lower()}: {self.materialized}/{self.targeted} weeks "
            f"landed, {self.failed} failed, {self.in_progress} in progress"
        )
        if self.runs_listed:
            done = sum(run.status in FINISHED_RUN_STATUSES for run in self.runs)
            return f"{text}; runs {done}/{len(self.runs)} finished"
        if self.unfinished_runs:
            counts = ", ".join(f"{n} {status.lower()}" for status, n in sorted(self.unfinished_runs.items()))
            return f"{text}; runs not finished: {counts}"
        return text


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


class _OutOfTime(Exception):
    """The caller's deadline comes before the next try."""


VERSION_QUERY = "query Version { version }"

LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on Error { message }
    ... on PythonError { message stack }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on RunConfigValidationInvalid { pipelineName errors { message } }
  }
}
"""

FIND_BACKFILL_QUERY = """
query FindBackfill($filters: BulkActionsFilter, $limit: Int) {
  partitionBackfillsOrError(filters: $filters, limit: $limit) {
    __typename
    ... on PartitionBackfills { results { id tags { key value } } }
    ... on Error { message }
  }
}
"""

# One poll: the backfill's own status and counts, and its runs not finished yet (no event logs).
BACKFILL_PROGRESS_QUERY = """
query BackfillProgress($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      error { message }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
      unfinishedRuns { status }
    }
    ... on Error { message }
  }
}
"""

RUNS_QUERY = """
query BackfillRuns($filter: RunsFilter!, $cursor: String, $limit: Int) {
  runsOrError(filter: $filter, cursor: $cursor, limit: $limit) {
    __typename
    ... on Runs {
      results {
        runId
        status
        tags { key value }
        assetMaterializations { partition }
      }
    }
    ... on Error { message }
  }
}
"""

RUN_ERRORS_QUERY = """
query RunErrors($runId: ID!, $cursor: String) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      eventConnection(afterCursor: $cursor, limit: 1000) {
        cursor
        hasMore
        events {
          __typename
          ... on ExecutionStepFailureEvent {
            message
            error { message }
            failureMetadata { description }
          }
          ... on RunFailureEvent { message error { message } }
        }
      }
    }
    ... on Error { message }
  }
}
"""

PARTITION_STATUS_QUERY = """
query AssetPartitions($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      assetPartitionStatuses {
        __typename
        ... on TimePartitionStatuses { ranges { startKey endKey status } }
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions materializingPartitions }
      }
    }
    ... on Error { message }
  }
}
"""


def _asset_key_input(asset_key: str | Sequence[str]) -> dict[str, list[str]]:
    path = asset_key.split("/") if isinstance(asset_key, str) else list(asset_key)
    return {"path": path}


class DagsterGraphQL:
    """GraphQL calls to the Dagster webserver at ``url`` (``http://host:port``, no ``/graphql``).

    ``timeout``: seconds each request waits for its answer (the launch waits
    ``LAUNCH_TIMEOUT_FACTOR`` times as long).
    """

    def __init__(self, url: str = DEFAULT_UI_URL, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.url = url.rstrip("/").removesuffix("/graphql")
        self.timeout = timeout
        # No retries in the transport: a retry here is a decision (the launch must not be resent).
        self._transport = RequestsHTTPTransport(url=self.endpoint, timeout=timeout, retries=0)
        # No schema fetch: the queries are the project's own, checked by the server.
        self._client = Client(
            transport=self._transport, fetch_schema_from_transport=False, execute_timeout=None
        )
        self._session: Any = None

    @property
    def endpoint(self) -> str:
        return f"{self.url}/graphql"

    def close(self) -> None:
        if self._session is not None:
            self._client.close_sync()
            self._session = None

    def __enter__(self) -> "DagsterGraphQL":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport --------------------------------------------------------------------------
    def execute(
        self, query: str, variables: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one query; return its ``data`` or raise a ``GraphQLClientError`` that says why.

        It waits ``timeout`` seconds (default: the client's) for the answer. No answer raises a
        ``DagsterNotAnsweringError``: ``DagsterUnreachableError`` or ``DagsterBusyError``.
        """
        if self._session is None:
            self._session = self._client.connect_sync()
        wait = timeout or self.timeout
        request = GraphQLRequest(query, variable_values=variables or {})
        try:
            return self._session.execute(request, timeout=wait)
        except TransportConnectionFailed as error:
            raise self._no_answer(error.__cause__, wait) from None
        except TransportServerError as error:
            if error.code in (502, 503):
                # A proxy in front of a webserver that is down or restarting: no connection to it.
                raise DagsterUnreachableError(
                    f"the Dagster webserver at {self.url} is not answering (HTTP {error.code} from a "
                    "proxy in front of it): is it running?",
                    url=self.url,
                    reason=f"HTTP {error.code}",
                    may_have_arrived=True,
                ) from None
            if error.code == 504:
                raise DagsterBusyError(
                    f"the Dagster webserver at {self.url} did not answer in time (HTTP 504 from a proxy)",
                    url=self.url,
                    reason="HTTP 504",
                    may_have_arrived=True,
                ) from None
            raise GraphQLError(f"{self.endpoint} answered HTTP {error.code}") from None
        except TransportQueryError as error:
            messages = "; ".join(str(e.get("message", e)) for e in (error.errors or [])) or str(error)
            raise GraphQLError(f"GraphQL error from {self.url}: {messages}") from None
        except (GraphQLSyntaxError, ValueError) as error:
            raise GraphQLError(f"{self.endpoint} did not answer GraphQL: {error}") from None
        except Exception as error:  # the transport's protocol errors: not JSON, not GraphQL
            raise GraphQLError(
                f"{self.endpoint} did not answer GraphQL ({type(error).__name__}): is {self.url} a "
                "Dagster webserver?"
            ) from None

    def _no_answer(self, cause: BaseException | None, timeout: float) -> GraphQLClientError:
        """The error for a request the transport could not complete (``cause``: requests' exception)."""
        if isinstance(cause, requests.ConnectTimeout):
            reason = f"could not connect within {timeout:g} s"
            return DagsterUnreachableError(
                f"no Dagster webserver at {self.url} ({reason}): is it running, and reachable from here?",
                url=self.url,
                reason=reason,
                may_have_arrived=False,
            )
        if isinstance(cause, requests.Timeout):  # connected, sent, and no answer in time
            reason = f"timed out after {timeout:g} s"
            return DagsterBusyError(
                f"the Dagster webserver at {self.url} did not answer within {timeout:g} s: it is busy, "
                "or stuck; try again, or wait longer for each answer (--request-timeout)",
                url=self.url,
                reason=reason,
                may_have_arrived=True,
            )
        if isinstance(cause, requests.ConnectionError):
            reason = describe_http_error(cause)
            # Refused or unresolvable: no connection, nothing sent (urllib3's NewConnectionError and
            # NameResolutionError are ConnectTimeoutErrors). Reset or closed: it may have read the
            # request before it went away.
            connected = not isinstance(innermost_http_error(cause), Urllib3ConnectError)
            return DagsterUnreachableError(
                f"no Dagster webserver at {self.url} ({reason}): is `dagster dev` (or the webserver) "
                "running there? Start it, or give its address with --url / MTA_DAGSTER_UI_URL",
                url=self.url,
                reason=reason,
                may_have_arrived=connected,
            )
        # Not a network failure: a URL requests cannot use, say.
        detail = describe_http_error(cause) if cause is not None else "no detail"
        return GraphQLError(f"cannot send a request to {self.endpoint}: {detail}")

    def _ride_out(
        self,
        call: Callable[[], T],
        outage: Outage,
        deadline: float,
        on_retry: Callable[[RetryNotice], None] | None,
    ) -> T:
        """``call()``, tried again after each failure to get an answer, as ``outage`` decides.

        Raises ``_OutOfTime`` when the next try would come after ``deadline`` (``time.monotonic``).
        """
        while True:
            try:
                result = call()
            except DagsterNotAnsweringError as error:
                notice = outage.failed(error)
                if time.monotonic() + notice.delay > deadline:
                    raise _OutOfTime(error.reason) from None
                if on_retry is not None:
                    on_retry(notice)
                time.sleep(notice.delay)
            else:
                outage.answered()
                return result

    def version(self) -> str:
        """Dagster's version on the server: a cheap "is it up?" query."""
        return self.execute(VERSION_QUERY)["version"]

    # -- backfills ------------------------------------------------------------------------
    def launch_asset_backfill(
        self,
        partition_names: Iterable[str],
        asset_keys: Sequence[str] = WEEKLY_ASSETS,
        tags: dict[str, str] | None = None,
        title: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Launch an asset backfill of ``partition_names``, as the UI does; return its id.

        Sent once, never again (see the module docstring). It waits ``timeout`` seconds (default
        ``LAUNCH_TIMEOUT_FACTOR`` times the client's) for the answer. No connection at all raises
        ``DagsterUnreachableError`` (nothing was launched); a lost answer raises
        ``BackfillLaunchUnansweredError`` (something may have been).
        """
        names = list(partition_names)
        if not names:
            raise BackfillLaunchError("nothing to backfill: no weeks given")
        launch_id = uuid.uuid4().hex
        params: dict[str, Any] = {
            "assetSelection": [_asset_key_input(asset_key) for asset_key in asset_keys],
            "partitionNames": names,
            "fromFailure": False,
            "tags": [
                {"key": key, "value": value} for key, value in {**(tags or {}), LAUNCH_TAG: launch_id}.items()
            ],
        }
        if title:
            params["title"] = title
        if description:
            params["description"] = description
        sent_at = time.time()
        try:
            data = self.execute(
                LAUNCH_BACKFILL_MUTATION,
                {"backfillParams": params},
                timeout=timeout or self.timeout * LAUNCH_TIMEOUT_FACTOR,
            )
        except DagsterNotAnsweringError as error:
            if not error.may_have_arrived:
                raise
            raise BackfillLaunchUnansweredError(
                f"the launch of the backfill got no answer from {self.url} ({error.reason}); it may have "
                f"created the backfill (tagged {LAUNCH_TAG}={launch_id})",
                launch_id=launch_id,
                sent_at=sent_at,
                reason=error.reason,
            ) from None
        result = data["launchPartitionBackfill"]
        kind = result["__typename"]
        if kind == "LaunchBackfillSuccess":
            return result["backfillId"]
        if kind == "PartitionKeysNotFoundError":
            raise BackfillLaunchError(f"the instance does not know these weeks: {result['message']}")
        if kind == "RunConfigValidationInvalid":
            errors = "; ".join(error["message"] for error in result.get("errors", []))
            raise BackfillLaunchError(f"invalid run config: {errors}")
        if kind == "InvalidStepError":
            raise BackfillLaunchError(f"invalid step {result['invalidStepKey']!r}")
        if kind == "InvalidOutputError":
            raise BackfillLaunchError(
                f"invalid output {result['invalidOutputName']!r} of step {result['stepKey']!r}"
            )
        if kind == "UnauthorizedError":
            raise BackfillLaunchError(f"not allowed to launch backfills on {self.url}: {result['message']}")
        if kind == "PythonError":
            raise BackfillLaunchError(f"the webserver failed to launch the backfill: {result['message']}")
        raise BackfillLaunchError(f"backfill not launched ({kind}): {result.get('message', '')}".rstrip(": "))

    def backfill_tagged(self, key: str, value: str, created_after: float) -> str | None:
        """The id of a backfill created after ``created_after`` (epoch seconds) tagged ``key=value``."""
        data = self.execute(
            FIND_BACKFILL_QUERY,
            {"filters": {"createdAfter": created_after - CLOCK_SLACK_SECONDS}, "limit": 100},
        )
        result = data["partitionBackfillsOrError"]
        if result["__typename"] != "PartitionBackfills":
            raise GraphQLError(f"cannot list the backfills on {self.url}: {result.get('message')}")
        for backfill in result["results"]:
            if any(tag["key"] == key and tag["value"] == value for tag in backfill["tags"]):
                return backfill["id"]
        return None

    def find_launched_backfill(
        self,
        launch_id: str,
        sent_at: float,
        patience: float = DEFAULT_UNREACHABLE_AFTER,
        backoff: Backoff | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        on_absent: Callable[[float], None] | None = None,
    ) -> str | None:
        """The backfill a launch without an answer created (``LAUNCH_TAG=launch_id``), or None.

        A webserver that got the launch late may still be creating the backfill, so an absent one
        is looked for again (``backoff`` apart; ``on_absent(delay)`` each time) for ``patience``
        seconds. Lookups that get no answer are tried again as in ``wait_for_backfill``.
        """
        backoff = backoff or Backoff()
        deadline = time.monotonic() + patience
        outage = Outage(self.url, patience, backoff)
        lookup = functools.partial(self.backfill_tagged, LAUNCH_TAG, launch_id, sent_at)
        absent = 0
        try:
            while True:
                found = self._ride_out(lookup, outage, deadline, on_retry)
                if found is not None:
                    return found
                absent += 1
                delay = backoff.delay(absent)
                if time.monotonic() + delay > deadline:
                    return None
                if on_absent is not None:
                    on_absent(delay)
                time.sleep(delay)
        except _OutOfTime:
            return None

    def backfill_progress(self, backfill_id: str) -> BackfillStatus:
        """The backfill's status, counts and unfinished runs: one small request, what a poll sends."""
        data = self.execute(BACKFILL_PROGRESS_QUERY, {"backfillId": backfill_id})
        result = data["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise GraphQLError(f"backfill {backfill_id}: {result.get('message', result['__typename'])}")
        # Counted in weeks, not in (asset, week) pairs: the weeks of the raw layer (what "landed"
        # means); a backfill of another asset alone is counted by its own slowest asset. A failure in
        # a layer above still shows: the backfill then ends COMPLETED_FAILED, and its runs say where.
        per_asset = {
            "/".join(counts["assetKey"]["path"]): counts
            for counts in (result.get("assetBackfillData") or {}).get("assetBackfillStatuses") or []
            if counts["__typename"] == "AssetPartitionsStatusCounts"
        }
        chosen = [per_asset[RAW_TURNSTILE]] if RAW_TURNSTILE in per_asset else list(per_asset.values())
        targeted = max((c["numPartitionsTargeted"] for c in chosen), default=0)
        materialized = min((c["numPartitionsMaterialized"] for c in chosen), default=0)
        failed = max((c["numPartitionsFailed"] for c in chosen), default=0)
        in_progress = max((c["numPartitionsInProgress"] for c in chosen), default=0)
        if not targeted:
            targeted = result.get("numPartitions") or 0
        return BackfillStatus(
            backfill_id=backfill_id,
            status=result["status"],
            targeted=targeted,
            materialized=materialized,
            failed=failed,
            in_progress=in_progress,
            unfinished_runs=dict(Counter(run["status"] for run in result.get("unfinishedRuns") or [])),
            error=(result.get("error") or {}).get("message"),
        )

    def with_runs(self, status: BackfillStatus) -> BackfillStatus:
        """``status`` with the backfill's runs listed, and the failed weeks with their errors."""
        runs = self.runs_for_backfill(status.backfill_id)
        failed_weeks: dict[str, str] = {}
        for run in runs:
            for week in run.failed_partitions:
                failed_weeks[week] = _error_for_week(run.error, week)
        # A week that a later run (a retry) landed is no longer failed.
        landed = {week for run in runs for week in run.materialized}
        failed_weeks = {week: error for week, error in sorted(failed_weeks.items()) if week not in landed}
        return replace(status, runs=tuple(runs), runs_listed=True, failed_weeks=failed_weeks)

    def backfill_status(self, backfill_id: str, with_runs: bool = True) -> BackfillStatus:
        """The backfill's progress and, with ``with_runs``, its runs and failed weeks (costlier)."""
        status = self.backfill_progress(backfill_id)
        return self.with_runs(status) if with_runs else status

    def runs_for_backfill(self, backfill_id: str, with_errors: bool = True) -> list[RunInfo]:
        """Every run the backfill launched, oldest first; failed runs carry their error."""
        runs: list[RunInfo] = []
        cursor: str | None = None
        while True:
            data = self.execute(
                RUNS_QUERY,
                {
                    "filter": {"tags": [{"key": weeks.BACKFILL_TAG, "value": backfill_id}]},
                    "cursor": cursor,
                    "limit": RUNS_PAGE_SIZE,
                },
            )
            result = data["runsOrError"]
            if result["__typename"] != "Runs":
                raise GraphQLError(f"cannot list the runs of backfill {backfill_id}: {result.get('message')}")
            page = result["results"]
            for run in page:
                tags = {tag["key"]: tag["value"] for tag in run["tags"]}
                partitions = weeks.run_weeks(tags)
                materialized = sorted(
                    {m["partition"] for m in run["assetMaterializations"] if m.get("partition")}
                )
                # Only a failed run's event log is read, and only here, once.
                error = self.run_error(run["runId"]) if with_errors and run["status"] == "FAILURE" else None
                runs.append(
                    RunInfo(
                        run_id=run["runId"],
                        status=run["status"],
                        partitions=tuple(partitions),
                        materialized=tuple(materialized),
                        error=error,
                    )
                )
            if len(page) < RUNS_PAGE_SIZE:
                break
            cursor = page[-1]["runId"]
        # runsOrError lists newest first; oldest first reads better in a report.
        return list(reversed(runs))

    def run_error(self, run_id: str) -> str | None:
        """Why a run failed: its step failures' descriptions (the asset names each week), else the run's."""
        step_errors: list[str] = []
        run_errors: list[str] = []
        cursor: str | None = None
        while True:
            result = self.execute(RUN_ERRORS_QUERY, {"runId": run_id, "cursor": cursor})["runOrError"]
            if result["__typename"] != "Run":
                return result.get("message")
            connection = result["eventConnection"]
            for event in connection["events"]:
                if event["__typename"] == "ExecutionStepFailureEvent":
                    description = (event.get("failureMetadata") or {}).get("description")
                    step_errors.append(
                        description or (event.get("error") or {}).get("message") or event["message"]
                    )
                elif event["__typename"] == "RunFailureEvent":
                    run_errors.append((event.get("error") or {}).get("message") or event["message"])
            if not connection["hasMore"]:
                break
            cursor = connection["cursor"]
        errors = step_errors or run_errors
        # A step retried by its RetryPolicy fails once per attempt; the last attempt is the story.
        return errors[-1].strip() if errors else None

    def wait_for_backfill(
        self,
        backfill_id: str,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        on_progress: Callable[[BackfillStatus], None] | None = None,
        *,
        unreachable_after: float = DEFAULT_UNREACHABLE_AFTER,
        backoff: Backoff | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> BackfillStatus:
        """Poll until the backfill and all its runs have finished; return it with its runs listed.

        Each poll is one ``backfill_progress`` request; ``on_progress`` gets each status whose
        summary changed. The runs, and the errors of the failed ones, are listed once at the end.
        A request that gets no answer is tried again (``Outage``; ``on_retry`` gets each
        ``RetryNotice``): a busy webserver for as long as ``timeout`` allows, one that cannot be
        connected to for ``unreachable_after`` seconds. Raises ``BackfillTimeoutError`` after
        ``timeout`` seconds, ``DagsterUnreachableError`` after ``unreachable_after`` seconds without
        a connection.
        """
        deadline = time.monotonic() + timeout
        outage = Outage(self.url, unreachable_after, backoff)
        poll = functools.partial(self.backfill_progress, backfill_id)
        last: BackfillStatus | None = None
        try:
            while True:
                status = self._ride_out(poll, outage, deadline, on_retry)
                if on_progress is not None and (last is None or status.summary() != last.summary()):
                    on_progress(status)
                last = status
                if status.is_finished and status.runs_finished:
                    return self._ride_out(
                        functools.partial(self.with_runs, status), outage, deadline, on_retry
                    )
                if time.monotonic() >= deadline:
                    raise _OutOfTime("still running")
                time.sleep(poll_interval)
        except _OutOfTime as stopped:
            state = f"still {last.status.lower()} ({last.summary()})" if last else f"not seen ({stopped})"
            raise BackfillTimeoutError(
                f"backfill {backfill_id} {state} after {timeout:.0f} s", last
            ) from None

    # -- the asset's recorded state -----------------------------------------------------------
    def partition_statuses(self, asset_key: str | Sequence[str] = RAW_TURNSTILE) -> dict[str, set[str]]:
        """Weeks Dagster records as ``materialized``, ``failed`` and ``materializing``."""
        data = self.execute(PARTITION_STATUS_QUERY, {"assetKey": _asset_key_input(asset_key)})
        node = data["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise GraphQLError(f"asset {asset_key!r} not found on {self.url}: {node.get('message')}")
        statuses = node["assetPartitionStatuses"]
        found: dict[str, set[str]] = {"materialized": set(), "failed": set(), "materializing": set()}
        if statuses["__typename"] == "TimePartitionStatuses":
            for status_range in statuses["ranges"]:
                keys = weeks.run_weeks(
                    {
                        weeks.RANGE_START_TAG: status_range["startKey"],
                        weeks.RANGE_END_TAG: status_range["endKey"],
                    }
                )
                found[status_range["status"].lower()].update(keys)
        elif statuses["__typename"] == "DefaultPartitionStatuses":
            found["materialized"].update(statuses["materializedPartitions"])
            found["failed"].update(statuses["failedPartitions"])
            found["materializing"].update(statuses["materializingPartitions"])
        return found


def _error_for_week(error: str | None, week: str) -> str:
    """The line of a run's error that names ``week`` (the asset writes one line per failed week)."""
    if not error:
        return "the run failed before this week landed (no error message recorded)"
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    named = [line for line in lines if week in line]
    return named[0] if named else lines[0] if len(lines) == 1 else error
