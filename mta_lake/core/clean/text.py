"""A raw week file as numbered lines: gunzip, split at ``\\n``, trim the padding, find the commas.

Everything later in the clean layer works on the positions computed here, in the file's own bytes,
never on Python strings per line: a full week is 250,000 lines, and a Python loop over them would
take longer than the whole cleaning is allowed to.

Definitions (they decide the accounting, see ``week.py``):

- A *line* ends at ``\\n``; ``\\r`` before it (CRLF) and the new format's space padding are trailing
  characters, trimmed. A last line without ``\\n`` is still a line. Line numbers are 1-based and count
  every line of the file, the header and blank lines included, so ``source_line`` points into the raw
  file as stored.
- A *blank* line is empty once trimmed (including a line of padding only). It carries nothing, so it
  is not a data line; blank lines are counted, wherever they are (normally only at the end).
"""

import os
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mta_lake.core.settings import DEFAULT_MAX_WEEK_BYTES

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
TRAILING_CHARACTERS = " \t\r\n"
"""What is trimmed from the end of every line: the new format's padding to 130 characters, the
old format's trailing spaces, and the ``\\r`` of CRLF."""
MAX_FILE_BYTES = (1 << 31) - 1
"""Arrow's ``string`` type addresses at most 2 GiB; a week is about 33 MB."""
DECOMPRESS_PIECE = 4 << 20
"""zlib is asked for at most this many bytes at a time: the cap is checked between pieces, so a
gzip bomb is refused after at most one piece beyond it, before memory grows any further."""
COUNT_PIECE = 1 << 20
"""The pieces of a pass that only counts (nothing kept): small, so that memory stays flat."""
SCAN_BYTES = 1 << 20
TRIM_SLICE_LINES = 1 << 15
COMMA = ord(",")
NEWLINE = ord("\n")

RawInput = bytes | bytearray | memoryview | BinaryIO | str | os.PathLike[str]
"""What ``clean_week`` accepts: the stored object's bytes, a binary stream of them (``lake.open_read``),
or a local path. gzip (as the raw layer stores it) or plain text: told apart by the gzip magic bytes."""


class RawFileError(ValueError):
    """The raw object cannot be read as a turnstile file at all (corrupt gzip, too large)."""


def read_raw(raw: RawInput, max_bytes: int = DEFAULT_MAX_WEEK_BYTES) -> bytes | bytearray:
    """The file's text bytes: gunzipped when ``raw`` is gzip (all members), as they are otherwise.

    ``max_bytes`` caps the text (``MTA_MAX_WEEK_BYTES``): the stored object is read at most that far,
    and decompressed while counting, a piece at a time; past the cap, ``RawFileError``. A gzip bomb
    (a 400 KB object holding gigabytes) is refused without growing memory past the cap.
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        payload = bytes(raw)
    elif isinstance(raw, str | os.PathLike):
        with open(raw, "rb") as stream:
            payload = stream.read(max_bytes + 1)
    else:
        payload = raw.read(max_bytes + 1)
    if len(payload) > max_bytes:
        raise RawFileError(f"the raw object holds more than {max_bytes:,} bytes (MTA_MAX_WEEK_BYTES)")
    if payload[:2] != GZIP_MAGIC:
        return payload
    return gunzip_bounded(payload, max_bytes)


def gunzip_bounded(payload: bytes, max_bytes: int) -> bytearray:
    """Every gzip member of ``payload``, decompressed, refused (``RawFileError``) past ``max_bytes``."""
    # The last member's trailer states its size (mod 4 GiB). When it states more than the cap, the
    # stream is first only counted, nothing kept: a bomb is refused with memory flat, and a damaged
    # object whose last bytes merely look like a large size is reported as damaged.
    stated = int.from_bytes(payload[-4:], "little") if len(payload) >= 18 else 0
    if stated > max_bytes:
        _gunzip(payload, max_bytes, keep=False)
    return _gunzip(payload, max_bytes, keep=True)


def _gunzip(payload: bytes, max_bytes: int, *, keep: bool) -> bytearray:
    text = bytearray()
    total = 0
    data = payload
    try:
        while data:
            decompressor = zlib.decompressobj(wbits=31)
            while data and not decompressor.eof:
                piece = decompressor.decompress(data, DECOMPRESS_PIECE if keep else COUNT_PIECE)
                total += len(piece)
                if total > max_bytes:
                    raise RawFileError(
                        f"the raw object decompresses to more than {max_bytes:,} bytes (MTA_MAX_WEEK_BYTES): "
                        f"refused after {total:,}, before reading it whole (a gzip bomb, or not one week)"
                    )
                if keep:
                    text += piece
                data = decompressor.unconsumed_tail
            if not decompressor.eof:
                raise RawFileError("the raw object is not a complete gzip stream: it ends inside a member")
            data = decompressor.unused_data
            if data and data[:2] != GZIP_MAGIC:
                raise RawFileError(
                    "the raw object is not a complete gzip stream: bytes after its last member"
                )
    except zlib.error as error:
        raise RawFileError(f"the raw object is not a complete gzip stream: {error}") from None
    return text


@dataclass(frozen=True)
class FileLines:
    """The lines of one file, with their trimmed ends and every comma located.

    Line ``i`` (0-based; line number ``i + 1``) is ``data[starts[i]:ends[i]]`` once trimmed; its
    commas are ``commas[first_comma[i]:first_comma[i + 1]]`` (positions in ``data``; the trimmed
    padding holds no comma). ``data`` is the file itself: nothing is copied line by line.
    """

    data_buffer: pa.Buffer
    """The file's bytes (decoded from Latin-1 to UTF-8 when they are not UTF-8)."""
    data: np.ndarray
    """``data_buffer`` as ``uint8``."""
    line_starts: np.ndarray
    """int64, ``len(self) + 1`` entries: where each line starts, then the end of the data."""
    ends: np.ndarray
    """int64: where each line ends once trimmed."""
    commas: np.ndarray
    """int32 positions of every ``,`` in ``data``, ascending."""
    first_comma: np.ndarray
    """int64, ``len(self) + 1`` entries: index into ``commas`` of each line's first comma."""
    encoding: str
    """``utf-8``, or ``latin-1`` when the file is not valid UTF-8 (then decoded byte for byte)."""

    def __len__(self) -> int:
        return len(self.line_starts) - 1

    @property
    def starts(self) -> np.ndarray:
        return self.line_starts[:-1]

    @property
    def lengths(self) -> np.ndarray:
        """Trimmed length of each line (0 for a blank line)."""
        return self.ends - self.starts

    @property
    def comma_counts(self) -> np.ndarray:
        return np.diff(self.first_comma)

    def text(self, index: int) -> str:
        """Trimmed line ``index`` (0-based) as a Python string."""
        return self.data[self.line_starts[index] : self.ends[index]].tobytes().decode("utf-8")

    def raw_text(self, index: int) -> str:
        """Line ``index`` as stored, without its line terminator (LF or CR LF)."""
        text = self.data[self.line_starts[index] : self.line_starts[index + 1]].tobytes().decode("utf-8")
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        return text


def split_lines(text: bytes | bytearray) -> FileLines:
    """Number, trim and index the lines of ``text`` (the whole file, decompressed)."""
    if len(text) > MAX_FILE_BYTES:
        raise RawFileError(f"the file has {len(text):,} bytes; at most {MAX_FILE_BYTES:,} are supported")
    if text.startswith(UTF8_BOM):
        # A BOM is not part of the first field. Removing it changes no line number.
        text = text[len(UTF8_BOM) :]
    lines = _lines_array(text)
    encoding = "utf-8"
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        # Not UTF-8 (not seen in MTA files, which are ASCII). Latin-1 maps every byte to one
        # character, so no line is lost and line numbers stay the same.
        text = text.decode("latin-1").encode("utf-8")
        lines = _lines_array(text)
        encoding = "latin-1"
    line_starts = np.frombuffer(lines.buffers()[1], np.int32, count=len(lines) + 1).astype(np.int64)
    ends = line_starts[:-1].copy()
    # Arrow trims the lines; only the trimmed lengths are kept. In slices, so that the trimmed
    # copies stay small (the memory pool keeps what it once held).
    for first in range(0, len(lines), TRIM_SLICE_LINES):
        trimmed = pc.utf8_rtrim(lines.slice(first, TRIM_SLICE_LINES), characters=TRAILING_CHARACTERS)
        offsets = np.frombuffer(
            trimmed.buffers()[1], np.int32, count=len(trimmed) + 1, offset=trimmed.offset * 4
        )
        ends[first : first + len(trimmed)] += np.diff(offsets)
    data = np.frombuffer(text, np.uint8)
    commas = positions_of(data, COMMA)
    first_comma = np.searchsorted(commas, line_starts)
    return FileLines(
        data_buffer=pa.py_buffer(text),
        data=data,
        line_starts=line_starts,
        ends=ends,
        commas=commas,
        first_comma=first_comma,
        encoding=encoding,
    )


def positions_of(data: np.ndarray, byte: int) -> np.ndarray:
    """Every position of ``byte`` in ``data``, ascending, as int32 (the file is under 2 GiB).

    Scanned a megabyte at a time: no temporary as large as the file (a full-size boolean mask and
    int64 positions would add 50 MB to the peak for the commas alone).
    """
    parts = [
        np.flatnonzero(data[first : first + SCAN_BYTES] == byte).astype(np.int32) + np.int32(first)
        for first in range(0, len(data), SCAN_BYTES)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def _lines_array(text: bytes) -> pa.StringArray:
    """One string per line, with its newline, sharing ``text``'s memory (no copy)."""
    newlines = positions_of(np.frombuffer(text, np.uint8), NEWLINE)
    ends_with_newline = len(text) > 0 and text[-1] == NEWLINE
    count = len(newlines) + (0 if ends_with_newline or not text else 1)
    offsets = np.empty(count + 1, np.int32)
    offsets[0] = 0
    offsets[1 : len(newlines) + 1] = newlines + 1
    offsets[-1] = len(text)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(text))
