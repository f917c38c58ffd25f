"""Lines to readings, for both file formats: every data line is either parsed or quarantined.

- Old format (files up to ``turnstile_141011.txt``): no header; ``C/A,UNIT,SCP`` then 1 to 8
  readings of ``DATE(MM-DD-YY),TIME,DESC,ENTRIES,EXITS``.
- New format: the header line, then ``C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE(MM/DD/YYYY),TIME,
  DESC,ENTRIES,EXITS``, one reading per line.

Two parsers agree on what a line means. The fast one (NumPy over the positions from ``text.py``)
accepts only the canonical layout: fixed-width dates and times, digit-only counters, no spaces around
a description. Every line it does not accept goes to ``parse_line``, plain Python, which also
accepts harmless variants (a date without zero padding, spaces around a field) and otherwise names
the reason the line is quarantined. A line is parsed whole or quarantined whole: one bad reading
group quarantines its line, with the other groups still readable in the quarantined raw text.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from mta_lake.core.clean import fields
from mta_lake.core.clean.text import FileLines

NEW_FORMAT_HEADER = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"
HEADER_START = "C/A,UNIT,SCP"
"""How a header line starts, in either format (the old format's field description names its columns
``C/A,UNIT,SCP,DATE1,TIME1,...``; no old file is known to start with it, but one is reported to have
field names inside its data)."""
NEW_FORMAT_HEADER_START = "C/A,UNIT,SCP,STATION"
"""What makes a file the new format: its first line is the new header."""
READING_FIELDS = 5
"""DATE, TIME, DESC, ENTRIES, EXITS."""
MAX_READINGS_PER_OLD_LINE = 8
SECONDS_PER_DAY = 86_400
EPOCH = datetime(1970, 1, 1)
COUNTER_RE = re.compile(r"[0-9]{1,18}")
FIRST_YEAR, LAST_YEAR = 1900, 2199
"""Dates outside these years are not readings of this network (a garbled date is quarantined)."""


@dataclass(frozen=True)
class Layout:
    """What differs between the two formats, as far as parsing goes."""

    name: str
    identity_fields: int
    """Fields before the first reading: C/A, UNIT, SCP (and STATION, LINENAME, DIVISION)."""
    date_format: str
    """The same for ``datetime.strptime`` (which also accepts a date without zero padding)."""
    date_text: str
    """How the date is described in a quarantine reason."""

    @property
    def old_format(self) -> bool:
        return self.name == "old"


OLD_FORMAT = Layout("old", 3, "%m-%d-%y", "MM-DD-YY")
NEW_FORMAT = Layout("new", 6, "%m/%d/%Y", "MM/DD/YYYY")


@dataclass(frozen=True)
class LineReadings:
    """What ``parse_line`` makes of one line it accepts."""

    identity: tuple[str, ...]
    readings: list[tuple[int, int, str, int, int]]
    """(reading group 1..8, observed_at as local seconds since 1970, DESC, ENTRIES, EXITS)."""


@dataclass(frozen=True)
class ParsedFile:
    """Every reading of a file in file order, and every line accounted for."""

    layout: Layout
    file_lines: int
    header_lines: int
    blank_lines: int
    data_lines: int
    lines_parsed: int
    reading_groups_parsed: int
    """Counted from the shapes of the parsed lines, independently of the reading arrays."""
    quarantined: list[tuple[int, str]]
    """(0-based line index, reason), ascending."""
    line_index: np.ndarray
    group: np.ndarray
    identity_index: np.ndarray
    identities: list[tuple[str, ...]]
    """(C/A, UNIT, SCP) or (C/A, UNIT, SCP, STATION, LINENAME, DIVISION), stripped of spaces."""
    observed: np.ndarray
    """Local wall time as written, seconds since 1970-01-01 00:00 (int64)."""
    description_index: np.ndarray
    descriptions: list[str]
    entries: np.ndarray
    exits: np.ndarray

    @property
    def lines_quarantined(self) -> int:
        return len(self.quarantined)


def detect_layout(lines: FileLines) -> Layout:
    """The new format starts with its header line; anything else is the old format."""
    if len(lines) and lines.text(0).startswith(NEW_FORMAT_HEADER_START):
        return NEW_FORMAT
    return OLD_FORMAT


def parse_file(lines: FileLines, layout: Layout) -> ParsedFile:
    """Parse every data line of ``lines``; quarantine, with a reason, each one that does not parse."""
    count = len(lines)
    blank = lines.lengths == 0
    data = ~blank
    header_lines = 0
    if not layout.old_format and count and lines.text(0).startswith(NEW_FORMAT_HEADER_START):
        data[0] = False
        header_lines = 1
    commas = lines.comma_counts
    if layout.old_format:
        groups = (commas - (OLD_FORMAT.identity_fields - 1)) // READING_FIELDS
        shape_ok = (
            ((commas - (OLD_FORMAT.identity_fields - 1)) % READING_FIELDS == 0)
            & (groups >= 1)
            & (groups <= MAX_READINGS_PER_OLD_LINE)
        )
    else:
        groups = np.ones(count, np.int64)
        shape_ok = commas == NEW_FORMAT.identity_fields + READING_FIELDS - 1
    candidate = np.flatnonzero(data & shape_ok)
    fast = _parse_fast(lines, layout, candidate, groups[candidate])

    # The distinct identity prefixes (one per turnstile, a few thousand) are split in Python.
    # Fields are stripped of spaces, as parse_line strips them; a prefix whose C/A, UNIT or SCP is
    # only spaces sends its lines to parse_line, which quarantines them.
    identities: dict[tuple[str, ...], int] = {}
    prefix_identity = np.zeros(len(fast.identities), np.int32)
    prefix_ok = np.ones(len(fast.identities), bool)
    for code, prefix in enumerate(fast.identities):
        identity = tuple(part.strip() for part in prefix.split(","))
        prefix_ok[code] = all(identity[:3])
        prefix_identity[code] = _intern(identities, identity) if prefix_ok[code] else 0

    line_ok = np.zeros(count, bool)
    line_ok[candidate] = fast.identity_ok & prefix_ok[fast.line_prefix]
    line_ok[fast.line_index[~fast.ok]] = False
    keep = line_ok[fast.line_index]
    everything_kept = bool(keep.all())
    parsed_groups = int(groups[line_ok].sum())
    slow_lines = np.flatnonzero(data & ~line_ok)

    description_codes: dict[str, int] = {text: code for code, text in enumerate(fast.descriptions)}
    columns = {
        "line_index": fast.line_index,
        "group": fast.group,
        "identity_index": prefix_identity[np.repeat(fast.line_prefix, fast.groups)],
        "observed": fast.observed,
        "description_index": fast.description_index,
        "entries": fast.entries,
        "exits": fast.exits,
    }
    if not everything_kept:  # the usual case needs no copies
        columns = {name: values[keep] for name, values in columns.items()}

    quarantined: list[tuple[int, str]] = []
    slow: dict[str, list[int]] = {name: [] for name in columns}
    lines_parsed = int(line_ok.sum())
    for index in slow_lines.tolist():
        outcome = parse_line(lines.text(index), layout)
        if isinstance(outcome, str):
            quarantined.append((index, outcome))
            continue
        lines_parsed += 1
        parsed_groups += len(outcome.readings)
        identity = _intern(identities, outcome.identity)
        for group, observed, description, entries, exits in outcome.readings:
            slow["line_index"].append(index)
            slow["group"].append(group)
            slow["identity_index"].append(identity)
            slow["observed"].append(observed)
            slow["description_index"].append(_intern(description_codes, description))
            slow["entries"].append(entries)
            slow["exits"].append(exits)
    if slow["line_index"]:
        for name, values in slow.items():
            columns[name] = np.concatenate([columns[name], np.asarray(values, dtype=columns[name].dtype)])
        order = np.lexsort((columns["group"], columns["line_index"]))
        columns = {name: values[order] for name, values in columns.items()}

    return ParsedFile(
        layout=layout,
        file_lines=count,
        header_lines=header_lines,
        blank_lines=int(blank.sum()),
        data_lines=int(data.sum()),
        lines_parsed=lines_parsed,
        reading_groups_parsed=parsed_groups,
        quarantined=quarantined,
        identities=list(identities),
        descriptions=list(description_codes),
        **columns,
    )


def _intern(table: dict, key: object) -> int:
    """The code of ``key`` in ``table``, adding it with the next code when new."""
    code = table.get(key)
    if code is None:
        code = table[key] = len(table)
    return code


@dataclass(frozen=True)
class _FastReadings:
    line_index: np.ndarray
    group: np.ndarray
    ok: np.ndarray
    """Per reading: every field canonical and valid."""
    identity_ok: np.ndarray
    """Per candidate line: C/A, UNIT and SCP present."""
    groups: np.ndarray
    """Per candidate line: its number of readings."""
    line_prefix: np.ndarray
    """Per candidate line: index into ``identities``."""
    identities: list[str]
    """Distinct identity prefixes, as written (``C/A,UNIT,SCP[,STATION,LINENAME,DIVISION]``)."""
    observed: np.ndarray
    description_index: np.ndarray
    descriptions: list[str]
    entries: np.ndarray
    exits: np.ndarray


def _parse_fast(lines: FileLines, layout: Layout, candidate: np.ndarray, groups: np.ndarray) -> _FastReadings:
    """Parse the canonical layout of the ``candidate`` lines (whose field counts are right)."""
    groups = groups.astype(np.int64)
    line_index = np.repeat(candidate, groups)
    first_reading = np.cumsum(groups) - groups
    group = (np.arange(len(line_index)) - np.repeat(first_reading, groups) + 1).astype(np.int8)
    base = layout.identity_fields + READING_FIELDS * (group.astype(np.int64) - 1)

    # The identity prefix ends at the comma after the last identity field; C/A, UNIT and SCP must
    # not be empty. Counted per line (a line's readings share it).
    first = lines.first_comma[candidate]
    line_start = lines.starts[candidate]
    if len(candidate):
        identity_commas = lines.commas[first[:, None] + np.arange(layout.identity_fields)]
        prefix_end = identity_commas[:, -1]
        field_starts = np.column_stack([line_start, identity_commas[:, :2] + 1])
        identity_ok = np.all(identity_commas[:, :3] > field_starts, axis=1)
        del identity_commas, field_starts
    else:
        prefix_end = line_start
        identity_ok = np.zeros(0, bool)
    prefix_index, prefixes = fields.dictionary_of(lines, line_start, prefix_end)
    del first, line_start, prefix_end

    reading = fields.ReadingFields(lines, line_index, base)
    del base
    days, ok = fields.parse_dates(lines, *reading.bounds(0), layout.old_format)
    seconds, time_ok = fields.parse_times(lines, *reading.bounds(1))
    ok &= time_ok
    observed = days * SECONDS_PER_DAY + seconds
    del days, seconds, time_ok

    description_start, description_end = reading.bounds(2)
    data = lines.data
    if len(data):
        # Spaces around a description are left to parse_line, which strips them like every field.
        first_byte = data[np.minimum(description_start, len(data) - 1)]
        last_byte = data[np.clip(description_end - 1, 0, len(data) - 1)]
        ok &= (description_end > description_start) & (first_byte != ord(" ")) & (last_byte != ord(" "))
    description_index, descriptions = fields.dictionary_of(lines, description_start, description_end)
    del description_start, description_end

    entries, entries_ok = fields.parse_counters(lines, *reading.bounds(3))
    exits, exits_ok = fields.parse_counters(lines, *reading.bounds(4))
    ok &= entries_ok & exits_ok
    return _FastReadings(
        line_index=line_index,
        group=group,
        ok=ok,
        identity_ok=identity_ok,
        groups=groups,
        line_prefix=prefix_index,
        identities=prefixes,
        observed=observed,
        description_index=description_index,
        descriptions=descriptions,
        entries=entries,
        exits=exits,
    )


def parse_line(text: str, layout: Layout) -> LineReadings | str:
    """Parse one trimmed data line: its readings, or the reason it cannot be parsed.

    The reference definition of a valid line; the fast parser accepts a subset of what this accepts,
    with the same values (tested).
    """
    if text.startswith(HEADER_START):
        return "a header line inside the data"
    parts = [part.strip() for part in text.split(",")]
    if layout.old_format:
        readings = (len(parts) - OLD_FORMAT.identity_fields) / READING_FIELDS
        if len(parts) < 8 or readings != int(readings) or readings > MAX_READINGS_PER_OLD_LINE:
            return (
                "expected C/A,UNIT,SCP then 1 to 8 readings of DATE,TIME,DESC,ENTRIES,EXITS "
                f"(8, 13, ... 43 fields), found {len(parts)} field{'' if len(parts) == 1 else 's'}"
            )
    elif len(parts) != NEW_FORMAT.identity_fields + READING_FIELDS:
        return f"expected 11 fields ({NEW_FORMAT_HEADER}), found {len(parts)}"
    identity = tuple(parts[: layout.identity_fields])
    if not all(identity[:3]):
        return "empty C/A, UNIT or SCP"
    values = parts[layout.identity_fields :]
    total = len(values) // READING_FIELDS
    readings = []
    for group in range(1, total + 1):
        date_text, time_text, description, entries, exits = values[
            (group - 1) * READING_FIELDS : group * READING_FIELDS
        ]
        where = f"reading {group} of {total}: " if layout.old_format else ""
        try:
            when = datetime.strptime(f"{date_text} {time_text}", f"{layout.date_format} %H:%M:%S")
        except ValueError:
            return f"{where}DATE,TIME {date_text!r},{time_text!r} is not {layout.date_text},HH:MM:SS"
        if not FIRST_YEAR <= when.year <= LAST_YEAR:
            return f"{where}DATE {date_text!r} is outside {FIRST_YEAR}-{LAST_YEAR}"
        if not description:
            return f"{where}DESC is empty"
        for name, counter in (("ENTRIES", entries), ("EXITS", exits)):
            if not COUNTER_RE.fullmatch(counter):
                return f"{where}{name} {counter!r} is not a whole number of 1 to 18 digits"
        observed = (when - EPOCH) // timedelta(seconds=1)
        readings.append((group, observed, description, int(entries), int(exits)))
    return LineReadings(identity=identity, readings=readings)
