"""What landing a week reports, and what its lake object records: the same figures whichever way
the week got there (downloaded now, already in the lake, or recorded from the lake by the
reconciliation).

Plain Python, no Dagster. ``mta_lake.core.landing`` writes these with each object;
``report_metadata`` is what a week's materialisation shows in the UI.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from mta_lake.core import weeks
from mta_lake.core.lake import Lake, LakeObject
from mta_lake.core.layout import raw_file_name
from mta_lake.core.source import ServerFileInfo


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


def source_metadata(url: str, server: ServerFileInfo) -> dict[str, str]:
    """What is known before the first byte: where the file came from and what the server said."""
    metadata = {"source_url": url}
    if server.last_modified:
        metadata["source_last_modified"] = server.last_modified
    if server.etag:
        metadata["source_etag"] = server.etag
    if server.content_length is not None:
        metadata["source_content_length"] = str(server.content_length)
    return metadata


def count_metadata(stats: StreamStats) -> dict[str, str]:
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
