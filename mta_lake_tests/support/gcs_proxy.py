"""A small HTTP proxy in front of fake-gcs-server that misbehaves on purpose.

Tests point a ``google.cloud.storage.Client`` at ``proxy.url`` instead of the emulator. Every
request is forwarded to the emulator unless a fault applies:

- ``fail_every=N``: every Nth request (N, 2N, ...) is answered ``fail_status`` (503 by default)
  without reaching the emulator, so the client's retries, or our failure handling, are exercised
  deterministically;
- ``deny=True``: every request is answered 403 with a GCS-style JSON error body;
- ``deny_writes=True``: uploads, patches and deletes are answered 403, reads are forwarded (a
  key with read-only access to the bucket).

The emulator's own address in ``Location`` headers (resumable upload sessions) and in JSON
bodies is rewritten to the proxy's, so that the chunks of an upload go through the proxy too.
Threads only, 127.0.0.1 only.
"""

from __future__ import annotations

import binascii
import contextlib
import http.client
import json
import os
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

    def _fault_for(self, method: str, request_line: str) -> int | None:
        with self._lock:
            self.count += 1
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


def incompressible_week(size: int, header: str) -> bytes:
    """A new-format turnstile file of about ``size`` bytes whose gzip is about half as large.

    Random hex lines: landing checks only the first line, and random data makes the compressed
    object span several resumable-upload chunks (8 MiB), so an upload can be caught half-way.
    """
    digits = binascii.hexlify(os.urandom(size // 2))
    lines = b"\n".join(digits[i : i + 64] for i in range(0, len(digits), 64))
    return header.encode() + b"\n" + lines + b"\n"
