"""Land one week: stream its file from the source, gzip it on the fly, store it in the lake.

Plain Python, no Dagster. This is where a week becomes a lake object. The bytes stored are the
bytes the MTA served, gzip-compressed (one gzip member, zlib level 6); nothing is parsed or
rewritten. Only the first line is read as text, to refuse anything that is not a turnstile file
before a byte reaches the lake. Memory stays flat: one chunk in flight, zlib's window, and at
most one upload chunk.
"""

import logging
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import google_crc32c

from mta_lake.lake import Lake, LakeError, Writable
from mta_lake.source import (
    BadSourceError,
    MtaSite,
    NotPublishedError,
    ServerFileInfo,
    SourceError,
    TransientSourceError,
    call_with_retries,
)
from mta_lake.weeks import WeekFile

log = logging.getLogger(__name__)

LAKE_PREFIX = "raw/turnstile/"
GZIP_LEVEL = 6
NEW_FORMAT_HEADER = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"
# An old-format row: C/A,UNIT,SCP then at least one DATE(MM-DD-YY),TIME,DESC,ENTRIES,EXITS.
OLD_FORMAT_ROW = re.compile(r"[A-Z0-9]+,R\d{3},[0-9A-Z-]+,\d\d-\d\d-\d\d,\d\d:\d\d:\d\d,[^,]*,\s*\d+,\s*\d+")
FIRST_LINE_LIMIT = 64 * 1024
"""A turnstile file's first line is at most a few hundred bytes; more means it is not one."""


def lake_key(file_name: str) -> str:
    return f"{LAKE_PREFIX}{file_name}.gz"


class LandingError(Exception):
    """A week did not land. The message names the week, the file, the URL and the reason."""

    def __init__(self, week_file: WeekFile, url: str, reason: str) -> None:
        super().__init__(f"week {week_file.key} ({week_file.name}, {url}): {reason}")
        self.week = week_file.key
        self.file_name = week_file.name
        self.url = url
        self.reason = reason


class WeekNotPublishedError(LandingError):
    """The MTA has no file for this week (HTTP 404, or absent from the index)."""


class RetriesExhaustedError(LandingError):
    """A transient failure outlasted the retries; a later attempt may still succeed."""


class LakeWriteError(LandingError, LakeError):
    """The lake refused or lost the object (missing bucket, denied, disk full); the lake is as it was."""


@dataclass(frozen=True)
class StreamStats:
    """What was counted while compressing one file."""

    source_bytes: int
    stored_bytes: int
    data_rows: int
    crc32c: str
    """CRC32C of the source bytes, as 8 hex digits."""


@dataclass(frozen=True)
class LandingReport:
    """What landing one week did."""

    week: str
    file_name: str
    source_url: str
    uri: str
    status: str
    """``landed``, ``relanded`` (source changed or re-land asked), or ``already_landed``."""
    stats: StreamStats
    seconds: float
    server: ServerFileInfo = field(default_factory=ServerFileInfo)
    attempts: int = 1

    @property
    def mb_per_s(self) -> float:
        return self.stats.source_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    @property
    def downloaded(self) -> bool:
        return self.status != "already_landed"


def check_first_line(first_line: bytes, expect_old_format: bool) -> bool:
    """Validate a file's first line; return True when it is the new format's header.

    Raises ``ValueError`` with a reason a person can act on.
    """
    text = first_line.decode("latin-1").rstrip("\r\n")
    shown = text[:80] + ("..." if len(text) > 80 else "")
    stripped = text.strip()
    if stripped.startswith("<") or "<html" in stripped.lower():
        raise ValueError(f"an HTML page, not a turnstile file (first line: {shown!r})")
    is_header = stripped == NEW_FORMAT_HEADER
    is_old_row = OLD_FORMAT_ROW.match(stripped) is not None
    if not is_header and not is_old_row:
        raise ValueError(f"first line is neither turnstile format: {shown!r}")
    if is_header and expect_old_format:
        raise ValueError(
            "new-format header in a file of the old-format era (files up to turnstile_141011.txt have no header)"
        )
    if is_old_row and not expect_old_format:
        raise ValueError(
            "old-format row (no header) in a file of the new-format era (files from turnstile_141018.txt start with a header)"
        )
    return is_header


def split_first_line(chunks: Iterator[bytes]) -> tuple[bytes, bytes]:
    """Read from ``chunks`` until the first line is complete: (first line incl. newline, rest read)."""
    buffered = b""
    for chunk in chunks:
        buffered += chunk
        newline = buffered.find(b"\n")
        if newline >= 0:
            return buffered[: newline + 1], buffered[newline + 1 :]
        if len(buffered) > FIRST_LINE_LIMIT:
            break
    return buffered, b""


def compress_stream(
    chunks: Iterable[bytes],
    sink: Writable,
    *,
    has_header: bool,
    level: int = GZIP_LEVEL,
) -> StreamStats:
    """gzip ``chunks`` into ``sink`` as one gzip member, counting bytes, rows and CRC32C."""
    # wbits=31: a gzip (not zlib) stream, readable by gzip(1) and Python's gzip module.
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    source_bytes = stored_bytes = newlines = 0
    crc = 0
    last_byte = b"\n"
    for chunk in chunks:
        if not chunk:
            continue
        source_bytes += len(chunk)
        newlines += chunk.count(b"\n")
        crc = google_crc32c.extend(crc, chunk)
        last_byte = chunk[-1:]
        compressed = compressor.compress(chunk)
        if compressed:
            sink.write(compressed)
            stored_bytes += len(compressed)
    tail = compressor.flush()
    sink.write(tail)
    stored_bytes += len(tail)
    lines = newlines + (0 if last_byte == b"\n" else 1)
    return StreamStats(
        source_bytes=source_bytes,
        stored_bytes=stored_bytes,
        data_rows=max(lines - (1 if has_header else 0), 0),
        crc32c=f"{crc:08x}",
    )


def _source_metadata(url: str, server: ServerFileInfo) -> dict[str, str]:
    """What is known before the first byte: where the file came from and what the server said."""
    metadata = {"source_url": url}
    if server.last_modified:
        metadata["source_last_modified"] = server.last_modified
    if server.etag:
        metadata["source_etag"] = server.etag
    if server.content_length is not None:
        metadata["source_content_length"] = str(server.content_length)
    return metadata


def _count_metadata(stats: StreamStats) -> dict[str, str]:
    """What is known only once the whole stream has been read."""
    return {
        "source_bytes": str(stats.source_bytes),
        "source_crc32c": stats.crc32c,
        "data_rows": str(stats.data_rows),
        "landed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def recorded_server_info(metadata: dict[str, str] | None) -> ServerFileInfo:
    metadata = metadata or {}
    length = metadata.get("source_content_length")
    return ServerFileInfo(
        last_modified=metadata.get("source_last_modified"),
        etag=metadata.get("source_etag"),
        content_length=int(length) if length and length.isdigit() else None,
    )


def recorded_stats(size: int, metadata: dict[str, str]) -> StreamStats:
    def number(name: str) -> int:
        value = metadata.get(name, "")
        return int(value) if value.isdigit() else 0

    return StreamStats(
        source_bytes=number("source_bytes"),
        stored_bytes=size,
        data_rows=number("data_rows"),
        crc32c=metadata.get("source_crc32c", ""),
    )


class _Attempts:
    def __init__(self) -> None:
        self.count = 0


def land_week(
    week_file: WeekFile,
    site: MtaSite,
    lake: Lake,
    *,
    reland: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> LandingReport:
    """Land ``week_file`` in ``lake`` unless it is already there and unchanged.

    Raises ``LandingError`` (or its subclasses) naming the week, the file, the URL and the reason;
    in every failure the lake is as it was before the call.
    """
    try:
        return _land_week(week_file, site, lake, reland=reland, clock=clock)
    except LandingError:
        raise
    except (LakeError, OSError) as error:
        # Source errors are all SourceError by now; what is left came from the lake.
        url = site.file_url(week_file.name)
        raise LakeWriteError(week_file, url, f"lake {lake.url}: {error}") from None


def _land_week(
    week_file: WeekFile,
    site: MtaSite,
    lake: Lake,
    *,
    reland: bool,
    clock: Callable[[], float],
) -> LandingReport:
    started = clock()
    url = site.file_url(week_file.name)
    key = lake_key(week_file.name)
    existing = lake.stat(key)
    status = "landed"
    if existing is not None:
        if reland:
            status = "relanded"
        else:
            changed, server = _source_changed(site, week_file, existing.metadata)
            if not changed:
                return LandingReport(
                    week=week_file.key,
                    file_name=week_file.name,
                    source_url=url,
                    uri=lake.uri(key),
                    status="already_landed",
                    stats=recorded_stats(existing.size, dict(existing.metadata)),
                    seconds=clock() - started,
                    server=server or recorded_server_info(dict(existing.metadata)),
                    attempts=0,
                )
            log.info(
                "week %s: %s changed at the source since it landed; landing again",
                week_file.key,
                week_file.name,
            )
            status = "relanded"

    attempts = _Attempts()

    def attempt() -> tuple[StreamStats, ServerFileInfo]:
        attempts.count += 1
        with site.open(week_file.name) as response:
            chunks = response.iter_chunks()
            first_line, rest = split_first_line(chunks)
            if not first_line:
                raise BadSourceError(url, "empty file: the server sent no bytes")
            try:
                has_header = check_first_line(first_line, week_file.is_old_format)
            except ValueError as error:
                raise BadSourceError(url, str(error)) from None
            if has_header and not rest.strip():
                rest_chunk = next(chunks, b"")
                if not rest_chunk.strip():
                    raise BadSourceError(url, "header only: the file has no data rows")
                rest += rest_chunk

            def body() -> Iterator[bytes]:
                yield first_line
                yield rest
                yield from chunks

            with lake.writer(key) as pending:
                # Recorded with the object, for change detection and for the lake's own listing.
                pending.metadata.update(_source_metadata(url, response.info))
                stats = compress_stream(body(), pending, has_header=has_header)
                pending.metadata.update(_count_metadata(stats))
            return stats, response.info

    try:
        stats, server = call_with_retries(attempt, site.retry, f"week {week_file.key} {url}")
    except NotPublishedError:
        raise WeekNotPublishedError(week_file, url, "not published (HTTP 404)") from None
    except TransientSourceError as error:
        raise RetriesExhaustedError(week_file, url, error.reason) from None
    except SourceError as error:
        raise LandingError(week_file, url, error.reason) from None

    return LandingReport(
        week=week_file.key,
        file_name=week_file.name,
        source_url=url,
        uri=lake.uri(key),
        status=status,
        stats=stats,
        seconds=clock() - started,
        server=server,
        attempts=attempts.count,
    )


def _source_changed(
    site: MtaSite, week_file: WeekFile, metadata: object
) -> tuple[bool, ServerFileInfo | None]:
    """Ask the server about the file; compare with what was recorded when it landed."""
    recorded = recorded_server_info(dict(metadata))  # type: ignore[arg-type]
    if recorded == ServerFileInfo():
        return False, None  # nothing was recorded (landed by hand or by an older pipeline)
    try:
        now = site.head(week_file.name)
    except SourceError as error:
        # The copy in the lake may be the only one left; a source that is gone or down is
        # no reason to touch it.
        log.warning(
            "week %s: cannot check %s for changes (%s); keeping the landed copy",
            week_file.key,
            week_file.name,
            error.reason,
        )
        return False, None
    return now.differs_from(recorded), now
