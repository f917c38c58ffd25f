"""A total deadline for one download: a timer that shuts the download's connection down.

Plain Python, no Dagster. A read timeout bounds one silence, not a download: a server sending a
byte every 59 s keeps a 60 s read timeout happy for ever, and so does one dripping its headers.
So ``mta_lake.core.source`` mounts ``WatchedAdapter`` on its requests session: its connections
register their socket with the ``Deadline`` active in the thread when they send a request (the
download's first request and each redirect), and the deadline's timer shuts those sockets down
when it passes. The blocked read returns at once and the download fails; ``Deadline.expired``
then tells the caller why.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Deadline:
    """A total time limit on one download, started now: when it passes, its sockets are shut down."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.stopped = False
        """Ended early by ``stop`` (the landing was interrupted), not by the clock."""
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def stop(self) -> None:
        """End the download now: its sockets are shut down as if the deadline had passed."""
        self.stopped = True
        self._timer.cancel()
        self._expire()

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._sockets = []

    @contextmanager
    def active(self) -> Iterator["Deadline"]:
        """While active, every connection this thread sends a request on is watched."""
        previous = getattr(_ACTIVE, "deadline", None)
        _ACTIVE.deadline = self
        try:
            yield self
        finally:
            _ACTIVE.deadline = previous

    def describe(self) -> str:
        return f"the download took longer than its deadline of {self.seconds:g} s (MTA_DOWNLOAD_DEADLINE_SECONDS)"


_ACTIVE = threading.local()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch(sock: socket.socket | None) -> None:
    deadline = getattr(_ACTIVE, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections a ``Deadline`` can shut down (directly or via a proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager
