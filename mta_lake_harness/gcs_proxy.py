"""A small HTTP proxy in front of fake-gcs-server that misbehaves on purpose.

Tests point a ``google.cloud.storage.Client`` at ``proxy.url`` instead of the emulator. Every
request is forwarded to the emulator unless a fault applies:

- ``fail_every=N``: every Nth request (N, 2N, ...) is answered ``fail_status`` (503 by default)
  without reaching the emulator, so the client's retries, or our failure handling, are exercised
  deterministically;
- ``deny=True``: every request is answered 403 with a GCS-style JSON error body;
- ``deny_writes=True``: uploads, patches and deletes are answered 403, reads are forwarded (a
  key with read-only access to the bucket);
- ``hold="text"``: a request whose line contains ``text`` is held (``held`` is set) until
  ``release()``, then dropped unanswered: a client killed while it waits never gets it done.

``requests`` lists every request line (``METHOD path``), in order.

The emulator's own address in ``Location`` headers (resumable upload sessions) and in JSON
bodies is rewritten to the proxy's, so that the chunks of an upload go through the proxy too.
Threads only, 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class GCSProxy:
    """A forwarding proxy on 127.0.0.1 with deterministic fault injection."""

    def __init__(self, upstream_url: str, *, fail_every: int = 0, fail_status: int = 503) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        parsed = urlparse(self.upstream_url)
        self._upstream_host = parsed.hostname or "127.0.0.1"
        self._upstream_port = parsed.port or 80
        self.fail_every = fail_every
        self.fail_status = fail_status
        self.deny = False
        self.deny_writes = False
        self._lock = threading.Lock()
        self.count = 0
        self.failed: list[str] = []
        """``METHOD path`` of every request answered with a fault."""
        self.forwarded: Counter[str] = Counter()
        """``METHOD`` -> how many requests reached the emulator."""
        self.requests: list[str] = []
        self.hold: str | None = None
        self.held = threading.Event()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> GCSProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="gcs-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GCSProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self):  # -> google.cloud.storage.Client
        """A storage client that talks to the emulator through this proxy, anonymously."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    def release(self) -> None:
        self._released.set()

    def _fault_for(self, method: str, request_line: str) -> int | None:
        with self._lock:
            self.count += 1
            self.requests.append(request_line)
            if self.deny or (self.deny_writes and method in WRITE_METHODS):
                status = 403
            elif self.fail_every and self.count % self.fail_every == 0:
                status = self.fail_status
            else:
                return None
            self.failed.append(request_line)
            return status

    def _rewrite(self, data: bytes) -> bytes:
        return data.replace(self.upstream_url.encode(), self.url.encode())


def _make_handler(proxy: GCSProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def handle(self) -> None:
            # The client may drop a keep-alive connection at any time; that is not an error.
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                super().handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status = proxy._fault_for(self.command, f"{self.command} {self.path}")
            if proxy.hold is not None and proxy.hold in self.path:
                proxy.held.set()
                proxy._released.wait(120)
                self.close_connection = True
                return None
            if status is not None:
                reason = "Forbidden" if status == 403 else http.client.responses.get(status, "Error")
                error = {"error": {"code": status, "message": f"proxy fault: {reason}", "errors": []}}
                return self._answer(status, {"Content-Type": "application/json"}, json.dumps(error).encode())
            upstream = http.client.HTTPConnection(proxy._upstream_host, proxy._upstream_port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = f"{proxy._upstream_host}:{proxy._upstream_port}"
                # The emulator may answer (404 for an unknown upload session) and close before
                # reading the whole body; its answer is still worth passing on.
                with contextlib.suppress(OSError):
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                reply_headers = {
                    k: v
                    for k, v in response.getheaders()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
                }
            except OSError as error:
                # The emulator is down: what a load balancer in front of GCS would say.
                message = {"error": {"code": 502, "message": f"upstream unreachable: {error}"}}
                return self._answer(502, {"Content-Type": "application/json"}, json.dumps(message).encode())
            finally:
                upstream.close()
            with proxy._lock:
                proxy.forwarded[self.command] += 1
            if "Location" in reply_headers:
                reply_headers["Location"] = proxy._rewrite(reply_headers["Location"].encode()).decode()
            if "json" in reply_headers.get("Content-Type", ""):
                data = proxy._rewrite(data)
            self._answer(response.status, reply_headers, data)

        def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return Handler


_READING = b"A000,R000,00-00-00,STATIONXXXXX,NQR456W,BMT,01/00/2024,00:00:00,REGULAR,0000000000,0000000000\n"
"""One reading of the new format; ``incompressible_week`` fills its digits and station with noise."""


def incompressible_week(size: int, header: str) -> bytes:
    """A new-format turnstile file of about ``size`` bytes whose gzip is about a third as large.

    Every line is a well-formed reading (so a re-land, which parses the new file whole before it
    replaces the old one, accepts it) with random booths, station names, times and counters: the
    compressed object spans several resumable-upload chunks (2 MiB), so an upload can be caught
    half-way. Built as one array (a Python loop over 250,000 lines takes seconds).
    """
    import numpy as np

    rng = np.random.default_rng()
    count = size // len(_READING) + 1
    table = np.tile(np.frombuffer(_READING, np.uint8), (count, 1))
    text = _READING.decode()

    def digits(start: int, width: int, high: int = 10, low: int = 0) -> None:
        table[:, start : start + width] = ord("0") + rng.integers(low, high, (count, width), dtype=np.uint8)

    scp = text.index("00-00-00")
    fields = [
        (1, 3),  # C/A A000
        (text.index("R000") + 1, 3),  # UNIT
        (scp + 1, 1),
        (scp + 4, 1),
        (scp + 7, 1),  # SCP 00-00-00 .. 09-09-09
        (text.index(",0000000000,") + 1, 10),  # ENTRIES
        (text.rindex("0000000000"), 10),  # EXITS
    ]
    for start, width in fields:
        digits(start, width)
    digits(text.index("01/00") + 4, 1, 8, low=1)  # the day: 01/01..01/07/2024
    time_at = text.index("00:00:00")
    for offset, high in ((0, 2), (1, 10), (3, 6), (4, 10), (6, 6), (7, 10)):
        digits(time_at + offset, 1, high)
    station = text.index("STATIONXXXXX")
    hex_digits = np.frombuffer(b"0123456789ABCDEF", np.uint8)
    table[:, station : station + 12] = hex_digits[rng.integers(0, 16, (count, 12))]
    return header.encode() + b"\n" + table.tobytes()
