"""A reverse proxy in front of a Dagster webserver that tests control: stall, refuse, resume, count.

    with WebserverProxy(dev.url) as proxy:
        subprocess.Popen([MTA_LAKE, "backfill", ..., "--url", proxy.url])
        proxy.stall(5)        # requests arriving in the next 5 s are held until then, then forwarded
        proxy.refuse()        # the port stops listening: connecting is refused (ECONNREFUSED)
        proxy.resume()        # listening again, on the same port; a stall ends at once
        proxy.operations["BackfillProgress"]   # GraphQL requests received, by operation name

HTTP-aware, threads and the standard library only, 127.0.0.1 only. Each request is forwarded on
its own connection and answered with ``Connection: close``, so no keep-alive connection opened
before ``refuse()`` outlives it. A request is counted when it arrives (a held or timed-out one
too); the webserver's answer is passed on as it is.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+(\w+)")
UPSTREAM_TIMEOUT = 600.0
"""Seconds the proxy waits for the webserver: longer than any client, so the client's own time-out
is what a test sees."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() must not wait for handler threads: a held request may wait for resume().
    block_on_close = False


class WebserverProxy:
    """A forwarding HTTP proxy on 127.0.0.1 whose availability a test switches on and off."""

    def __init__(self, upstream_url: str, port: int = 0) -> None:
        parsed = urlparse(upstream_url)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self._state = threading.Condition()
        self._stall_until = 0.0
        self._stalled_operation: str | None = None
        self._refusals = 0
        """How many times ``refuse()`` was called: a request that spans one is reset."""
        self._refusing = False
        self.sequence: list[str] = []
        """The operation of every request received, in order of arrival."""
        self._server = _Server(("127.0.0.1", port), _make_handler(self))
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebserverProxy:
        self._serve(self._server)
        return self

    def stop(self) -> None:
        with self._state:
            refusing = self._refusing
            self._refusing = True
            self._refusals += 1
            self._stall_until = 0.0
            self._state.notify_all()
        if not refusing:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> WebserverProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, server: _Server) -> None:
        # A short poll interval: shutdown() (in refuse and stop) waits up to one interval.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webserver-proxy", daemon=True
        )
        self._thread.start()

    # -- controls ---------------------------------------------------------------------------
    def stall(self, seconds: float, operation: str | None = None) -> None:
        """Hold each request (of ``operation`` only, if given) arriving in the next ``seconds``
        seconds until they have passed, then forward it: a webserver that is busy, not gone."""
        with self._state:
            self._stall_until = time.monotonic() + seconds
            self._stalled_operation = operation

    def refuse(self) -> None:
        """Stop listening: connecting is refused until ``resume()``. Requests in flight are reset."""
        with self._state:
            if self._refusing:
                return
            self._refusing = True
            self._refusals += 1
            self._stall_until = 0.0
            self._state.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def resume(self) -> None:
        """End a stall or a refusal: listen again on the same port, forward held requests now."""
        with self._state:
            self._stall_until = 0.0
            self._state.notify_all()
            refusing = self._refusing
        if refusing:
            # The same port (SO_REUSEADDR, set by HTTPServer): the client's URL stays valid.
            self._server = _Server(("127.0.0.1", self.port), _make_handler(self))
            with self._state:
                self._refusing = False
            self._serve(self._server)

    # -- what it saw ------------------------------------------------------------------------
    @property
    def operations(self) -> Counter[str]:
        """Requests received per GraphQL operation name (``anonymous`` for an unnamed one; ``GET
        /path`` for anything that is not GraphQL)."""
        with self._state:
            return Counter(self.sequence)

    def count(self, operation: str) -> int:
        with self._state:
            return self.sequence.count(operation)

    def wait_for(self, operation: str, count: int = 1, timeout: float = 60.0) -> None:
        """Return once ``count`` requests of ``operation`` have arrived; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._state:
            while self.sequence.count(operation) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.sequence.count(operation)} {operation} request(s) after {timeout:.0f} s, "
                        f"not {count}; seen: {dict(Counter(self.sequence))}"
                    )
                self._state.wait(min(remaining, 0.2))

    # -- used by the handler ----------------------------------------------------------------
    def _arrived(self, operation: str) -> int:
        """Count the request; return the refusal generation it belongs to."""
        with self._state:
            self.sequence.append(operation)
            self._state.notify_all()
            return self._refusals

    def _hold(self, operation: str, generation: int) -> bool:
        """Wait out a stall that applies to ``operation``; False if the proxy refused meanwhile."""
        with self._state:
            while True:
                if self._refusals != generation:
                    return False
                applies = self._stalled_operation in (None, operation)
                remaining = self._stall_until - time.monotonic()
                if not applies or remaining <= 0:
                    return True
                self._state.wait(remaining)

    def _still_serving(self, generation: int) -> bool:
        with self._state:
            return self._refusals == generation


def _operation_name(method: str, path: str, body: bytes) -> str:
    if method != "POST" or not path.split("?", 1)[0].endswith("/graphql"):
        return f"{method} {path}"
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return "unparsable"
    if not isinstance(payload, dict):
        return "batch"
    if payload.get("operationName"):
        return str(payload["operationName"])
    match = OPERATION.match(str(payload.get("query", "")))
    return match.group(1) if match else "anonymous"


def _make_handler(proxy: WebserverProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def handle(self) -> None:
            # A client that timed out closes its end: writing the late answer then fails, harmlessly.
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                super().handle()

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            operation = _operation_name(self.command, self.path, body)
            generation = proxy._arrived(operation)
            if not proxy._hold(operation, generation):
                return self._reset()
            upstream = http.client.HTTPConnection(
                proxy.upstream_host, proxy.upstream_port, timeout=UPSTREAM_TIMEOUT
            )
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                reply_headers = [
                    (k, v)
                    for k, v in response.getheaders()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
                ]
            except OSError as error:
                # The webserver itself is down: what a load balancer would say.
                data = f"upstream unreachable: {error}".encode()
                response, reply_headers = None, [("Content-Type", "text/plain")]
            finally:
                upstream.close()
            if not proxy._still_serving(generation):
                return self._reset()  # refused while the webserver worked: the answer is lost
            self.send_response(response.status if response is not None else 502)
            for key, value in reply_headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.close_connection = True

        def _reset(self) -> None:
            """Drop the connection with RST, as a webserver that went away does."""
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    return Handler
