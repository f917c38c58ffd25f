"""What can go wrong talking to the Dagster webserver: one exception class per kind of answer (or its absence)."""


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


class UnknownPartitionsError(BackfillLaunchError):
    """The instance has no partition for some weeks of the launch (for ``turnstile_weeks``: not published)."""


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
