"""New York wall-clock time, as the files write it, to UTC, with the clock changes marked.

The rule is Python's (PEP 495, ``fold=0``), written down so that every engine can repeat it:

- Autumn, the repeated hour (01:00-01:59 on the first Sunday of November): a wall time there means
  its *first* occurrence, daylight time (UTC-4). The file does not say which occurrence a reading
  is, so the choice is fixed, not guessed; ``ambiguous_local_time`` marks these rows, and a
  turnstile's two readings at one such wall time are classified as duplicates.
- Spring, the skipped hour (02:00-02:59 on the second Sunday of March, which never happens on a New
  York clock): a wall time there is read with the offset in force *before* the change, standard
  time (UTC-5), so 02:30 becomes 07:30 UTC (03:30 daylight time): readings keep their order and
  spacing. ``nonexistent_local_time`` marks them.

Vectorised by hour: New York's offsets only change on the hour, so the offset, and both marks, are
the same for every wall time within one hour; a week has some 170 distinct hours.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from mta_lake.core.weeks import NEW_YORK

EPOCH = datetime(1970, 1, 1)
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class UtcTimes:
    utc: np.ndarray
    """Seconds since 1970-01-01 UTC (int64)."""
    ambiguous: np.ndarray
    """The wall time happened twice (autumn); resolved to its first occurrence."""
    nonexistent: np.ndarray
    """The wall time never happened (spring); read with the standard-time offset."""


def wall_to_utc(local_seconds: np.ndarray, zone: ZoneInfo = NEW_YORK) -> UtcTimes:
    """Resolve wall-clock times (seconds since 1970-01-01 00:00 on the local clock) to UTC."""
    hours = np.floor_divide(local_seconds, SECONDS_PER_HOUR)
    distinct, position = _distinct(hours)
    offset = np.zeros(len(distinct), np.int64)
    ambiguous = np.zeros(len(distinct), bool)
    nonexistent = np.zeros(len(distinct), bool)
    for i, hour in enumerate(distinct.tolist()):
        offset[i], ambiguous[i], nonexistent[i] = _hour_offset(EPOCH + timedelta(hours=hour), zone)
    return UtcTimes(
        utc=local_seconds - offset[position],
        ambiguous=ambiguous[position],
        nonexistent=nonexistent[position],
    )


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value in them), like ``np.unique(return_inverse=True)``
    but without sorting when the values span a small range (a week's hours span about 170)."""
    if len(values) == 0:
        return values, np.zeros(0, np.int64)
    low = int(values.min())
    span = int(values.max()) - low + 1
    if span > 4 * len(values) + 1024:
        return np.unique(values, return_inverse=True)
    present = np.zeros(span, bool)
    offsets = values - low
    present[offsets] = True
    distinct = np.flatnonzero(present)
    rank = np.cumsum(present) - 1
    return distinct + low, rank[offsets]


def _hour_offset(wall: datetime, zone: ZoneInfo) -> tuple[int, bool, bool]:
    """(UTC offset in seconds to subtract, ambiguous, nonexistent) for a wall time."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    offset = first.utcoffset()
    assert offset is not None
    # A wall time that does not survive the round trip through UTC is in the spring gap; one
    # whose two folds differ and that survives is in the autumn overlap.
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    nonexistent = back != wall
    ambiguous = not nonexistent and first.utcoffset() != second.utcoffset()
    return int(offset.total_seconds()), ambiguous, nonexistent
