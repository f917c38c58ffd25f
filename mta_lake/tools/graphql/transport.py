"""The transport: one GraphQL request to the webserver, and what its answer (or its absence) means.

``gql`` over ``requests`` (what dagster-graphql uses), no retries in the transport (a retry is a
decision: ``retry``), no schema fetch (the queries are the project's own, checked by the server).
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import requests
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from graphql import GraphQLError as GraphQLSyntaxError
from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectError

from mta_lake.core.settings import DEFAULT_UI_URL
from mta_lake.core.source import describe_http_error, innermost_http_error
from mta_lake.tools.graphql.errors import (
    DagsterBusyError,
    DagsterUnreachableError,
    GraphQLClientError,
    GraphQLError,
)
from mta_lake.tools.graphql.queries import VERSION_QUERY
from mta_lake.tools.graphql.retry import Outage, RetryNotice, ride_out

T = TypeVar("T")

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds each request waits for its answer. A poll is one small query that an idle webserver
answers in milliseconds; one that waits 30 s is busy, and the poll is tried again rather than
held open longer."""


def asset_key_input(asset_key: str | Sequence[str]) -> dict[str, list[str]]:
    path = asset_key.split("/") if isinstance(asset_key, str) else list(asset_key)
    return {"path": path}


class GraphQLTransport:
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

    def __enter__(self) -> "GraphQLTransport":
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

    def version(self) -> str:
        """Dagster's version on the server: a cheap "is it up?" query."""
        return self.execute(VERSION_QUERY)["version"]

    def ride_out(
        self,
        call: "Callable[[], T]",
        outage: Outage,
        deadline: float,
        on_retry: "Callable[[RetryNotice], None] | None",
    ) -> "T":
        """``call()``, tried again as ``outage`` decides (``retry.ride_out``)."""
        return ride_out(call, outage, deadline, on_retry)
