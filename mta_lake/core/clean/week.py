"""Clean one week: the raw file in, every reading typed and flagged out, every line accounted for.

    result = clean_week(lake.open_read(raw_key), week=date(2024, 1, 6), file_name="turnstile_240113.txt")
    result.check_accounting()          # raises CleanWeekError, naming the week, file and first bad line
    sink.write(result.readings_parquet)
    sink.write(result.quarantine_parquet)
    metadata = result.counts.as_metadata()

Accounting (exact, checked by ``check_accounting``):

- file lines = header lines + blank lines + data lines (a blank line, empty once trimmed, is not a
  data line wherever it is, normally only at the end of the file);
- data lines = lines parsed + lines quarantined;
- readings written = reading groups parsed (counted from the parsed lines' shapes, not from the
  table), and the quarantine table has one row per quarantined line;
- at most ``MAX_QUARANTINED_SHARE`` of the data lines quarantined.
"""

import time
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa

from mta_lake.core.clean import arrow, clock, duplicates, stations
from mta_lake.core.clean.parquet import parquet_bytes
from mta_lake.core.clean.parse import ParsedFile, detect_layout, parse_file
from mta_lake.core.clean.schema import QUARANTINE_SCHEMA, READINGS_TABLE_SCHEMA
from mta_lake.core.clean.text import FileLines, RawInput, read_raw, split_lines
from mta_lake.core.clean.version import CLEAN_CODE_VERSION
from mta_lake.core.settings import DEFAULT_MAX_WEEK_BYTES

MAX_QUARANTINED_SHARE = 0.01
"""A week with more than 1% of its data lines quarantined fails. Real files have no malformed lines
or a handful (a cut-off last line, a stray header); 1% of a full week is 2,500 new-format lines or
about 360 old-format ones, so the limit only trips on a file that is broken or in a layout this
code does not know, which someone must look at before the week feeds the next layer."""
SECONDS_PER_DAY = 86_400
WEEK_SECONDS = 7 * SECONDS_PER_DAY
MICROSECONDS = 1_000_000


class CleanWeekError(Exception):
    """A week that must not feed the next layer; the message names the week, file and first bad line."""


class AccountingError(CleanWeekError):
    """The line or reading counts do not add up (a bug, never the data's fault)."""


class QuarantineThresholdError(CleanWeekError):
    """Too many lines could not be parsed."""


@dataclass(frozen=True)
class CleanCounts:
    """What cleaning one week counted: the accounting, and the figures the UI plots across weeks."""

    week: date
    file_name: str
    file_format: str
    """``old`` or ``new``, from the file's first line."""
    format_as_expected: bool | None
    """Whether that agrees with the ``old_format`` the caller expected (None: nothing expected)."""
    text_encoding: str
    file_lines: int
    header_lines: int
    blank_lines: int
    data_lines: int
    lines_parsed: int
    lines_quarantined: int
    reading_groups_parsed: int
    readings_written: int
    readings_in_week: int
    readings_outside_week: int
    readings_of_record: int
    duplicate_readings: dict[str, int]
    """Readings in duplicate groups, by kind (every member, the reading of record included)."""
    station_sources: dict[str, int]
    """Readings by where their station came from (every source, zeros included)."""
    readings_with_station: int
    turnstiles: int
    stations: int
    """Distinct station names."""
    station_keys: int
    ambiguous_local_times: int
    nonexistent_local_times: int
    first_quarantined_line: int | None
    first_quarantine_reason: str | None
    first_quarantined_text: str | None

    @property
    def quarantined_share(self) -> float:
        return self.lines_quarantined / self.data_lines if self.data_lines else 0.0

    @property
    def station_share(self) -> float:
        return self.readings_with_station / self.readings_written if self.readings_written else 0.0

    @property
    def in_week_share(self) -> float:
        return self.readings_in_week / self.readings_written if self.readings_written else 0.0

    def first_bad_line(self) -> str:
        if self.first_quarantined_line is None:
            return "no line was quarantined"
        text = self.first_quarantined_text or ""
        shown = text[:120] + ("..." if len(text) > 120 else "")
        return f"first bad line {self.first_quarantined_line}: {self.first_quarantine_reason}: {shown!r}"

    def as_metadata(self) -> dict[str, int | float | str]:
        """Flat name -> number (or text) for a materialisation's metadata; numbers plot across weeks."""
        values: dict[str, int | float | str] = {
            "file_format": self.file_format,
            "file_lines": self.file_lines,
            "header_lines": self.header_lines,
            "blank_lines": self.blank_lines,
            "data_lines": self.data_lines,
            "lines_parsed": self.lines_parsed,
            "lines_quarantined": self.lines_quarantined,
            "quarantined_share": self.quarantined_share,
            "reading_groups_parsed": self.reading_groups_parsed,
            "readings_written": self.readings_written,
            "readings_in_week": self.readings_in_week,
            "readings_outside_week": self.readings_outside_week,
            "readings_of_record": self.readings_of_record,
            "readings_with_station": self.readings_with_station,
            "station_share": self.station_share,
            "turnstiles": self.turnstiles,
            "stations": self.stations,
            "station_keys": self.station_keys,
            "ambiguous_local_times": self.ambiguous_local_times,
            "nonexistent_local_times": self.nonexistent_local_times,
        }
        values.update({f"duplicates_{kind}": n for kind, n in self.duplicate_readings.items()})
        values.update({f"station_source_{source}": n for source, n in self.station_sources.items()})
        if self.first_quarantined_line is not None:
            values["first_quarantined_line"] = self.first_quarantined_line
            values["first_quarantine_reason"] = self.first_quarantine_reason or ""
        return values


@dataclass(frozen=True)
class CleanResult:
    """One cleaned week: the readings, the quarantined lines, and the counts."""

    counts: CleanCounts
    readings: pa.Table
    """``schema.READINGS_TABLE_SCHEMA`` (string columns dictionary-encoded), in file order. Its
    Parquet file (``readings_parquet``) reads back as ``schema.READINGS_SCHEMA``."""
    quarantine: pa.Table
    """``schema.QUARANTINE_SCHEMA``, line order."""
    seconds: float
    """Wall time of ``clean_week`` (Parquet serialisation not included)."""
    max_quarantined_share: float = MAX_QUARANTINED_SHARE
    code_version: str = field(default=CLEAN_CODE_VERSION)

    @cached_property
    def readings_parquet(self) -> bytes:
        """The readings as one Parquet file (what the lake stores)."""
        return parquet_bytes(self.readings, self._file_metadata())

    @cached_property
    def quarantine_parquet(self) -> bytes:
        """The quarantined lines as one Parquet file (written even when empty, with its schema)."""
        return parquet_bytes(self.quarantine, self._file_metadata())

    def _file_metadata(self) -> dict[str, str]:
        return {
            "mta_lake.week": self.counts.week.isoformat(),
            "mta_lake.source_file": self.counts.file_name,
            "mta_lake.clean_code_version": self.code_version,
        }

    def accounting_problems(self) -> list[str]:
        """Every identity that does not hold, as text (empty when the week balances)."""
        c = self.counts
        identities = [
            (
                c.file_lines,
                c.header_lines + c.blank_lines + c.data_lines,
                "file lines",
                "header + blank + data lines",
            ),
            (c.data_lines, c.lines_parsed + c.lines_quarantined, "data lines", "lines parsed + quarantined"),
            (c.readings_written, c.reading_groups_parsed, "readings written", "reading groups parsed"),
            (self.readings.num_rows, c.readings_written, "rows in the readings table", "readings written"),
            (
                self.quarantine.num_rows,
                c.lines_quarantined,
                "rows in the quarantine table",
                "lines quarantined",
            ),
            (
                c.readings_in_week + c.readings_outside_week,
                c.readings_written,
                "in + outside the week",
                "readings",
            ),
            (sum(c.station_sources.values()), c.readings_written, "readings by station source", "readings"),
        ]
        return [
            f"{name} {left:,} != {right_name} {right:,}"
            for left, right, name, right_name in identities
            if left != right
        ]

    def check_accounting(self) -> None:
        """Raise unless every identity holds and the quarantined share is within the limit."""
        c = self.counts
        where = f"week {c.week.isoformat()} ({c.file_name})"
        problems = self.accounting_problems()
        if problems:
            raise AccountingError(
                f"{where}: the accounting does not balance: {'; '.join(problems)}; {c.first_bad_line()}"
            )
        if c.lines_quarantined > self.max_quarantined_share * c.data_lines:
            raise QuarantineThresholdError(
                f"{where}: {c.lines_quarantined:,} of {c.data_lines:,} data lines quarantined "
                f"({c.quarantined_share:.2%}), more than the {self.max_quarantined_share:.0%} allowed; "
                f"{c.first_bad_line()}"
            )


def clean_week(
    raw: RawInput,
    *,
    week: date,
    file_name: str,
    old_format: bool | None = None,
    mapping: stations.StationMapping | None = None,
    max_quarantined_share: float = MAX_QUARANTINED_SHARE,
    max_bytes: int = DEFAULT_MAX_WEEK_BYTES,
) -> CleanResult:
    """Clean one week's raw file.

    ``raw``: the raw object (gzip bytes, a binary stream of them, or a local path; plain text also
    works). ``week``: the partition key, the Saturday that starts the week's seven days.
    ``file_name``: the source file's name, written into every row. ``old_format``: what the week's
    era says; the file's first line decides, and a disagreement is reported in
    ``counts.format_as_expected`` (the raw layer already refuses such files). ``max_bytes``: the
    most the file may hold decompressed (``MTA_MAX_WEEK_BYTES``); more raises ``RawFileError`` before
    memory grows past it. Does not raise on bad lines: call ``check_accounting`` (after writing the
    quarantine, so it can be read).
    """
    started = time.perf_counter()
    mapping = mapping or stations.default_station_mapping()
    lines = split_lines(read_raw(raw, max_bytes))
    layout = detect_layout(lines)
    parsed = parse_file(lines, layout)
    readings, counts = _readings(parsed, lines, week, file_name, mapping, old_format)
    quarantine = _quarantine(parsed, lines, week, file_name)
    return CleanResult(
        counts=counts,
        readings=readings,
        quarantine=quarantine,
        seconds=time.perf_counter() - started,
        max_quarantined_share=max_quarantined_share,
    )


def _readings(
    parsed: ParsedFile,
    lines: FileLines,
    week: date,
    file_name: str,
    mapping: stations.StationMapping,
    old_format: bool | None,
) -> tuple[pa.Table, CleanCounts]:
    count = len(parsed.line_index)
    # Per identity (one per turnstile, a few thousand): turnstile, station names and key. The
    # readings' string columns are these values, dictionary-encoded by identity.
    turnstile_codes: dict[tuple[str, str, str], int] = {}
    turnstile_of_identity = np.zeros(len(parsed.identities), np.int64)
    names_of_identity: list[stations.StationNames] = []
    keys_of_identity: list[stations.StationKey] = []
    for i, identity in enumerate(parsed.identities):
        control_area, unit, scp = identity[:3]
        turnstile_of_identity[i] = turnstile_codes.setdefault((control_area, unit, scp), len(turnstile_codes))
        if len(identity) > 3 and identity[3]:
            names = stations.StationNames(
                identity[3], identity[4] or None, identity[5] or None, stations.SOURCE_FILE
            )
        else:
            names = mapping.names(control_area, unit, week)
        names_of_identity.append(names)
        keys_of_identity.append(mapping.key(control_area, unit))

    def by_identity(values: list[str | None]) -> pa.Array:
        return arrow.dictionary(parsed.identity_index, values)

    local = clock.wall_to_utc(parsed.observed)
    turnstile = turnstile_of_identity[parsed.identity_index]
    dups = duplicates.classify(
        turnstile,
        parsed.observed,
        parsed.description_index,
        parsed.descriptions,
        parsed.entries,
        parsed.exits,
    )
    week_start = (week - date(1970, 1, 1)).days * SECONDS_PER_DAY
    in_week = (parsed.observed >= week_start) & (parsed.observed < week_start + WEEK_SECONDS)
    source_codes = {source: code for code, source in enumerate(stations.STATION_SOURCES)}
    source_of_identity = np.array([source_codes[n.source] for n in names_of_identity], np.int64)

    columns = {
        "control_area": by_identity([identity[0] for identity in parsed.identities]),
        "unit": by_identity([identity[1] for identity in parsed.identities]),
        "scp": by_identity([identity[2] for identity in parsed.identities]),
        "station": by_identity([n.station for n in names_of_identity]),
        "line_names": by_identity([n.line_names for n in names_of_identity]),
        "division": by_identity([n.division for n in names_of_identity]),
        "observed_at": arrow.numbers(parsed.observed * MICROSECONDS, pa.timestamp("us")),
        "observed_at_utc": arrow.numbers(local.utc * MICROSECONDS, pa.timestamp("us", tz="UTC")),
        "description": arrow.dictionary(parsed.description_index, parsed.descriptions),
        "entries": arrow.numbers(parsed.entries, pa.int64()),
        "exits": arrow.numbers(parsed.exits, pa.int64()),
        "source_file": arrow.dictionary(np.zeros(count, np.int32), [file_name]),
        "source_line": arrow.numbers(parsed.line_index + 1, pa.int32()),
        "reading_group": arrow.numbers(parsed.group, pa.int8()),
        "station_source": by_identity([n.source for n in names_of_identity]),
        "station_key": by_identity([k.key for k in keys_of_identity]),
        "station_complex": by_identity([k.complex_name for k in keys_of_identity]),
        "ambiguous_local_time": arrow.booleans(local.ambiguous),
        "nonexistent_local_time": arrow.booleans(local.nonexistent),
        "duplicate_kind": arrow.dictionary(
            np.maximum(dups.kind_code.astype(np.int32) - 1, 0), duplicates.DUPLICATE_KINDS, dups.kind_code > 0
        ),
        "is_reading_of_record": arrow.booleans(dups.of_record),
        "in_week": arrow.booleans(in_week),
        "week": arrow.repeat_date(week, count),
    }
    table = pa.Table.from_arrays(
        [columns[f.name] for f in READINGS_TABLE_SCHEMA], schema=READINGS_TABLE_SCHEMA
    )

    used = np.bincount(parsed.identity_index, minlength=len(parsed.identities)) > 0
    used_identities = np.flatnonzero(used).tolist()
    station_names = {names_of_identity[i].station for i in used_identities} - {None}
    sources_per_reading = np.bincount(
        source_of_identity[parsed.identity_index], minlength=len(stations.STATION_SOURCES)
    )
    kinds = np.bincount(dups.kind_code, minlength=len(duplicates.DUPLICATE_KINDS) + 1)
    first = parsed.quarantined[0] if parsed.quarantined else None
    counts = CleanCounts(
        week=week,
        file_name=file_name,
        file_format=parsed.layout.name,
        format_as_expected=None if old_format is None else old_format == parsed.layout.old_format,
        text_encoding=lines.encoding,
        file_lines=parsed.file_lines,
        header_lines=parsed.header_lines,
        blank_lines=parsed.blank_lines,
        data_lines=parsed.data_lines,
        lines_parsed=parsed.lines_parsed,
        lines_quarantined=parsed.lines_quarantined,
        reading_groups_parsed=parsed.reading_groups_parsed,
        readings_written=table.num_rows,
        readings_in_week=int(in_week.sum()),
        readings_outside_week=int(count - in_week.sum()),
        readings_of_record=int(dups.of_record.sum()),
        duplicate_readings={kind: int(kinds[i + 1]) for i, kind in enumerate(duplicates.DUPLICATE_KINDS)},
        station_sources={
            source: int(sources_per_reading[i]) for i, source in enumerate(stations.STATION_SOURCES)
        },
        readings_with_station=int(count - table.column("station").null_count),
        turnstiles=len({int(turnstile_of_identity[i]) for i in used_identities}),
        stations=len(station_names),
        station_keys=len({keys_of_identity[i].key for i in used_identities}),
        ambiguous_local_times=int(local.ambiguous.sum()),
        nonexistent_local_times=int(local.nonexistent.sum()),
        first_quarantined_line=None if first is None else first[0] + 1,
        first_quarantine_reason=None if first is None else first[1],
        first_quarantined_text=None if first is None else lines.raw_text(first[0]),
    )
    return table, counts


def _quarantine(parsed: ParsedFile, lines: FileLines, week: date, file_name: str) -> pa.Table:
    count = len(parsed.quarantined)
    return pa.Table.from_arrays(
        [
            arrow.strings([file_name] * count),
            arrow.numbers(np.array([index + 1 for index, _ in parsed.quarantined], np.int32), pa.int32()),
            arrow.strings([lines.raw_text(index) for index, _ in parsed.quarantined]),
            arrow.strings([reason for _, reason in parsed.quarantined]),
            arrow.repeat_date(week, count),
        ],
        schema=QUARANTINE_SCHEMA,
    )
