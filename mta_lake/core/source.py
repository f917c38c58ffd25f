"""The MTA developer site over HTTP: the index page, one file as a stream of bytes, retries.

Plain Python, no Dagster. Errors are sorted into three kinds, because the landing code treats
them differently: ``NotPublishedError`` (404: the file is not there, never retried),
``TransientSourceError`` (connection errors, resets, short bodies, timeouts, 5xx, 429: retried
with backoff), and ``BadSourceError`` (anything else the server says: not retried).
"""

import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests

from mta_lake.core import weeks
from mta_lake.core.settings import DEFAULT_SITE_URL

log = logging.getLogger(__name__)

FILES_PATH = "data/nyct/turnstile"
INDEX_PAGE = "turnstile.html"
DEFAULT_USER_AGENT = "mta-lake/0.1 (turnstile data lake; python-requests)"
CHUNK_SIZE = 1 << 20
"""Bytes read from the socket at a time: large enough to keep zlib busy, small enough that
memory stays flat whatever the file size."""

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


class SourceFile:
    """One open response from the site, read as a stream of bytes."""

    def __init__(self, url: str, response: requests.Response) -> None:
        self.url = url
        self._response = response
        self.info = ServerFileInfo.from_headers(response.headers)

    def iter_chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The file's bytes as the MTA published them (any Content-Encoding undone).

        A body cut short (a reset, or fewer bytes than Content-Length) or a stalled read raises
        ``TransientSourceError``.
        """
        received = 0
        try:
            for chunk in self._response.iter_content(chunk_size):
                received += len(chunk)
                yield chunk
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientSourceError(
                self.url, f"connection failed after {received} bytes of the body ({_short(error)})"
            ) from None
        except requests.exceptions.ChunkedEncodingError as error:
            raise TransientSourceError(
                self.url, f"body cut short after {received} bytes ({_short(error)})"
            ) from None
        except requests.exceptions.ContentDecodingError as error:
            raise BadSourceError(self.url, f"body could not be decoded ({_short(error)})") from None
        expected = self.info.content_length
        if expected is not None and received != expected:
            raise TransientSourceError(
                self.url, f"body cut short: got {received} of {expected} bytes (Content-Length)"
            )


_POOL_PREFIX = re.compile(r"^HTTPS?Connection(?:Pool)?\(host='[^']*', port=\d+\):\s*")
"""What urllib3 puts before each message: the host and port, which the caller's URL already names."""


def innermost_http_error(error: BaseException) -> BaseException:
    """The last exception that requests or urllib3 raised under ``error``: the one that says what happened.

    requests wraps urllib3's ``MaxRetryError`` (in ``args[0]``), which wraps the real failure (in
    ``reason``), which may wrap an OS error (``__cause__``). The OS error alone loses the context
    (``[Errno -2] Name or service not known`` without the host), so the descent stops at the last
    exception from requests or urllib3 and ``error`` is returned when it is from neither.
    """
    current, seen = error, {id(error)}
    while True:
        wrapped = _wrapped_exception(current)
        if wrapped is None or id(wrapped) in seen or not _from_http_library(wrapped):
            return current
        seen.add(id(wrapped))
        current = wrapped


def _wrapped_exception(error: BaseException) -> BaseException | None:
    reason = getattr(error, "reason", None)  # urllib3's MaxRetryError
    if isinstance(reason, BaseException):
        return reason
    if error.__cause__ is not None:
        return error.__cause__
    if error.args and isinstance(error.args[0], BaseException):  # requests' wrappers
        return error.args[0]
    return None


def _from_http_library(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in ("requests", "urllib3")


def describe_http_error(error: BaseException, limit: int = 300) -> str:
    """One line saying what went wrong, for a message: the innermost cause's class and message.

    ``NameResolutionError: Failed to resolve 'web.mta.info' ([Errno -2] Name or service not known)``
    rather than requests' ``HTTPConnectionPool(host='web.mta.info', port=80): Max retries exceeded
    with url: ... (Caused by NameResolutionError("HTTPConnection(host='web.mta.in...``, whose useful
    part a length limit cuts off. Longer than ``limit`` characters, the end is cut.
    """
    inner = innermost_http_error(error)
    args = inner.args
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[-1], BaseException):
        # urllib3's ProtocolError('Connection aborted.', ConnectionResetError(104, ...)): say both,
        # unless the first already quotes the second (ProtocolError('... IncompleteRead(...)', ...)).
        detail = args[-1]
        text = args[0]
        if str(detail) not in text and repr(detail) not in text:
            text = f"{text.rstrip('.')}: {type(detail).__name__}: {detail}"
    else:
        text = str(inner)
    text = _POOL_PREFIX.sub("", text.strip())
    line = " ".join(f"{type(inner).__name__}: {text}".split()) if text else type(inner).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self._session = requests.Session()
        # One connection per concurrent download at most; the default pool of 10 suffices.
        self._session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "identity"})

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/{INDEX_PAGE}"

    def file_url(self, name: str) -> str:
        return f"{self.base_url}/{FILES_PATH}/{name}"

    def _request(self, method: str, url: str, *, stream: bool) -> requests.Response:
        try:
            response = self._session.request(method, url, stream=stream, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientSourceError(url, f"could not connect ({_short(error)})") from None
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

    def index_html(self) -> str:
        """The index page, with retries."""
        url = self.index_url

        def fetch() -> str:
            response = self._request("GET", url, stream=False)
            return response.text

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
        response = call_with_retries(
            lambda: self._request("HEAD", url, stream=False), self.retry, f"HEAD {url}"
        )
        return ServerFileInfo.from_headers(response.headers)

    @contextmanager
    def open(self, name: str) -> Iterator[SourceFile]:
        """GET one file as a stream. Not retried here: a retry must restart the whole body."""
        url = self.file_url(name)
        response = self._request("GET", url, stream=True)
        try:
            yield SourceFile(url, response)
        finally:
            response.close()

    def close(self) -> None:
        self._session.close()
