"""Following a backfill: cheap polls while it runs, its runs and failed weeks listed once at the end.

Each poll is one small request (``backfill_progress``): the backfill's status, its per-asset counts and
the statuses of its runs not finished yet; nothing that reads an event log. The runs, with their weeks,
and the errors of the failed ones are listed once, when the backfill has finished (``with_runs``), so
waiting on 900 weeks in 100+ runs stays cheap.
"""

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from mta_lake.core import weeks
from mta_lake.core.layout import LANDING_ASSETS, RAW_TURNSTILE
from mta_lake.tools.graphql.errors import GraphQLClientError, GraphQLError
from mta_lake.tools.graphql.lookup import read_asset_partitions
from mta_lake.tools.graphql.queries import (
    BACKFILL_PROGRESS_QUERY,
    RUN_ERRORS_QUERY,
    RUN_QUERY,
    RUNS_QUERY,
)
from mta_lake.tools.graphql.retry import DEFAULT_UNREACHABLE_AFTER, Backoff, Outage, OutOfTime, RetryNotice
from mta_lake.tools.graphql.transport import GraphQLTransport

FINISHED_BACKFILL_STATUSES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)
FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

RUNS_PAGE_SIZE = 50
"""Runs listed per request. Each run's materialisations are read from its event log; a page of 50
stays well within one request's timeout even on a busy instance."""


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
    assets: tuple[str, ...] = ()
    """The assets the run was launched for (``raw_turnstile``, a mart model, ...)."""
    done: tuple[str, ...] = ()
    """The weeks every asset of the run recorded (a week landed but not cleaned is not done)."""
    recorded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Asset -> the weeks the run recorded for it."""

    @property
    def failed_partitions(self) -> tuple[str, ...]:
        if self.status != "FAILURE":
            return ()
        done = set(self.done)
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
    incomplete_weeks: dict[str, str] = field(default_factory=dict)
    """Week -> why, for weeks whose first layer landed but whose run failed (at another week) before
    the layers above them (known only when ``runs_listed``)."""
    error: str | None = None
    """The backfill's own error (the daemon could not plan or launch it)."""
    every_asset_done: bool = False
    """Every targeted (asset, week) is materialised, none failed or in progress: known from the counts,
    up to one backfill-daemon tick (30 s) before the backfill's own status says COMPLETED, or from the
    runs themselves (``runs_cover_every_asset``) as soon as the last one ends."""
    targeted_per_asset: dict[str, int] = field(default_factory=dict)
    """Asset -> how many weeks the backfill targets for it."""

    def runs_cover_every_asset(self) -> bool:
        """With the runs listed: every run succeeded and together they recorded every targeted week of
        every targeted asset. The backfill daemon's counts say the same only on its next tick."""
        if not self.runs_listed or not self.runs or not self.targeted_per_asset:
            return False
        if any(run.status != "SUCCESS" for run in self.runs):
            return False
        recorded: dict[str, set[str]] = {}
        for run in self.runs:
            for asset, weeks_recorded in run.recorded.items():
                recorded.setdefault(asset, set()).update(weeks_recorded)
        return all(len(recorded.get(asset, ())) >= n for asset, n in self.targeted_per_asset.items())

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_BACKFILL_STATUSES

    @property
    def settled(self) -> bool:
        """Nothing more will happen: finished with every run, or every week done and no run left."""
        return (self.is_finished and self.runs_finished) or (self.every_asset_done and self.runs_finished)

    @property
    def runs_finished(self) -> bool:
        """No run of the backfill is still queued or running."""
        if self.runs_listed:
            return all(run.status in FINISHED_RUN_STATUSES for run in self.runs)
        return not self.unfinished_runs

    @property
    def succeeded(self) -> bool:
        done = self.status in {"COMPLETED", "COMPLETED_SUCCESS"} or self.every_asset_done
        return done and not self.failed_weeks

    def summary(self) -> str:
        state = "done" if self.every_asset_done and not self.is_finished else self.status.lower()
        text = (
            f"backfill {self.backfill_id}: {state}: {self.materialized}/{self.targeted} weeks "
            f"landed, {self.failed} failed, {self.in_progress} in progress"
        )
        if self.runs_listed:
            done = sum(run.status in FINISHED_RUN_STATUSES for run in self.runs)
            return f"{text}; runs {done}/{len(self.runs)} finished"
        if self.unfinished_runs:
            counts = ", ".join(f"{n} {status.lower()}" for status, n in sorted(self.unfinished_runs.items()))
            return f"{text}; runs not finished: {counts}"
        return text


class BackfillTimeoutError(GraphQLClientError):
    """The backfill did not finish within the time given to ``wait_for_backfill``."""

    def __init__(self, message: str, status: "BackfillStatus | None") -> None:
        super().__init__(message)
        self.status = status
        """The last status seen (None if no poll was answered)."""


class FollowCalls(GraphQLTransport):
    """A backfill's progress, its runs and why some of them failed."""

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
            targeted_per_asset={asset: c["numPartitionsTargeted"] for asset, c in per_asset.items()},
            every_asset_done=bool(per_asset)
            and all(
                c["numPartitionsMaterialized"] == c["numPartitionsTargeted"]
                and not c["numPartitionsFailed"]
                and not c["numPartitionsInProgress"]
                for c in per_asset.values()
            ),
        )

    def with_runs(self, status: BackfillStatus) -> BackfillStatus:
        """``status`` with the backfill's runs listed, and the failed weeks with their errors."""
        runs = self.runs_for_backfill(status.backfill_id)
        failed_weeks: dict[str, str] = {}
        incomplete: dict[str, str] = {}
        for run in runs:
            for week in run.failed_partitions:
                named = bool(run.error) and week in run.error
                if named or week not in run.materialized:
                    failed_weeks[week] = _error_for_week(run.error, week)
                else:
                    # Its first layer recorded it; the run stopped at another week's failure before the
                    # layers above (Dagster's backfill counts them failed and does not ask for them again).
                    incomplete[week] = (
                        "landed, but its later layers were skipped when another week of its run failed: "
                        "a backfill of this week (or the reconciliation sensor) builds them"
                    )
        # A week that a later run (a retry) landed is no longer failed.
        # Landed: done by a run of the landing layers (the mart's seed is recorded for every week, even one
        # whose file never came, so a mart run says nothing of it).
        landing = [run for run in runs if set(run.assets) & set(LANDING_ASSETS)] or runs
        landed = {week for run in landing for week in run.done}
        failed_weeks = {week: error for week, error in sorted(failed_weeks.items()) if week not in landed}
        incomplete = {week: why for week, why in sorted(incomplete.items()) if week not in landed}
        return replace(
            status, runs=tuple(runs), runs_listed=True, failed_weeks=failed_weeks, incomplete_weeks=incomplete
        )

    def backfill_status(self, backfill_id: str, with_runs: bool = True) -> BackfillStatus:
        """The backfill's progress and, with ``with_runs``, its runs and failed weeks (costlier)."""
        status = self.backfill_progress(backfill_id)
        return self.with_runs(status) if with_runs else status

    def runs_for_backfill(self, backfill_id: str, with_errors: bool = True) -> list[RunInfo]:
        """Every run the backfill launched, oldest first; failed runs carry their error."""
        # A run's range of weeks is a run of consecutive partition keys.
        keys = read_asset_partitions(self).keys
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
                partitions = weeks.run_weeks(tags, keys)
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
                        assets=_asset_names(run),
                        done=_done_weeks(run),
                        recorded=_recorded(run),
                    )
                )
            if len(page) < RUNS_PAGE_SIZE:
                break
            cursor = page[-1]["runId"]
        # runsOrError lists newest first; oldest first reads better in a report.
        return list(reversed(runs))

    def run_error(self, run_id: str) -> str | None:
        """Why a run failed: its step failures' descriptions (the asset names each week), else the run's.

        A step that failed because the run was interrupted (terminated at its maximum runtime, cancelled)
        says only ``DagsterExecutionInterruptedError``: the run's own failure says why, so it comes first.
        """
        step_errors: list[str] = []
        interrupted_steps: list[str] = []
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
                    errors = interrupted_steps if event.get("errorSource") == "INTERRUPT" else step_errors
                    errors.append(
                        description or (event.get("error") or {}).get("message") or event["message"]
                    )
                elif event["__typename"] == "RunFailureEvent":
                    run_errors.append((event.get("error") or {}).get("message") or event["message"])
            if not connection["hasMore"]:
                break
            cursor = connection["cursor"]
        errors = step_errors or run_errors or interrupted_steps
        # A step retried fails once per attempt; the last attempt is the story.
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
        settled_is_enough: bool = False,
    ) -> BackfillStatus:
        """Poll until the backfill and all its runs have finished; return it with its runs listed.

        ``settled_is_enough``: return as soon as every targeted week is done and no run is left (up to a
        backfill-daemon tick, 30 s, before the backfill's own status says COMPLETED): what a caller
        that launches the next step wants.

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
        runs_were_active = False
        try:
            while True:
                status = self.ride_out(poll, outage, deadline, on_retry)
                if on_progress is not None and (last is None or status.summary() != last.summary()):
                    on_progress(status)
                last = status
                if (status.is_finished and status.runs_finished) or (settled_is_enough and status.settled):
                    return self.ride_out(
                        functools.partial(self.with_runs, status), outage, deadline, on_retry
                    )
                if settled_is_enough and runs_were_active and not status.unfinished_runs:
                    # The last run just ended: its materialisations say at once whether every week is
                    # done, where the counts wait for the daemon's next tick (the hand-over to the mart).
                    listed = self.ride_out(
                        functools.partial(self.with_runs, status), outage, deadline, on_retry
                    )
                    if listed.runs_cover_every_asset():
                        # The counts as the daemon will report them on its next tick.
                        return replace(
                            listed,
                            every_asset_done=True,
                            materialized=listed.targeted,
                            in_progress=0,
                            failed=0,
                        )
                runs_were_active = bool(status.unfinished_runs)
                if time.monotonic() >= deadline:
                    raise OutOfTime("still running")
                time.sleep(poll_interval)
        except OutOfTime as stopped:
            state = f"still {last.status.lower()} ({last.summary()})" if last else f"not seen ({stopped})"
            raise BackfillTimeoutError(
                f"backfill {backfill_id} {state} after {timeout:.0f} s", last
            ) from None

    def run_info(self, run_id: str, keys: Sequence[str] | None = None) -> RunInfo:
        """One run: its status, its weeks (``keys``: the partition keys, to resolve a range), what it
        recorded, and, once it has failed, why."""
        result = self.execute(RUN_QUERY, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise GraphQLError(f"run {run_id}: {result.get('message', result['__typename'])}")
        tags = {tag["key"]: tag["value"] for tag in result["tags"]}
        materialized = sorted({m["partition"] for m in result["assetMaterializations"] if m.get("partition")})
        return RunInfo(
            run_id=run_id,
            status=result["status"],
            partitions=tuple(weeks.run_weeks(tags, keys)),
            materialized=tuple(materialized),
            error=self.run_error(run_id) if result["status"] == "FAILURE" else None,
            assets=_asset_names(result),
            done=_done_weeks(result),
        )

    def wait_for_run(
        self,
        run_id: str,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        *,
        unreachable_after: float = DEFAULT_UNREACHABLE_AFTER,
        backoff: Backoff | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> RunInfo:
        """Poll one run until it has finished; the same patience as ``wait_for_backfill``."""
        deadline = time.monotonic() + timeout
        outage = Outage(self.url, unreachable_after, backoff)
        keys = self.ride_out(lambda: read_asset_partitions(self).keys, outage, deadline, on_retry)
        poll = functools.partial(self.run_info, run_id, keys)
        try:
            while True:
                run = self.ride_out(poll, outage, deadline, on_retry)
                if run.status in FINISHED_RUN_STATUSES:
                    return run
                if time.monotonic() >= deadline:
                    raise OutOfTime("still running")
                time.sleep(poll_interval)
        except OutOfTime:
            raise BackfillTimeoutError(f"run {run_id} still running after {timeout:.0f} s", None) from None


def _asset_names(run: dict) -> tuple[str, ...]:
    return tuple(sorted("/".join(key["path"]) for key in run.get("assetSelection") or []))


def _recorded(run: dict) -> dict[str, tuple[str, ...]]:
    """Asset -> the weeks the run recorded for it."""
    recorded: dict[str, set[str]] = {}
    for materialization in run.get("assetMaterializations") or []:
        name = "/".join((materialization.get("assetKey") or {}).get("path") or [])
        if materialization.get("partition") and name:
            recorded.setdefault(name, set()).add(materialization["partition"])
    return {name: tuple(sorted(weeks_recorded)) for name, weeks_recorded in recorded.items()}


def _done_weeks(run: dict) -> tuple[str, ...]:
    """The weeks every selected asset of the run recorded."""
    recorded: dict[str, set[str]] = {name: set() for name in _asset_names(run)}
    for name, weeks_recorded in _recorded(run).items():
        recorded.setdefault(name, set()).update(weeks_recorded)
    if not recorded:
        return ()
    return tuple(sorted(set.intersection(*recorded.values())))


def _error_for_week(error: str | None, week: str) -> str:
    """The line of a run's error that names ``week`` (the asset writes one line per failed week)."""
    if not error:
        return "the run failed before this week landed (no error message recorded)"
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    named = [line for line in lines if week in line]
    return named[0] if named else lines[0] if len(lines) == 1 else error
