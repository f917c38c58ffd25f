"""Clean the weeks of a run: each raw week in the lake becomes its typed readings in the lake.

Plain Python, no Dagster. This is where a raw object becomes ``clean/turnstile_readings/week=.../
readings.parquet`` (the parsing itself is ``mta_lake.core.clean``). For every week:

1. find the week's raw object (one listing of the raw prefix for the whole run);
2. if the clean object already records the data version this raw object and this code would
   give (``output_data_version``: the raw CRC32C and ``CLEAN_CODE_VERSION``), do nothing;
3. otherwise clean it, write the quarantine object first (so a week that fails can be looked at),
   check the accounting, and only then write the readings: a week that does not balance never
   reaches the lake's readings, so it cannot feed the next layer. Each object appears whole or
   not at all (``Lake.writer``), and the readings object carries its counts as metadata.
"""

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import google_crc32c

from mta_lake.core import weeks
from mta_lake.core.clean import (
    CLEAN_CODE_VERSION,
    CleanWeekError,
    StationMapping,
    clean_week,
    default_station_mapping,
    output_data_version,
    week_checks,
)
from mta_lake.core.clean.text import RawFileError, read_raw
from mta_lake.core.lake import PARQUET, Lake, LakeError, LakeObject
from mta_lake.core.layout import RAW_PREFIX, clean_quarantine_key, clean_readings_key, raw_file_name
from mta_lake.core.reconcile import lake_weeks
from mta_lake.core.settings import DEFAULT_MAX_WEEK_BYTES

COUNTS_KEY = "clean_counts"
"""Lake-object metadata holding the week's counts as JSON (GCS metadata values are strings)."""


class CleaningError(Exception):
    """A week that could not be cleaned; the message names the week, the file and what was wrong."""


@dataclass(frozen=True)
class CleanReport:
    """What cleaning one week did."""

    week: str
    status: str
    """``cleaned``, or ``unchanged`` (the stored week already has this data version)."""
    uri: str
    quarantine_uri: str
    data_version: str
    raw_crc32c: str
    counts: dict[str, int | float | str] = field(default_factory=dict)
    """The week's figures (``CleanCounts.as_metadata``), as stored with the object."""
    parquet_bytes: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, int | float | str]:
        """The metadata of the week's materialisation: numbers, so the UI plots them across weeks."""
        return {
            "dagster/uri": self.uri,
            "status": self.status,
            "quarantine_uri": self.quarantine_uri,
            "raw_crc32c": self.raw_crc32c,
            "code_version": CLEAN_CODE_VERSION,
            "parquet_bytes": self.parquet_bytes,
            **({"seconds": round(self.seconds, 3)} if self.status == "cleaned" else {}),
            **self.counts,
        }


def clean_lake_week(
    lake: Lake,
    week: str,
    raw: LakeObject,
    *,
    mapping: StationMapping,
    force: bool = False,
    max_bytes: int = DEFAULT_MAX_WEEK_BYTES,
) -> CleanReport:
    """Clean one week whose raw object is ``raw``; see the module docstring. ``max_bytes``: the
    most the week's file may hold decompressed (``MTA_MAX_WEEK_BYTES``); a larger object, or one
    that decompresses to more (a gzip bomb), fails the week before memory grows past it."""
    started = time.perf_counter()
    file_name = raw_file_name(raw.key)
    where = f"week {week} ({file_name})"
    if raw.size > max_bytes:
        raise CleaningError(
            f"{where}: the raw object has {raw.size:,} bytes, more than {max_bytes:,} (MTA_MAX_WEEK_BYTES)"
        )
    raw_crc = raw.metadata.get("source_crc32c", "")
    raw_input: bytes | bytearray | None = None
    if not raw_crc:
        # Landed by hand or by an older pipeline, with no CRC recorded: compute it from the bytes.
        try:
            with lake.open_read(raw.key) as stream:
                raw_input = read_raw(stream, max_bytes)
        except RawFileError as error:
            raise CleaningError(f"{where}: {error}") from None
        raw_crc = f"{google_crc32c.value(bytes(raw_input)):08x}"
    version = output_data_version(raw_crc)
    key = clean_readings_key(week)
    existing = lake.stat(key)
    if existing is not None and not force and existing.metadata.get("data_version") == version:
        return CleanReport(
            week=week,
            status="unchanged",
            uri=lake.uri(key),
            quarantine_uri=lake.uri(clean_quarantine_key(week)),
            data_version=version,
            raw_crc32c=raw_crc,
            counts=json.loads(existing.metadata.get(COUNTS_KEY, "{}")),
            parquet_bytes=existing.size,
        )
    old_format = weeks.file_date_from_name(file_name) <= weeks.LAST_OLD_FORMAT_FILE
    if raw_input is None:
        with lake.open_read(raw.key) as stream:
            raw_input = stream.read(max_bytes + 1)  # the gzip object: about 2.6 MB for a full week
    try:
        result = clean_week(
            raw_input,
            week=date.fromisoformat(week),
            file_name=file_name,
            old_format=old_format,
            mapping=mapping,
            max_bytes=max_bytes,
        )
    except RawFileError as error:
        raise CleaningError(f"{where}: {error}") from None
    object_metadata = {
        "data_version": version,
        "raw_crc32c": raw_crc,
        "code_version": CLEAN_CODE_VERSION,
    }
    with lake.writer(clean_quarantine_key(week), content_type=PARQUET) as sink:
        sink.write(result.quarantine_parquet)
        sink.metadata.update(object_metadata)
    try:
        result.check_accounting()
    except CleanWeekError as error:
        raise CleaningError(f"{error} (quarantine: {lake.uri(clean_quarantine_key(week))})") from None
    # The per-week checks, as numbers beside the counts (1 passed, 0 failed): the blocking ones
    # (accounting, schema) have passed by now or the week stopped above; the warnings are kept.
    checks = week_checks(result)
    failed_blocking = [check.name for check in checks if check.blocking and not check.passed]
    if failed_blocking:
        raise CleaningError(f"{where}: blocking check(s) failed: {', '.join(failed_blocking)}")
    counts = {
        **result.counts.as_metadata(),
        **{f"check_{check.name}": int(check.passed) for check in checks},
    }
    readings = result.readings_parquet
    with lake.writer(key, content_type=PARQUET) as sink:
        sink.write(readings)
        sink.metadata.update({**object_metadata, COUNTS_KEY: json.dumps(counts, sort_keys=True)})
    return CleanReport(
        week=week,
        status="cleaned",
        uri=lake.uri(key),
        quarantine_uri=lake.uri(clean_quarantine_key(week)),
        data_version=version,
        raw_crc32c=raw_crc,
        counts=counts,
        parquet_bytes=len(readings),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class CleanFailure:
    week: str
    error: Exception

    def __str__(self) -> str:
        return str(self.error)


class RunCleaning:
    """Clean the weeks of one run; iterate it for a ``CleanReport`` or ``CleanFailure`` per week."""

    def __init__(
        self,
        keys: Sequence[str],
        lake: Lake,
        *,
        force: bool = False,
        mapping: StationMapping | None = None,
        max_bytes: int = DEFAULT_MAX_WEEK_BYTES,
    ) -> None:
        self.keys = list(keys)
        self.lake = lake
        self.force = force
        self.mapping = mapping or default_station_mapping()
        self.max_bytes = max_bytes
        self.failures: dict[str, CleanFailure] = {}

    def __iter__(self) -> Iterator[CleanReport | CleanFailure]:
        raw_objects = {w.isoformat(): obj for w, obj in lake_weeks(self.lake.list(RAW_PREFIX)).items()}
        for week in self.keys:
            raw = raw_objects.get(week)
            try:
                if raw is None:
                    raise CleaningError(
                        f"week {week}: no raw file in the lake ({self.lake.uri(RAW_PREFIX)}): land "
                        "raw_turnstile for this week first"
                    )
                yield clean_lake_week(
                    self.lake, week, raw, mapping=self.mapping, force=self.force, max_bytes=self.max_bytes
                )
            except (CleaningError, LakeError) as error:
                failure = CleanFailure(week, error)
                self.failures[week] = failure
                yield failure

    def summary(self) -> str:
        lines = [str(self.failures[week]) for week in self.keys if week in self.failures]
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} of {len(self.keys)} weeks not cleaned:\n" + "\n".join(lines)
