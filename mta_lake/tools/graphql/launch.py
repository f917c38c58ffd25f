"""Launching: an asset backfill sent once and never again, and finding it when its answer was lost.

The mutation is the UI's own (``launchPartitionBackfill`` with ``assetSelection`` and ``partitionNames``,
what "Materialize selected" sends on a partitioned asset): an asset backfill honours the assets'
``BackfillPolicy``, which a job backfill does not, and neither ``DagsterGraphQLClient`` nor the
``dagster`` CLI can launch one in 1.13. It is not idempotent, and a launch whose answer was lost may
well have created the backfill: it waits ``LAUNCH_TIMEOUT_FACTOR`` times the request timeout, carries a
unique ``LAUNCH_TAG``, and when its answer is lost ``BackfillLaunchUnansweredError`` says so and
``find_launched_backfill`` looks the backfill up by that tag.
"""

import functools
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mta_lake.core import weeks
from mta_lake.core.layout import WEEKLY_ASSETS
from mta_lake.tools.graphql.errors import (
    BackfillLaunchError,
    BackfillLaunchUnansweredError,
    DagsterNotAnsweringError,
    GraphQLError,
    UnknownPartitionsError,
)
from mta_lake.tools.graphql.queries import (
    FIND_BACKFILL_QUERY,
    FIND_RUN_QUERY,
    LAUNCH_BACKFILL_MUTATION,
    LAUNCH_RUN_MUTATION,
)
from mta_lake.tools.graphql.retry import DEFAULT_UNREACHABLE_AFTER, Backoff, Outage, OutOfTime, RetryNotice
from mta_lake.tools.graphql.transport import GraphQLTransport, asset_key_input

LAUNCH_TIMEOUT_FACTOR = 4
"""The launch waits this many request timeouts (2 minutes by default): it writes the backfill and
may queue behind other writers on a busy SQLite instance, and it is never sent twice."""

LAUNCH_TAG = "mta_lake/launch_id"
"""A unique tag on every backfill launched here (and so on its runs): finds a backfill whose
launch got no answer."""

CLOCK_SLACK_SECONDS = 600.0
"""How far the webserver's clock may be behind this machine's when looking a launch up by time."""


@dataclass(frozen=True)
class AssetJob:
    """A job of assets in a code location, as a run launch names it."""

    name: str
    repository: str
    location: str


class LaunchCalls(GraphQLTransport):
    """Launching an asset backfill, once."""

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
            "assetSelection": [asset_key_input(asset_key) for asset_key in asset_keys],
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
            raise UnknownPartitionsError(
                f"nothing was launched: {result['message']} (the partitions are the weeks the MTA published)"
            )
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
                found = self.ride_out(lookup, outage, deadline, on_retry)
                if found is not None:
                    return found
                absent += 1
                delay = backoff.delay(absent)
                if time.monotonic() + delay > deadline:
                    return None
                if on_absent is not None:
                    on_absent(delay)
                time.sleep(delay)
        except OutOfTime:
            return None

    def launch_range_run(
        self,
        job: AssetJob,
        asset_keys: Sequence[str],
        first: str,
        last: str,
        tags: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Launch ONE run of ``asset_keys`` over the partitions ``first..last`` (a range of consecutive
        keys); return its id. What a ``single_run()`` backfill launches, without waiting for the backfill
        daemon's next tick (up to 30 s) to create it: the run goes straight to the run queue.

        Sent once, never again, like a backfill's launch: a lost answer raises
        ``BackfillLaunchUnansweredError`` and ``find_launched_run`` looks the run up by its tag.
        """
        launch_id = uuid.uuid4().hex
        run_tags = {
            **(tags or {}),
            weeks.RANGE_START_TAG: first,
            weeks.RANGE_END_TAG: last,
            LAUNCH_TAG: launch_id,
        }
        params = {
            "selector": {
                "repositoryLocationName": job.location,
                "repositoryName": job.repository,
                "jobName": job.name,
                "assetSelection": [asset_key_input(key) for key in asset_keys],
            },
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in run_tags.items()]},
        }
        sent_at = time.time()
        try:
            data = self.execute(
                LAUNCH_RUN_MUTATION,
                {"executionParams": params},
                timeout=timeout or self.timeout * LAUNCH_TIMEOUT_FACTOR,
            )
        except DagsterNotAnsweringError as error:
            if not error.may_have_arrived:
                raise
            raise BackfillLaunchUnansweredError(
                f"the launch of the run got no answer from {self.url} ({error.reason}); it may have "
                f"created the run (tagged {LAUNCH_TAG}={launch_id})",
                launch_id=launch_id,
                sent_at=sent_at,
                reason=error.reason,
            ) from None
        result = data["launchRun"]
        if result["__typename"] == "LaunchRunSuccess":
            return result["run"]["runId"]
        errors = "; ".join(e["message"] for e in result.get("errors") or [])
        raise BackfillLaunchError(
            f"run not launched ({result['__typename']}): {result.get('message') or errors}".rstrip(": ")
        )

    def find_launched_run(self, launch_id: str) -> str | None:
        """The run a launch without an answer created (``LAUNCH_TAG=launch_id``), or None."""
        data = self.execute(FIND_RUN_QUERY, {"filter": {"tags": [{"key": LAUNCH_TAG, "value": launch_id}]}})
        result = data["runsOrError"]
        if result["__typename"] != "Runs":
            raise GraphQLError(f"cannot list the runs on {self.url}: {result.get('message')}")
        return result["results"][0]["runId"] if result["results"] else None
