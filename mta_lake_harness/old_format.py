"""Write new-format readings in the old format, as the MTA did until ``turnstile_141011.txt``.

The old format (``reference``'s field description): no header; each line is ``C/A,UNIT,SCP`` then
up to eight readings ``MM-DD-YY,HH:MM:SS,DESC,ENTRIES,EXITS``, counters zero-padded to 9 digits; a
turnstile's readings fill lines of eight in file order, and its last line holds what is left. There
is no station, line or division: the clean layer must find them from the booth.

Used to build full-size old-format weeks from the real 2024 weeks (benchmarks, the differential
test), so the same readings can be cleaned in both formats and compared.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime

NEW_FORMAT_HEADER = "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS"
NEW_FORMAT_FIELDS = 11
NEW_FORMAT_LINE_WIDTH = 130
"""The new format pads every line with spaces to 130 characters (before CRLF)."""
READINGS_PER_OLD_LINE = 8


def new_format_line(
    booth: tuple[str, str, str],
    station: tuple[str, str, str],
    when: datetime,
    description: str = "REGULAR",
    entries: int = 0,
    exits: int = 0,
) -> str:
    """One new-format data line as the MTA writes it: counters zero-padded to 10, padded to 130."""
    fields = [
        *booth,
        *station,
        f"{when:%m/%d/%Y}",
        f"{when:%H:%M:%S}",
        description,
        f"{entries:010d}",
        f"{exits:010d}",
    ]
    return ",".join(fields).ljust(NEW_FORMAT_LINE_WIDTH)


def new_format_file(lines: Iterable[str], newline: str = "\r\n") -> bytes:
    """A new-format file: the padded header, then ``lines``, each ended by ``newline``."""
    header = NEW_FORMAT_HEADER.ljust(NEW_FORMAT_LINE_WIDTH)
    return "".join(f"{line}{newline}" for line in [header, *lines]).encode("utf-8")


def new_format_rows(new_format: bytes) -> Iterator[list[str]]:
    """The data rows of a new-format file, each as its 11 fields (header and blank lines skipped)."""
    for number, line in enumerate(new_format.decode("utf-8").splitlines(), start=1):
        line = line.rstrip()
        if not line or (number == 1 and line.startswith(NEW_FORMAT_HEADER[:4])):
            continue
        fields = line.split(",")
        if len(fields) != NEW_FORMAT_FIELDS:
            raise ValueError(f"line {number} is not a new-format row: {line[:80]!r}")
        yield fields


def to_old_format(
    new_format: bytes,
    *,
    readings_per_line: int = READINGS_PER_OLD_LINE,
    newline: str = "\n",
    counter_digits: int = 9,
    trailing_spaces: int = 0,
) -> bytes:
    """The readings of ``new_format`` (a whole new-format file) written in the old format.

    Consecutive rows of one turnstile (C/A, UNIT, SCP) are packed ``readings_per_line`` to a line,
    in file order. ``trailing_spaces`` pads every turnstile's short last line, as some old files do.
    """
    out: list[str] = []
    turnstile: tuple[str, str, str] | None = None
    groups: list[str] = []

    def flush() -> None:
        if turnstile is None:
            return
        for first in range(0, len(groups), readings_per_line):
            chunk = groups[first : first + readings_per_line]
            padding = " " * trailing_spaces if len(chunk) < readings_per_line else ""
            out.append(",".join([*turnstile, *chunk]) + padding + newline)

    for (
        control_area,
        unit,
        scp,
        _station,
        _lines,
        _division,
        day,
        time,
        description,
        entries,
        exits,
    ) in new_format_rows(new_format):
        month, day_of_month, year = day.split("/")
        reading = (
            f"{month}-{day_of_month}-{year[2:]},{time},{description},"
            f"{int(entries):0{counter_digits}d},{int(exits):0{counter_digits}d}"
        )
        if (control_area, unit, scp) != turnstile:
            flush()
            turnstile, groups = (control_area, unit, scp), []
        groups.append(reading)
    flush()
    return "".join(out).encode("utf-8")
