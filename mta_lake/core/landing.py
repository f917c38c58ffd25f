"""Land one week: stream its file from the source, gzip it on the fly, store it in the lake.

Plain Python, no Dagster. This is where a week becomes a lake object. The bytes stored are the
bytes the MTA served, gzip-compressed (one gzip member, zlib level 6); nothing is parsed or
rewritten. Only the first line is read as text, to refuse anything that is not a turnstile file
before a byte reaches the lake. Memory stays flat: one chunk in flight, zlib's window, and at
most one upload chunk.
"""

import logging
import math
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import google_crc32c

from mta_lake.core import weeks
from mta_lake.core.lake import Lake, LakeError, LakeObject, Writable
from mta_lake.core.layout import raw_file_name, raw_key
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
    """``landed``, ``relanded`` (source changed or re-land asked), ``already_landed``, or
    ``recorded_from_lake`` (found in the lake by the reconciliation)."""
    stats: StreamStats
    seconds: float
    server: ServerFileInfo = field(default_factory=ServerFileInfo)
    attempts: int = 1
    landed_at: str | None = None
    """When the object was written (UTC, ISO 8601), as recorded with it."""

    @property
    def mb_per_s(self) -> float:
        return self.stats.source_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    @property
    def downloaded(self) -> bool:
        """True when the file was downloaded by this landing (not already in the lake, not recorded)."""
        return self.status in ("landed", "relanded")


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


def report_from_lake_object(
    lake: Lake, obj: LakeObject, status: str, server: ServerFileInfo | None = None, seconds: float = 0.0
) -> LandingReport:
    """What the lake object itself says about a week that was not downloaded now.

    Used for a week already landed and for one the reconciliation records from the lake, so both
    carry the same metadata as a fresh landing (``report_metadata``).
    """
    recorded = dict(obj.metadata)
    file_name = raw_file_name(obj.key)
    return LandingReport(
        week=weeks.week_of_file(weeks.file_date_from_name(file_name)).isoformat(),
        file_name=file_name,
        source_url=recorded.get("source_url", ""),
        uri=lake.uri(obj.key),
        status=status,
        stats=recorded_stats(obj.size, recorded),
        seconds=seconds,
        server=server or recorded_server_info(recorded),
        attempts=0,
        landed_at=recorded.get("landed_at"),
    )


def report_metadata(report: LandingReport) -> dict[str, str | int | float]:
    """The metadata recorded with a week's materialisation, whichever way the week got there.

    Download figures (seconds, MB/s, attempts) only for a week downloaded now: for a week that was
    already in the lake they would describe nothing. ``source_url`` is a URL; the Dagster layer
    marks it as one.
    """
    metadata: dict[str, str | int | float] = {
        "dagster/uri": report.uri,
        "status": report.status,
        "file_name": report.file_name,
        "stored_bytes": report.stats.stored_bytes,
    }
    optional: list[tuple[str, str | int | float | None]] = [
        ("source_url", report.source_url or None),
        ("source_bytes", report.stats.source_bytes or None),
        ("data_rows", report.stats.data_rows if report.stats.crc32c else None),
        ("source_crc32c", report.stats.crc32c or None),
        ("landed_at", report.landed_at),
        ("server_last_modified", report.server.last_modified),
        ("server_etag", report.server.etag),
        ("server_size", report.server.content_length),
    ]
    if report.downloaded:
        optional += [
            ("seconds", round(report.seconds, 3)),
            ("mb_per_s", round(report.mb_per_s, 2)),
            ("attempts", report.attempts),
        ]
    metadata.update({name: value for name, value in optional if value is not None and value != ""})
    return metadata


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
                landed.append(pending.metadata["landed_at"])
            return stats, response.info

    try:
        stats, server = call_with_retries(attempt, site.retry, f"week {week_file.key} {url}")
    except NotPublishedError:
        raise WeekNotPublishedError(week_file, url, "not published (HTTP 404)") from None
    except TransientSourceError as error:
        raise RetriesExhaustedError(week_file, url, error.reason) from None
    except SourceError as error:
        raise LandingError(week_file, url, error.reason) from None
    landed_at = landed[-1] if landed else None

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
        landed_at=landed_at,
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


# -- the weeks of one run ---------------------------------------------------------------------


@dataclass(frozen=True)
class LateFilePolicy:
    """When a week's missing file is late (try again later) rather than not published."""

    retry_seconds: float = 3600.0
    """Wait between attempts at a week whose file is not up yet."""
    grace: timedelta = weeks.PUBLICATION_GRACE
    """How long after a week ends its missing file counts as late."""

    @property
    def max_retries(self) -> int:
        """Attempts that fit in the grace period, plus one for the attempt that finds it over."""
        return math.ceil(self.grace.total_seconds() / max(self.retry_seconds, 1)) + 1


@dataclass(frozen=True)
class WeekFailure:
    """A week of the run that did not land, and why."""

    week: str
    error: Exception

    def __str__(self) -> str:
        return str(self.error)


@dataclass(frozen=True)
class RunVerdict:
    """How a run of weeks ended: ``landed``, ``retry_later`` (only late files) or ``failed``."""

    outcome: str
    failures: tuple[WeekFailure, ...] = ()
    retry_seconds: float = 0.0
    max_retries: int = 0

    @property
    def failed_weeks(self) -> list[str]:
        return sorted(failure.week for failure in self.failures)

    @property
    def retryable(self) -> bool:
        """True when every failure was transient and outlasted its retries: a later run may succeed."""
        return bool(self.failures) and all(
            isinstance(failure.error, RetriesExhaustedError) for failure in self.failures
        )

    def summary(self, run_size: int) -> str:
        """One line per failed week (the week, the file and the reason), in week order."""
        lines = [str(failure) for failure in sorted(self.failures, key=lambda f: f.week)]
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} of {run_size} weeks failed:\n" + "\n".join(lines)


class RunLanding:
    """Land the weeks of one run: the index read once, a pool of downloads, every failure kept.

    Iterate it to land the weeks; each week is yielded as soon as it is done (a ``LandingReport``
    or a ``WeekFailure``). Then ``verdict()`` says how the run ended. ``now`` is the clock the
    late-file decision reads, so it can be tested without waiting.

        landing = RunLanding(keys, site, lake, late=LateFilePolicy(...))
        for outcome in landing:
            ...
        verdict = landing.verdict()
    """

    def __init__(
        self,
        keys: Sequence[str],
        site: MtaSite,
        lake: Lake,
        *,
        reland: bool = False,
        max_workers: int = 1,
        late: LateFilePolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(weeks.NEW_YORK),
    ) -> None:
        self.keys = list(keys)
        self.site = site
        self.lake = lake
        self.reland = reland
        self.max_workers = max_workers
        self.late = late or LateFilePolicy()
        self.now = now
        self.failures: dict[str, WeekFailure] = {}
        self.index_readable: bool | None = None
        """None until the index is read (it is not read when no week is valid)."""

    def __iter__(self) -> Iterator[LandingReport | WeekFailure]:
        todo: list[tuple[str, date]] = []
        for key in self.keys:
            try:
                todo.append((key, weeks.parse_week(key, self.now())))
            except weeks.InvalidWeekError as error:
                yield self._fail(key, error)
        if not todo:
            return
        published = self.site.published_file_dates()
        self.index_readable = published is not None
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            futures = {pool.submit(self._land_one, week, published): key for key, week in todo}
            for future in as_completed(futures):
                key = futures[future]
                try:
                    yield future.result()
                except (LandingError, LakeError) as error:
                    # A LakeError here (a bucket that can be listed but not written) is a setting
                    # to fix: it fails the week like the rest.
                    yield self._fail(key, error)

    def _fail(self, key: str, error: Exception) -> WeekFailure:
        failure = WeekFailure(key, error)
        self.failures[key] = failure
        return failure

    def _land_one(self, week: date, published: Sequence[date] | None) -> LandingReport:
        week_file = weeks.resolve_week(week, published)
        if week_file is None:
            placeholder = WeekFile(week=week, file_date=weeks.week_end(week), from_index=False)
            raise WeekNotPublishedError(
                placeholder,
                self.site.index_url,
                "not published: the index page lists no file within 3 days of the week's end",
            )
        return land_week(week_file, self.site, self.lake, reland=self.reland)

    def verdict(self) -> RunVerdict:
        """Call after iterating. ``retry_later`` when every failure is a file that is merely late."""
        failures = tuple(self.failures[key] for key in self.keys if key in self.failures)
        if not failures:
            return RunVerdict("landed")
        if all_late(failures, self.now(), self.late):
            return RunVerdict(
                "retry_later",
                failures,
                retry_seconds=self.late.retry_seconds,
                max_retries=self.late.max_retries,
            )
        return RunVerdict("failed", failures)


def all_late(failures: Iterable[WeekFailure], now: datetime, late: LateFilePolicy) -> bool:
    """True when every failure is a file not published yet, and the next attempt is still in its grace."""
    next_attempt = now + timedelta(seconds=late.retry_seconds)
    return all(
        isinstance(failure.error, WeekNotPublishedError)
        and next_attempt < weeks.publication_deadline(date.fromisoformat(failure.week), late.grace)
        for failure in failures
    )
