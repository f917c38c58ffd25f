"""Vectorised field access: where field ``k`` of a line is, its text, and its value as a number.

All functions take NumPy arrays of byte positions into ``FileLines.data`` and work on every
reading at once. Parsing is strict (fixed widths, digits only); whatever does not pass is handed to
the per-line parser in ``lines.py``, which either accepts a harmless variant or states the reason.
"""

import numpy as np
import pyarrow as pa

from mta_lake.core.clean.arrow import numpy_view
from mta_lake.core.clean.text import FileLines

DIGIT_ZERO = ord("0")
INLINE_VIEW_BYTES = 12
"""Arrow's string_view keeps strings of up to 12 bytes inside the view itself."""
MAX_COUNTER_DIGITS = 18
"""Every 18-digit number fits in int64; real counters have 9 or 10 digits."""


class ReadingFields:
    """Where the fields of one reading group are, field by field, for many readings at once.

    ``first_field`` is the 0-based field number of each reading's DATE (6 in the new format,
    3 + 5 * (group - 1) in the old). The lines' comma counts were checked by the caller, so the comma
    before each field exists, and so does the comma after every field but a line's last.
    Positions are computed one field at a time, to keep no (readings x fields) matrix in memory.
    """

    def __init__(self, lines: FileLines, line_index: np.ndarray, first_field: np.ndarray | int) -> None:
        self.lines = lines
        self.before = lines.first_comma[line_index] + (np.asarray(first_field, np.int64) - 1)
        self.line_comma_end = lines.first_comma[line_index + 1]
        self.line_end = lines.ends[line_index]

    def bounds(self, field: int) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) of field ``field`` of the group (0 = DATE ... 4 = EXITS)."""
        commas = self.lines.commas
        comma_before = self.before + field
        start = commas[comma_before] + 1
        after = comma_before + 1
        if len(after) == 0:
            return start, start
        # The line's last field ends where the line ends.
        end = np.where(after < self.line_comma_end, commas[np.minimum(after, len(commas) - 1)], self.line_end)
        return start, end


def string_view(lines: FileLines, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """The text between ``start`` and ``end`` of each entry, as an Arrow ``string_view`` array.

    No text is copied for strings over 12 bytes (the view points into the file's buffer), and short
    ones are copied into their views: a full week's identity fields take milliseconds this way,
    where slicing 250,000 Python strings takes a large part of a second.
    """
    count = len(start)
    length = (end - start).astype(np.int32)
    long_strings = length > INLINE_VIEW_BYTES
    views = np.zeros((count, 4), np.int32)
    if count and long_strings.all():
        # Only long strings (identity prefixes): length, first four bytes, buffer 0, offset.
        first_word = eight_byte_words(lines, start, 1)[:, 0]
        views[:, 1] = (first_word & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32)
    elif count:
        # A view holds the string's first 12 bytes (all of a short string, zero-padded; the first
        # four of a long one): copy 16 bytes from each start, keep 12, zero what lies past the end.
        head = eight_byte_words(lines, start, 2).view(np.uint8)[:, :INLINE_VIEW_BYTES]
        views.view(np.uint8)[:, 4:16] = head * (np.arange(INLINE_VIEW_BYTES) < length[:, None])
    views[:, 0] = length
    # A long string's view: length, its first four bytes (already in place), buffer 0, offset.
    views[long_strings, 2] = 0
    views[long_strings, 3] = start[long_strings]
    return pa.Array.from_buffers(pa.string_view(), count, [None, pa.py_buffer(views), lines.data_buffer])


def dictionary_of(lines: FileLines, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode the text between ``start`` and ``end``: (index per entry, distinct values)."""
    if len(start) == 0:
        return np.zeros(0, np.int32), []
    length = end - start
    if length.max() < SHORT_KEY_BYTES:
        return _dictionary_of_short(lines, start, length)
    encoded = string_view(lines, start, end).dictionary_encode()
    return numpy_view(encoded.indices), encoded.dictionary.to_pylist()


SHORT_KEY_BYTES = 16


def _dictionary_of_short(
    lines: FileLines, start: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """``dictionary_of`` for strings of at most 15 bytes (descriptions): each becomes a 16-byte key,
    its bytes zero-padded and its length in the last byte, hashed as Arrow fixed-size binary."""
    keys = eight_byte_words(lines, start, 2).view(np.uint8)
    keys *= np.arange(SHORT_KEY_BYTES) < length[:, None]
    keys[:, -1] = length
    encoded = pa.Array.from_buffers(
        pa.binary(SHORT_KEY_BYTES), len(start), [None, pa.py_buffer(keys)]
    ).dictionary_encode()
    values = [key[: key[-1]].decode("utf-8") for key in encoded.dictionary.to_pylist()]
    return numpy_view(encoded.indices), values


def eight_byte_words(lines: FileLines, start: np.ndarray, words: int) -> np.ndarray:
    """The ``8 * words`` bytes from each ``start`` as an (n, words) little-endian uint64 matrix.

    One gather per eight bytes through an unaligned 64-bit view of the data: several times faster
    than indexing byte by byte. Bytes past the end of the data read as zero.
    """
    data = lines.data
    out = np.zeros((len(start), words), "<u8")
    if len(start) == 0 or len(data) == 0:
        return out
    last_full = len(data) - 8
    if last_full >= 0:
        # Element i of this view is the little-endian uint64 of data[i:i + 8].
        eight_bytes = np.ndarray((last_full + 1,), dtype="<u8", buffer=data, strides=(1,))
        # Clipping costs two passes: only when some read would run past the last full window.
        clip = int(start.max()) + 8 * (words - 1) > last_full or int(start.min()) < 0
        for word in range(words):
            at = start + 8 * word if word else start
            out[:, word] = eight_bytes[np.clip(at, 0, last_full) if clip else at]
    # Rows reading past the last full window (the file's last few bytes) are copied byte by byte.
    for row in np.flatnonzero(start + 8 * words > len(data)).tolist():
        begin = int(start[row])
        tail = data[max(begin, 0) : begin + 8 * words]
        row_bytes = out[row].view(np.uint8)
        row_bytes[:] = 0
        row_bytes[: len(tail)] = tail
    return out


def byte_windows(lines: FileLines, start: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each ``start``: an (n, width) uint8 matrix (zero past the data's end)."""
    words = eight_byte_words(lines, start, (width + 7) // 8)
    return words.view(np.uint8)[:, :width]


def digits_at(lines: FileLines, start: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each ``start`` minus ``'0'``: an (n, width) uint8 matrix.

    Digits become 0..9; every other byte becomes something else (``uint8`` wraps below ``'0'``).
    """
    out = byte_windows(lines, start, width)
    out -= np.uint8(DIGIT_ZERO)
    return out


ASCII_ZEROS = np.uint64(0x3030303030303030)
HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
PLUS_SIX = np.uint64(0x0606060606060606)


def _eight_digits(word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, ok) of eight ASCII digits in a little-endian uint64 (first digit in the lowest byte).

    SWAR: every byte is checked to be '0'..'9' and the digits are combined pairwise in three
    multiply-shift-mask steps, so eight digits cost a dozen vector operations, not eight passes.
    """
    ok = ((word & HIGH_NIBBLES) == ASCII_ZEROS) & (((word + PLUS_SIX) & HIGH_NIBBLES) == ASCII_ZEROS)
    x = word - ASCII_ZEROS
    x = (x * np.uint64(10) + (x >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    x = (x * np.uint64(100) + (x >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    x = (x * np.uint64(10000) + (x >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return x.astype(np.int64), ok


def _fixed_width_counters(lines: FileLines, start: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Counters that all have ``width`` (8 < width <= 16) digits, parsed eight digits at a time."""
    words = eight_byte_words(lines, start, 2)
    head = width - 8  # leading digits before the last eight
    if head == 8:
        leading, last_eight = words[:, 0], words[:, 1]
    else:  # shifts stay within 8..56 bits
        last_eight = (words[:, 0] >> np.uint64(8 * head)) | (words[:, 1] << np.uint64(64 - 8 * head))
        # The leading digits, moved to the top bytes with '0' bytes below: eight digits again.
        leading = (words[:, 0] << np.uint64(64 - 8 * head)) | (ASCII_ZEROS >> np.uint64(8 * head))
    low, low_ok = _eight_digits(last_eight)
    high, high_ok = _eight_digits(leading)
    return high * 100_000_000 + low, low_ok & high_ok


def parse_counters(lines: FileLines, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers of 1 to 18 digits (zero padding allowed): (value int64, ok)."""
    width = end - start
    ok = (width >= 1) & (width <= MAX_COUNTER_DIGITS)
    widest = int(width[ok].max()) if ok.any() else 0
    value = np.zeros(len(start), np.int64)
    if widest == 0:
        return value, ok
    if 8 < widest <= 16 and (width == widest).all():
        # The usual case: counters zero-padded to one width (9 digits old format, 10 new).
        value, digits_ok = _fixed_width_counters(lines, start, widest)
        return value, ok & digits_ok
    digits = digits_at(lines, start, widest)
    for column in range(widest):
        inside = column < width
        ok &= ~inside | (digits[:, column] <= 9)
        value = np.where(inside, value * 10 + digits[:, column], value)
    return value, ok


def _separated_digits(
    word: np.ndarray, separator: str, positions: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Eight bytes of digits with ``separator`` at byte ``positions``: (the digits read as one
    eight-digit number with a 0 in place of each separator, ok)."""
    mask = np.uint64(sum(0xFF << (8 * p) for p in positions))
    expected = np.uint64(sum(ord(separator) << (8 * p) for p in positions))
    zeros = np.uint64(sum(ord("0") << (8 * p) for p in positions))
    value, ok = _eight_digits((word & ~mask) | zeros)
    return value, ok & ((word & mask) == expected)


def parse_times(lines: FileLines, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``HH:MM:SS`` as seconds since midnight: (seconds, ok)."""
    word = eight_byte_words(lines, start, 1)[:, 0]
    value, ok = _separated_digits(word, ":", (2, 5))  # HH0MM0SS
    hour, minute, second = value // 1_000_000, value // 1000 % 100, value % 100
    ok &= ((end - start) == 8) & (hour <= 23) & (minute <= 59) & (second <= 59)
    return hour * 3600 + minute * 60 + second, ok


def parse_dates(
    lines: FileLines, start: np.ndarray, end: np.ndarray, old_format: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``MM-DD-YY`` (old format, 20YY) or ``MM/DD/YYYY`` (new) as days since 1970-01-01: (days, ok)."""
    words = eight_byte_words(lines, start, 1 if old_format else 2)
    separator, width = ("-", 8) if old_format else ("/", 10)
    value, ok = _separated_digits(words[:, 0], separator, (2, 5))  # MM0DD0YY
    month, day, year = value // 1_000_000, value // 1000 % 100, value % 100
    if old_format:
        year = 2000 + year
    else:
        # The year's last two digits are the next word's first two bytes.
        tens = (words[:, 1] & np.uint64(0xFF)).astype(np.int64) - ord("0")
        units = ((words[:, 1] >> np.uint64(8)) & np.uint64(0xFF)).astype(np.int64) - ord("0")
        ok &= (tens >= 0) & (tens <= 9) & (units >= 0) & (units <= 9)
        year = year * 100 + tens * 10 + units
    days, date_ok = epoch_days(year, month, day)
    return days, ok & date_ok & ((end - start) == width)


MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def epoch_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of each calendar date, and whether the date exists.

    Integer arithmetic only (H. Hinnant's ``days_from_civil``), for years 1900-2199.
    """
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    length = MONTH_DAYS[np.where(month_ok, month - 1, 0)] + (leap & (month == 2))
    ok = month_ok & (year >= 1900) & (year <= 2199) & (day >= 1) & (day <= length)
    shifted_year = year - (month <= 2)
    era = shifted_year // 400
    year_of_era = shifted_year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468, ok
