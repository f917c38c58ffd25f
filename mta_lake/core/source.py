"""The MTA developer site over HTTP: the index page, one file as a stream of bytes, retries.

Plain Python, no Dagster. The source is untrusted input, so every answer is held to limits:

- redirects are followed only within the configured site (the same host, http or https), at most
  ``MAX_REDIRECTS``; anything else fails naming where it pointed, and nothing is read from there;
- the index page and a week's file are capped (``MTA_MAX_INDEX_BYTES``, ``MTA_MAX_WEEK_BYTES``,
  counted as the bytes arrive, decompressed), and refused past the cap;
- each download has a total deadline (``MTA_DOWNLOAD_DEADLINE_SECONDS``) from its request to its
  last byte: when it passes, the connection is shut down, however slowly the server keeps sending.

Errors are sorted into three kinds, because the landing code treats them differently:
``NotPublishedError`` (404: the file is not there, never retried), ``TransientSourceError``
(connection errors, resets, short bodies, timeouts, the deadline, 5xx, 429: retried with backoff),
and ``BadSourceError`` (anything else the server says or does: not retried). Every failure of a
request or a body leaves this module as one of them, never as an exception of requests or urllib3.

A little over 400 lines: the error kinds, the limits and the client are one contract that landing,
the schedule and the sensors rely on; the deadline's machinery and the error descriptions are in
``download_deadline`` and ``http_errors``.
"""

import http.client
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urljoin, urlparse

import requests
import urllib3

from mta_lake.core import weeks
from mta_lake.core.download_deadline import Deadline, WatchedAdapter
from mta_lake.core.http_errors import (  # innermost_http_error: imported from here by tools.graphql
    describe_http_error,
    innermost_http_error,  # noqa: F401
)
from mta_lake.core.settings import (
    DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
    DEFAULT_MAX_INDEX_BYTES,
    DEFAULT_MAX_WEEK_BYTES,
    DEFAULT_SITE_URL,
    Settings,
)

log = logging.getLogger(__name__)

FILES_PATH = "data/nyct/turnstile"
INDEX_PAGE = "turnstile.html"
DEFAULT_USER_AGENT = "mta-lake/0.1 (turnstile data lake; python-requests)"
CHUNK_SIZE = 1 << 20
"""Bytes read from the socket at a time: large enough to keep zlib busy, small enough that
memory stays flat whatever the file size."""
MAX_REDIRECTS = 5
"""Redirects followed within the site (http to https, a moved page); more is a loop."""

T = TypeVar("T")


class SourceError(Exception):
    """The source could not give us a file. ``url`` names what was asked for."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class NotPublishedError(SourceError):
    """HTTP 404: the MTA has not published this file (or no longer serves it)."""


class TransientSourceError(SourceError):
    """A failure that may go away on its own: worth another try after a pause."""

    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(url, reason)
        self.retry_after = retry_after


class BadSourceError(SourceError):
    """The server answered, but not with a turnstile file; trying again will not help."""


class DownloadStopped(SourceError):
    """The download was stopped from our side (``MtaSite.stop``: the run was interrupted). Not retried."""


@dataclass(frozen=True)
class ServerFileInfo:
    """What the server said about a file, when it said anything."""

    last_modified: str | None = None
    etag: str | None = None
    content_length: int | None = None

    @classmethod
    def from_headers(cls, headers: "requests.structures.CaseInsensitiveDict[str]") -> "ServerFileInfo":
        length = headers.get("Content-Length")
        # With Content-Encoding, Content-Length counts the encoded bytes, not the file's.
        encoded = headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        return cls(
            last_modified=headers.get("Last-Modified"),
            etag=headers.get("ETag"),
            content_length=int(length) if length and length.isdigit() and not encoded else None,
        )

    def differs_from(self, recorded: "ServerFileInfo") -> bool:
        """True when both sides state a field and it changed; unknown fields prove nothing."""
        pairs = [
            (self.etag, recorded.etag),
            (self.last_modified, recorded.last_modified),
            (self.content_length, recorded.content_length),
        ]
        return any(now is not None and then is not None and now != then for now, then in pairs)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for transient source failures."""

    max_retries: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max))
        return wait


def call_with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    describe: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``, trying again on ``TransientSourceError`` as ``policy`` allows."""
    attempt = 0
    while True:
        try:
            return action()
        except TransientSourceError as error:
            attempt += 1
            if attempt > policy.max_retries:
                raise TransientSourceError(
                    error.url,
                    f"{error.reason} (gave up after {attempt} attempts)",
                ) from error
            wait = policy.delay(attempt, error.retry_after)
            log.warning(
                "%s: %s; retry %d of %d in %.1fs",
                describe,
                error.reason,
                attempt,
                policy.max_retries,
                wait,
            )
            sleep(wait)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
"""What a request or a body can raise besides our own errors (requests wraps most, not all)."""

_BAD_REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.TooManyRedirects,
    requests.exceptions.SSLError,
    urllib3.exceptions.LocationParseError,
)
"""Not worth another try: the same URL, the same certificate or the same headers fail the same way."""


def transport_error(
    url: str, error: BaseException, *, received: int | None = None, deadline: Deadline | None = None
) -> "SourceError":
    """What a failed request (``received`` None) or body (after ``received`` bytes) means for the source."""
    if deadline is not None and deadline.stopped:
        return DownloadStopped(url, "stopped: the landing was interrupted")
    if deadline is not None and deadline.expired:
        after = "" if received is None else f" after {received} bytes of the body"
        return TransientSourceError(url, f"{deadline.describe()}{after}")
    if isinstance(error, requests.exceptions.ContentDecodingError | urllib3.exceptions.DecodeError):
        return BadSourceError(url, f"body could not be decoded ({_short(error)})")
    if isinstance(error, _BAD_REQUEST_ERRORS):
        return BadSourceError(url, f"request failed ({_short(error)})")
    if received is None:
        return TransientSourceError(url, f"could not connect ({_short(error)})")
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return TransientSourceError(url, f"body cut short after {received} bytes ({_short(error)})")
    return TransientSourceError(
        url, f"connection failed after {received} bytes of the body ({_short(error)})"
    )


class SourceFile:
    """One open response from the site, read as a stream of bytes.

    ``url`` is the address that served it (after any redirect within the site); ``limit`` is
    ``(bytes, setting)``: the most the body may hold, and the setting that says so.
    """

    def __init__(
        self,
        url: str,
        response: requests.Response,
        *,
        limit: tuple[int, str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.url = url
        self._response = response
        self._limit = limit
        self._deadline = deadline
        self.info = ServerFileInfo.from_headers(response.headers)

    @property
    def encoding(self) -> str:
        return self._response.encoding or "utf-8"

    def iter_chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The file's bytes as the MTA published them (any Content-Encoding undone).

        A body cut short (a reset, or fewer bytes than Content-Length), a stalled read or the
        deadline raises ``TransientSourceError``; a body over the limit ``BadSourceError`` (as soon
        as the limit is passed, or at once when Content-Length announces more).
        """
        cap, setting = self._limit or (None, "")
        expected = self.info.content_length
        if cap is not None and expected is not None and expected > cap:
            raise BadSourceError(
                self.url,
                f"the server announces {expected:,} bytes, more than the {cap:,} allowed ({setting})",
            )
        received = 0
        try:
            for chunk in self._response.iter_content(chunk_size):
                received += len(chunk)
                if cap is not None and received > cap:
                    raise BadSourceError(
                        self.url,
                        f"more than the {cap:,} bytes allowed ({setting}): refused after {received:,}",
                    )
                yield chunk
        except SourceError:
            raise
        except _TRANSPORT_ERRORS as error:
            raise transport_error(self.url, error, received=received, deadline=self._deadline) from None
        if self._deadline is not None and self._deadline.stopped:
            raise DownloadStopped(self.url, "stopped: the landing was interrupted")
        if self._deadline is not None and self._deadline.expired:
            # A body without Content-Length ends at the connection's end: the shutdown looked like one.
            raise TransientSourceError(
                self.url, f"{self._deadline.describe()} after {received} bytes of the body"
            )
        if expected is not None and received != expected:
            raise TransientSourceError(
                self.url, f"body cut short: got {received} of {expected} bytes (Content-Length)"
            )


def _short(error: BaseException) -> str:
    """A requests error as this module's messages quote it (see ``describe_http_error``)."""
    return describe_http_error(error)


class MtaSite:
    """The MTA developer site (or a mirror of it laid out the same way)."""

    def __init__(
        self,
        base_url: str = DEFAULT_SITE_URL,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        user_agent: str = DEFAULT_USER_AGENT,
        retry: RetryPolicy | None = None,
        max_index_bytes: int = DEFAULT_MAX_INDEX_BYTES,
        max_file_bytes: int = DEFAULT_MAX_WEEK_BYTES,
        deadline_seconds: float = DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = (urlparse(self.base_url).hostname or "").lower()
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self.max_index_bytes = max_index_bytes
        self.max_file_bytes = max_file_bytes
        self.deadline_seconds = deadline_seconds
        self._stopped = False
        self._downloads: set[Deadline] = set()
        self._downloads_lock = threading.Lock()
        self._session = requests.Session()
        adapter = WatchedAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # One connection per concurrent download at most; the default pool of 10 suffices.
        self._session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "identity"})

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/{INDEX_PAGE}"

    def file_url(self, name: str) -> str:
        return f"{self.base_url}/{FILES_PATH}/{name}"

    def _within_site(self, url: str, target: str) -> str:
        """``target`` (a redirect of ``url``) if it is on the configured site, else ``BadSourceError``."""
        parsed = urlparse(target)
        if parsed.scheme not in ("http", "https") or (parsed.hostname or "").lower() != self.host:
            raise BadSourceError(
                url,
                f"redirected to {target[:200]!r}, outside the configured site {self.host} (MTA_SITE_URL): "
                "not followed",
            )
        return target

    def _request(self, method: str, url: str, deadline: Deadline) -> requests.Response:
        """The response to ``method url`` (streamed: the body is not read), following redirects
        within the site. Raises a ``SourceError`` for anything but a 200."""
        current = url
        with deadline.active():
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    response = self._session.request(
                        method, current, stream=True, timeout=self.timeout, allow_redirects=False
                    )
                except _TRANSPORT_ERRORS as error:
                    raise transport_error(url, error, deadline=deadline) from None
                if response.is_redirect:
                    location = response.headers["Location"]
                    response.close()
                    current = self._within_site(url, urljoin(current, location))
                    continue
                if response.status_code == 200:
                    return response
                response.close()
                status = response.status_code
                if status == 404:
                    raise NotPublishedError(url, "not published (HTTP 404)")
                if status == 429 or status >= 500:
                    raise TransientSourceError(
                        url,
                        f"HTTP {status} {response.reason}",
                        retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
                    )
                raise BadSourceError(url, f"HTTP {status} {response.reason}")
        raise BadSourceError(url, f"more than {MAX_REDIRECTS} redirects (last to {current[:200]!r})")

    def stop(self) -> None:
        """Stop every download in progress now and refuse new ones (``DownloadStopped``), from any
        thread: what an interrupted run does, so that no download of it carries on after it ended."""
        with self._downloads_lock:
            self._stopped = True
            downloads = list(self._downloads)
        for deadline in downloads:
            deadline.stop()

    @contextmanager
    def _download(self, method: str, url: str, limit: tuple[int, str]) -> Iterator[SourceFile]:
        deadline = Deadline(self.deadline_seconds)
        with self._downloads_lock:
            if self._stopped:
                deadline.cancel()
                raise DownloadStopped(url, "stopped: the landing was interrupted")
            self._downloads.add(deadline)
        try:
            response = self._request(method, url, deadline)
            try:
                yield SourceFile(response.url or url, response, limit=limit, deadline=deadline)
            finally:
                response.close()
        finally:
            deadline.cancel()
            with self._downloads_lock:
                self._downloads.discard(deadline)

    def index_html(self) -> str:
        """The index page, with retries."""
        url = self.index_url

        def fetch() -> str:
            with self._download("GET", url, (self.max_index_bytes, "MTA_MAX_INDEX_BYTES")) as page:
                body = b"".join(page.iter_chunks())
                return body.decode(page.encoding, errors="replace")

        return call_with_retries(fetch, self.retry, f"index {url}")

    def published_file_dates(self) -> list[date] | None:
        """File dates listed on the index page, or None when the page cannot be read."""
        try:
            dates = weeks.published_file_dates(self.index_html())
        except SourceError as error:
            log.warning("index page unreadable, computing file names instead: %s", error)
            return None
        if not dates:
            log.warning("index page %s lists no turnstile files; computing names", self.index_url)
            return None
        return dates

    def head(self, name: str) -> ServerFileInfo:
        url = self.file_url(name)

        def ask() -> ServerFileInfo:
            with self._download("HEAD", url, (self.max_file_bytes, "MTA_MAX_WEEK_BYTES")) as answer:
                return answer.info

        return call_with_retries(ask, self.retry, f"HEAD {url}")

    @contextmanager
    def open(self, name: str) -> Iterator[SourceFile]:
        """GET one file as a stream. Not retried here: a retry must restart the whole body."""
        with self._download("GET", self.file_url(name), (self.max_file_bytes, "MTA_MAX_WEEK_BYTES")) as file:
            yield file

    def close(self) -> None:
        self._session.close()


def site_from_settings(settings: Settings) -> MtaSite:
    """The MTA site the settings name, with their limits: what the CLI reads the index and files from
    (the assets use the ``MtaSource`` resource, built from the same settings)."""
    return MtaSite(
        settings.site_url,
        max_index_bytes=settings.max_index_bytes,
        max_file_bytes=settings.max_week_bytes,
        deadline_seconds=settings.download_deadline_seconds,
    )
