"""A small GraphQL client for a running Dagster webserver: asset backfills, their progress, partitions.

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

The package, by what each part does:

- ``transport``: one request and what its answer (or its absence) means (``errors``);
- ``retry``: the one retry policy for requests that got no answer (``Backoff``, ``Outage``);
- ``launch``: an asset backfill launched once and never again, found again when its answer was lost;
- ``follow``: a backfill's progress (one small query a poll), its runs and failed weeks (once, at the end);
- ``lookup``: an asset's partition keys and statuses, and adding published weeks as partitions;
- ``queries``: the text of every query and mutation.
"""

from mta_lake.tools.graphql.errors import (
    BackfillLaunchError,
    BackfillLaunchUnansweredError,
    DagsterBusyError,
    DagsterNotAnsweringError,
    DagsterUnreachableError,
    GraphQLClientError,
    GraphQLError,
    UnknownPartitionsError,
)
from mta_lake.tools.graphql.follow import BackfillStatus, BackfillTimeoutError, FollowCalls, RunInfo
from mta_lake.tools.graphql.launch import LAUNCH_TAG, LAUNCH_TIMEOUT_FACTOR, AssetJob, LaunchCalls
from mta_lake.tools.graphql.lookup import LookupCalls
from mta_lake.tools.graphql.retry import DEFAULT_UNREACHABLE_AFTER, Backoff, Outage, RetryNotice
from mta_lake.tools.graphql.transport import DEFAULT_REQUEST_TIMEOUT


class DagsterGraphQL(LaunchCalls, FollowCalls, LookupCalls):
    """GraphQL calls to the Dagster webserver at ``url`` (``http://host:port``, no ``/graphql``).

    ``timeout``: seconds each request waits for its answer (the launch waits
    ``LAUNCH_TIMEOUT_FACTOR`` times as long).
    """


__all__ = [
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_UNREACHABLE_AFTER",
    "LAUNCH_TAG",
    "LAUNCH_TIMEOUT_FACTOR",
    "AssetJob",
    "BackfillLaunchError",
    "BackfillLaunchUnansweredError",
    "BackfillStatus",
    "BackfillTimeoutError",
    "Backoff",
    "DagsterBusyError",
    "DagsterGraphQL",
    "DagsterNotAnsweringError",
    "DagsterUnreachableError",
    "GraphQLClientError",
    "GraphQLError",
    "Outage",
    "RetryNotice",
    "RunInfo",
    "UnknownPartitionsError",
]
