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
"""

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from graphql import GraphQLError as GraphQLSyntaxError

from mta_lake.core import weeks
from mta_lake.core.layout import RAW_TURNSTILE
from mta_lake.core.settings import DEFAULT_UI_URL

FINISHED_BACKFILL_STATUSES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)
FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


class GraphQLClientError(Exception):
    """Anything that went wrong talking to the Dagster webserver."""


class DagsterUnreachableError(GraphQLClientError):
    """No Dagster webserver answers at the URL (not started, wrong port, still starting), or it
    did not answer in time. ``wait_for_backfill`` rides these out for ``unreachable_after`` seconds."""


class GraphQLError(GraphQLClientError):
    """The webserver answered, but with GraphQL errors or an error type instead of data."""


class BackfillLaunchError(GraphQLClientError):
    """``launchPartitionBackfill`` refused the backfill (unknown asset, bad partitions, ...)."""


class BackfillTimeoutError(GraphQLClientError):
    """The backfill did not finish within the time given to ``wait_for_backfill``."""

    def __init__(self, message: str, status: "BackfillStatus") -> None:
        super().__init__(message)
        self.status = status


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
    runs: tuple[RunInfo, ...] = ()
    failed_weeks: dict[str, str] = field(default_factory=dict)
    """Week -> error message for each week that a failed run of this backfill did not land."""
    error: str | None = None
    """The backfill's own error (the daemon could not plan or launch it)."""

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_BACKFILL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status in {"COMPLETED", "COMPLETED_SUCCESS"} and not self.failed_weeks

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    def summary(self) -> str:
        runs_done = sum(run.status in FINISHED_RUN_STATUSES for run in self.runs)
        return (
            f"backfill {self.backfill_id}: {self.status.lower()}: {self.materialized}/{self.targeted} weeks "
            f"landed, {self.failed} failed, {self.in_progress} in progress; "
            f"runs {runs_done}/{len(self.runs)} finished"
        )


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

BACKFILL_STATUS_QUERY = """
query BackfillStatus($backfillId: String!) {
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
    """GraphQL calls to the Dagster webserver at ``url`` (``http://host:port``, no ``/graphql``)."""

    def __init__(self, url: str = DEFAULT_UI_URL, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/").removesuffix("/graphql")
        self.timeout = timeout
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
    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one query; return its ``data`` or raise a ``GraphQLClientError`` that says why."""
        if self._session is None:
            self._session = self._client.connect_sync()
        request = GraphQLRequest(query, variable_values=variables or {})
        try:
            return self._session.execute(request)
        except TransportConnectionFailed as error:
            if isinstance(error.__cause__, requests.Timeout):
                raise DagsterUnreachableError(
                    f"the Dagster webserver at {self.url} did not answer within {self.timeout:.0f} s"
                ) from None
            raise DagsterUnreachableError(
                f"no Dagster webserver at {self.url}: is `dagster dev` (or the webserver) running "
                "there? Start it, or give its address with --url / MTA_DAGSTER_UI_URL"
            ) from None
        except TransportServerError as error:
            if error.code in (502, 503, 504):
                # A proxy in front of a webserver that is restarting or overloaded: not an answer.
                raise DagsterUnreachableError(
                    f"the Dagster webserver at {self.url} is not answering (HTTP {error.code})"
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

    def version(self) -> str:
        """Dagster's version on the server: a cheap "is it up?" query."""
        return self.execute("query { version }")["version"]

    # -- backfills ------------------------------------------------------------------------
    def launch_asset_backfill(
        self,
        partition_names: Iterable[str],
        asset_key: str | Sequence[str] = RAW_TURNSTILE,
        tags: dict[str, str] | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> str:
        """Launch an asset backfill of ``partition_names``, as the UI does; return its id."""
        names = list(partition_names)
        if not names:
            raise BackfillLaunchError("nothing to backfill: no weeks given")
        params: dict[str, Any] = {
            "assetSelection": [_asset_key_input(asset_key)],
            "partitionNames": names,
            "fromFailure": False,
            "tags": [{"key": key, "value": value} for key, value in (tags or {}).items()],
        }
        if title:
            params["title"] = title
        if description:
            params["description"] = description
        data = self.execute(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})
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
                    "limit": 200,
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
            if len(page) < 200:
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

    def backfill_status(self, backfill_id: str, with_runs: bool = True) -> BackfillStatus:
        data = self.execute(BACKFILL_STATUS_QUERY, {"backfillId": backfill_id})
        result = data["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise GraphQLError(f"backfill {backfill_id}: {result.get('message', result['__typename'])}")
        targeted = materialized = failed = in_progress = 0
        for counts in (result.get("assetBackfillData") or {}).get("assetBackfillStatuses") or []:
            if counts["__typename"] == "AssetPartitionsStatusCounts":
                targeted += counts["numPartitionsTargeted"]
                materialized += counts["numPartitionsMaterialized"]
                failed += counts["numPartitionsFailed"]
                in_progress += counts["numPartitionsInProgress"]
        if not targeted:
            targeted = result.get("numPartitions") or 0
        runs = self.runs_for_backfill(backfill_id) if with_runs else []
        failed_weeks: dict[str, str] = {}
        for run in runs:
            for week in run.failed_partitions:
                failed_weeks[week] = _error_for_week(run.error, week)
        # A week that a later run (a retry) landed is no longer failed.
        landed = {week for run in runs for week in run.materialized}
        failed_weeks = {week: error for week, error in sorted(failed_weeks.items()) if week not in landed}
        return BackfillStatus(
            backfill_id=backfill_id,
            status=result["status"],
            targeted=targeted,
            materialized=materialized,
            failed=failed,
            in_progress=in_progress,
            runs=tuple(runs),
            failed_weeks=failed_weeks,
            error=(result.get("error") or {}).get("message"),
        )

    def wait_for_backfill(
        self,
        backfill_id: str,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        on_progress: Callable[[BackfillStatus], None] | None = None,
    ) -> BackfillStatus:
        """Poll until the backfill has finished and all its runs too; call ``on_progress`` on each change."""
        deadline = time.monotonic() + timeout
        last_summary = None
        while True:
            status = self.backfill_status(backfill_id)
            runs_finished = all(run.status in FINISHED_RUN_STATUSES for run in status.runs)
            if on_progress is not None and status.summary() != last_summary:
                on_progress(status)
                last_summary = status.summary()
            if status.is_finished and runs_finished:
                return status
            if time.monotonic() >= deadline:
                raise BackfillTimeoutError(
                    f"backfill {backfill_id} still {status.status.lower()} after {timeout:.0f} s "
                    f"({status.summary()})",
                    status,
                )
            time.sleep(poll_interval)

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
