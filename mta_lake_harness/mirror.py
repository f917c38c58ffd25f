"""A real HTTP server on 127.0.0.1 laid out like the MTA developer site, with fault injection.

    /developers/turnstile.html                     the index page, linking every listed file
    /developers/data/nyct/turnstile/turnstile_YYMMDD.txt

Tests control the server, never ``requests``: ``mirror.inject(name, Status(503), Reset(1000))``
makes the next two requests for ``name`` fail that way, after which it is served normally. An
untrusted source's tricks are faults too: ``Redirect`` (anywhere, any scheme), ``Drip`` (a byte at a
time, for ever), ``DripHeaders`` (the status line itself dripped), ``GzipBomb`` (a small body that
``Content-Encoding: gzip`` turns into a huge one).
Run it on its own for a manual or benchmark mirror, or to work offline (``make mirror``):

    python -m mta_lake_harness.mirror --root FOLDER_OF_TXT_FILES --port 8808
    python -m mta_lake_harness.mirror --fixtures --port 8808   # the repo's real samples
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import socket
import struct
import threading
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mta_lake.core.weeks import file_date_from_name, week_of_file
from mta_lake_harness.paths import FIXTURES

SITE_PREFIX = "/developers"
FILES_PREFIX = f"{SITE_PREFIX}/data/nyct/turnstile/"
INDEX_PATH = f"{SITE_PREFIX}/turnstile.html"
SEND_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Status:
    """Answer with this status (and optional headers and body) instead of the file."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Reset:
    """Send the headers and ``after`` bytes of the body, then reset the connection (RST)."""

    after: int


@dataclass(frozen=True)
class Truncate:
    """Announce the full Content-Length, send ``after`` bytes, then close cleanly (FIN)."""

    after: int


@dataclass(frozen=True)
class Stall:
    """Send ``after`` bytes, then go silent for ``seconds`` before sending the rest."""

    seconds: float
    after: int = 0


@dataclass(frozen=True)
class Replace:
    """Serve ``body`` with status 200 instead of the file (HTML pages, empty files, other formats)."""

    body: bytes
    content_type: str = "text/plain"


@dataclass(frozen=True)
class GzipEncoded:
    """Serve the file with ``Content-Encoding: gzip`` (as some proxies do)."""


@dataclass(frozen=True)
class Redirect:
    """Answer ``code`` with ``Location: location`` (relative or absolute, any scheme)."""

    location: str
    code: int = 302


@dataclass(frozen=True)
class Drip:
    """Send the headers, ``after`` bytes, then one byte every ``interval`` seconds until the body is
    sent or the client goes away: each read gets a byte in time, so no read timeout ever fires."""

    interval: float
    after: int = 0


@dataclass(frozen=True)
class DripHeaders:
    """Send the status line and headers one byte every ``interval`` seconds (then the file)."""

    interval: float


@dataclass(frozen=True)
class GzipBomb:
    """Serve ``size`` bytes of turnstile-looking text (after ``head``, e.g. the new format's header)
    gzip-compressed, with ``Content-Encoding: gzip``: a body of about ``size / 1000`` bytes that a
    client decoding it inflates to ``size``."""

    size: int
    head: bytes = b""


Fault = Status | Reset | Truncate | Stall | Replace | GzipEncoded | Redirect | Drip | DripHeaders | GzipBomb


BOMB_LINE = b"A002,R051,02-00-00,59 ST,NQR456W,BMT,01/06/2024,00:00:00,REGULAR,0000000001,0000000001\n"


def gzip_bomb(size: int, head: bytes = b"", line: bytes = BOMB_LINE) -> bytes:
    """One gzip member that inflates to ``head`` and ``line`` repeated, ``size`` bytes in all
    (compressed ~1000:1), built a megabyte at a time (never ``size`` bytes in memory)."""
    block = line * max(1, (1 << 20) // len(line))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, left = [compressor.compress(head)], size - len(head)
    while left > 0:
        piece = block[: min(left, len(block))]
        parts.append(compressor.compress(piece))
        left -= len(piece)
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class _File:
    data: bytes | Path
    last_modified: float
    etag: str

    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else self.data.stat().st_size

    def chunks(self) -> bytes:
        return self.data if isinstance(self.data, bytes) else self.data.read_bytes()


class MtaMirror:
    """The mirror's state: files, which of them the index lists, queued faults, and counters."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._files: dict[str, _File] = {}
        self._unlisted: set[str] = set()
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.method_requests: Counter[tuple[str, str]] = Counter()
        """Requests per (method, path): ``mirror.method_requests["GET", mirror.file_path(name)]``."""
        self.active = 0
        self.max_active = 0
        self.stalled = 0
        self.max_stalled = 0
        self.index_faults: deque[Fault] = deque()
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- configuration --------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{SITE_PREFIX}"

    def add(
        self, name: str, data: bytes | Path, *, listed: bool = True, last_modified: float | None = None
    ) -> None:
        """Publish ``name``; ``listed=False`` serves it without linking it from the index."""
        digest = hashlib.md5(data if isinstance(data, bytes) else str(data).encode()).hexdigest()[:16]
        with self._lock:
            self._files[name] = _File(data, last_modified or time.time(), f'"{digest}"')
            (self._unlisted.add if not listed else self._unlisted.discard)(name)

    def remove(self, name: str) -> None:
        with self._lock:
            self._files.pop(name, None)
            self._unlisted.discard(name)

    def inject(self, name: str, *faults: Fault) -> None:
        """Queue faults for the next requests of ``name`` (``turnstile.html`` for the index).

        HEAD requests take faults from the same queue: a HEAD answered with a body fault
        (``Reset``, ``Truncate``, ``Stall``, ``GzipEncoded``) sends the file's normal headers.
        """
        with self._lock:
            queue = self.index_faults if name == "turnstile.html" else self._faults.setdefault(name, deque())
            queue.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self.index_faults.clear()

    def _next_fault(self, name: str) -> Fault | None:
        with self._lock:
            queue = self.index_faults if name == "turnstile.html" else self._faults.get(name)
            return queue.popleft() if queue else None

    def listed_names(self) -> list[str]:
        with self._lock:
            return sorted(n for n in self._files if n not in self._unlisted)

    def index_html(self) -> bytes:
        links = "\n".join(
            f'<a href="data/nyct/turnstile/{name}">Saturday, {name[10:16]}</a><br/>'
            for name in reversed(self.listed_names())
        )
        return (
            "<html><head><title>MTA | developers | Turnstile Data</title></head><body>"
            f"<h1>Turnstile Data</h1>\n{links}\n</body></html>"
        ).encode()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> MtaMirror:
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="mta-mirror", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MtaMirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def file_path(name: str) -> str:
        """The request path of file ``name`` (the key of ``requests`` and ``method_requests``)."""
        return f"{FILES_PREFIX}{name}"

    def gets(self, name: str) -> int:
        """How many GET requests file ``name`` has received."""
        with self._lock:
            return self.method_requests["GET", self.file_path(name)]

    def heads(self, name: str) -> int:
        """How many HEAD requests file ``name`` has received."""
        with self._lock:
            return self.method_requests["HEAD", self.file_path(name)]

    def wait_for_stalls(self, count: int = 1, timeout: float = 15.0) -> None:
        """Return once ``count`` responses are held mid-body at once; a test that interrupts a
        stalled download must not race the download's request reaching this server."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self.stalled >= count:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} stalled response(s) not reached in {timeout} s")
            time.sleep(0.02)

    def _enter(self, path: str, method: str = "GET") -> None:
        with self._lock:
            self.requests[path] += 1
            self.method_requests[method, path] += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def _leave(self) -> None:
        with self._lock:
            self.active -= 1

    def _stall(self, seconds: float) -> None:
        """Hold a response mid-body, counted: responses stalled at once are downloads truly in
        flight together (a client cannot have moved on), unlike ``active``, which also counts a
        handler still finishing after its client has read the last byte."""
        with self._lock:
            self.stalled += 1
            self.max_stalled = max(self.max_stalled, self.stalled)
        try:
            time.sleep(seconds)
        finally:
            with self._lock:
                self.stalled -= 1


def _make_handler(mirror: MtaMirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mta-mirror/1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            path = self.path.split("?", 1)[0]
            mirror._enter(path, self.command)
            try:
                self._route(path, head)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                mirror._leave()

        def _route(self, path: str, head: bool) -> None:
            if path == INDEX_PATH:
                fault = mirror._next_fault("turnstile.html")
                body = mirror.index_html()
                return self._send(body, "text/html; charset=utf-8", fault, head, None, None)
            if path.startswith(FILES_PREFIX):
                name = path[len(FILES_PREFIX) :]
                fault = mirror._next_fault(name)
                with mirror._lock:
                    entry = mirror._files.get(name)
                if entry is None and not isinstance(fault, (Status, Replace)):
                    return self._status(404, b"<html><body>404 Not Found</body></html>")
                if entry is None:
                    return self._send(b"", "text/plain", fault, head, None, None)
                return self._send(entry.chunks(), "text/plain", fault, head, entry.last_modified, entry.etag)
            return self._status(404, b"<html><body>404 Not Found</body></html>")

        def _status(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.close_connection = True

        def _send(
            self,
            body: bytes,
            content_type: str,
            fault: Fault | None,
            head: bool,
            last_modified: float | None,
            etag: str | None,
        ) -> None:
            if isinstance(fault, Status):
                return self._status(fault.code, fault.body, fault.headers)
            if isinstance(fault, Redirect):
                return self._status(fault.code, b"", {"Location": fault.location})
            encoding = None
            if isinstance(fault, Replace):
                body, content_type, last_modified, etag = fault.body, fault.content_type, None, None
            elif isinstance(fault, GzipEncoded):
                body, encoding = gzip.compress(body, 6), "gzip"
            elif isinstance(fault, GzipBomb):
                body, encoding = gzip_bomb(fault.size, fault.head), "gzip"
            if isinstance(fault, DripHeaders):
                self._drip_headers(fault.interval, len(body), content_type)
                if not head:
                    self.wfile.write(body)
                return None
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if encoding:
                self.send_header("Content-Encoding", encoding)
            if last_modified is not None:
                self.send_header("Last-Modified", formatdate(last_modified, usegmt=True))
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if head:
                return
            limit = len(body)
            if isinstance(fault, (Reset, Truncate)):
                limit = min(fault.after, len(body))
            if isinstance(fault, Drip):
                return self._drip(body, fault)
            sent = 0
            stall = fault if isinstance(fault, Stall) else None
            while sent < limit:
                if stall is not None and sent >= stall.after:
                    self.wfile.flush()
                    mirror._stall(stall.seconds)
                    stall = None
                end = min(limit, sent + SEND_CHUNK)
                if stall is not None and sent < stall.after:
                    end = min(end, stall.after)
                self.wfile.write(body[sent:end])
                sent = end
            self.wfile.flush()
            if isinstance(fault, Reset):
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

        def _drip(self, body: bytes, fault: Drip) -> None:
            self.wfile.write(body[: fault.after])
            self.wfile.flush()
            for index in range(fault.after, len(body)):
                time.sleep(fault.interval)
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()

        def _drip_headers(self, interval: float, length: int, content_type: str) -> None:
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            self.close_connection = True
            for index in range(len(head)):
                self.wfile.write(head[index : index + 1])
                self.wfile.flush()
                time.sleep(interval)

    return Handler


def serve_folder(root: Path, host: str, port: int) -> MtaMirror:
    mirror = MtaMirror(host, port)
    for path in sorted(root.glob("turnstile_*.txt")):
        mirror.add(path.name, path)
    return mirror.start()


def serve_fixtures(host: str, port: int) -> MtaMirror:
    """The repo's samples (fixtures/mta/MANIFEST.md): three small files and two complete weeks."""
    mirror = MtaMirror(host, port)
    for path in sorted((FIXTURES / "raw").glob("turnstile_*.txt")):
        mirror.add(path.name, path.read_bytes())
    for path in sorted((FIXTURES / "weeks").glob("turnstile_*.txt.gz")):
        mirror.add(path.name.removesuffix(".gz"), gzip.decompress(path.read_bytes()))
    return mirror.start()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--root", type=Path, help="folder of turnstile_YYMMDD.txt files")
    source.add_argument("--fixtures", action="store_true", help="serve the repo's real samples")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8808)
    args = parser.parse_args()
    if args.fixtures:
        mirror = serve_fixtures(args.host, args.port)
    else:
        mirror = serve_folder(args.root, args.host, args.port)
    print(f"MTA mirror of {len(mirror.listed_names())} files at {mirror.url}", flush=True)
    print(f"  MTA_SITE_URL={mirror.url}", flush=True)
    for name in mirror.listed_names():
        print(f"  {name}: week {week_of_file(file_date_from_name(name)).isoformat()}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        mirror.stop()


if __name__ == "__main__":
    main()
