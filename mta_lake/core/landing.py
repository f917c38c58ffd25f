"""Land one week: stream its file from the source, gzip it on the fly, store it in the lake.

Plain Python, no Dagster. This is where a week becomes a lake object. The bytes stored are the
bytes the MTA served, gzip-compressed (one gzip member, zlib level 6); nothing is rewritten. The
first line is read as text, to refuse anything that is not a turnstile file before a byte reaches
the lake. Memory stays flat: one chunk in flight, zlib's window, and at most one upload chunk.

A week already in the lake is never replaced by something worse: a re-land (the source changed,
or one was asked for) writes the new file beside the old one (``layout.raw_candidate_key``),
parses it whole with the clean layer's parser, and only then puts it in the old one's place; a
new file that does not parse whole is dropped and the old one kept, with an error saying why.
"""

import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import google_crc32c

from mta_lake.core.lake import Lake, LakeError, Writable
from mta_lake.core.landing_report import (
    LandingReport,
    StreamStats,
    count_metadata,
    recorded_server_info,
    report_from_lake_object,
    source_metadata,
)
from mta_lake.core.layout import raw_candidate_key, raw_key
from mta_lake.core.source import (
    BadSourceError,
    MtaSite,
    NotPublishedError,
    ServerFileInfo,
    SourceError,
    TransientSourceError,
    call_with_retries,
)
from mta_lake.core.weeks import WeekFile

log = logging.getLogger(__name__)

GZIP_LEVEL = 6
NEW_FORMAT_HEADER = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"
# An old-format row: C/A,UNIT,SCP then at least one DATE(MM-DD-YY),TIME,DESC,ENTRIES,EXITS.
OLD_FORMAT_ROW = re.compile(r"[A-Z0-9]+,R\d{3},[0-9A-Z-]+,\d\d-\d\d-\d\d,\d\d:\d\d:\d\d,[^,]*,\s*\d+,\s*\d+")
FIRST_LINE_LIMIT = 64 * 1024
"""A turnstile file's first line is at most a few hundred bytes; more means it is not one."""


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
    key = raw_key(week_file.name)
    existing = lake.stat(key)
    status = "landed"
    if existing is not None:
        if reland:
            status = "relanded"
        else:
            changed, server = _source_changed(site, week_file, existing.metadata)
            if not changed:
                report = report_from_lake_object(lake, existing, "already_landed", server)
                return replace(report, week=week_file.key, source_url=url)
            log.info(
                "week %s: %s changed at the source since it landed; landing again",
                week_file.key,
                week_file.name,
            )
            status = "relanded"

    attempts = _Attempts()
    landed: list[str] = []
    served: list[str] = []
    # A first landing writes the object itself; a re-land writes a candidate beside the old one.
    target = key if existing is None else raw_candidate_key(week_file.name)

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

            with lake.writer(target) as pending:
                # Recorded with the object, for change detection and for the lake's own listing:
                # the address that served the bytes (after any redirect within the site).
                pending.metadata.update(source_metadata(response.url, response.info))
                stats = compress_stream(body(), pending, has_header=has_header)
                pending.metadata.update(count_metadata(stats))
                landed.append(pending.metadata["landed_at"])
            served.append(response.url)
            return stats, response.info

    try:
        stats, server = call_with_retries(attempt, site.retry, f"week {week_file.key} {url}")
    except NotPublishedError:
        raise WeekNotPublishedError(week_file, url, "not published (HTTP 404)") from None
    except TransientSourceError as error:
        raise RetriesExhaustedError(week_file, url, error.reason) from None
    except SourceError as error:
        raise LandingError(week_file, url, error.reason) from None
    if target != key:
        try:
            check_parses_whole(lake, target, week_file, site.max_file_bytes)
        except ValueError as error:
            lake.delete(target)
            raise LandingError(
                week_file, url, f"the new file does not parse whole, so the landed copy is kept: {error}"
            ) from None
        lake.promote(target, key)
    landed_at = landed[-1] if landed else None

    return LandingReport(
        week=week_file.key,
        file_name=week_file.name,
        source_url=served[-1] if served else url,
        uri=lake.uri(key),
        status=status,
        stats=stats,
        seconds=clock() - started,
        server=server,
        attempts=attempts.count,
        landed_at=landed_at,
    )


_PARSE_WHOLE = threading.Lock()
"""One whole-file parse at a time per process: a re-land of many weeks (``reland: true`` with several
downloads at once) must not hold several parsed weeks in memory together."""


def check_parses_whole(lake: Lake, key: str, week_file: WeekFile, max_bytes: int) -> None:
    """Parse the raw object at ``key`` as the clean layer will; ``ValueError`` saying why it does not.

    Whole means: the gzip stream is complete and within ``max_bytes`` decompressed, its format is
    the week's era, and the clean layer's accounting holds (at most 1% of the lines quarantined).
    """
    from mta_lake.core.clean import CleanWeekError, RawFileError, clean_week

    with _PARSE_WHOLE, lake.open_read(key) as stream:
        try:
            result = clean_week(
                stream,
                week=week_file.week,
                file_name=week_file.name,
                old_format=week_file.is_old_format,
                max_bytes=max_bytes,
            )
            result.check_accounting()
        except (CleanWeekError, RawFileError) as error:
            raise ValueError(str(error)) from None
    if result.counts.format_as_expected is False:
        raise ValueError(f"a {result.counts.file_format}-format file in the other format's era")


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
