"""Readings of one turnstile at one time: classified, never dropped, one of them the reading of record.

A *duplicate group* is two or more readings with the same C/A, UNIT, SCP and wall-clock time in one
file. Every member gets the group's kind:

- ``exact_repeat``: all members are the same reading (DESC, ENTRIES and EXITS equal);
- ``audit_pair``: the members differ in DESC (REGULAR and RECOVR AUD at the same time, whatever the
  counters say: the known MTA pattern);
- ``conflicting_counters``: same DESC, different counters.

The reading of record of a group is its first member in the order (REGULAR before any other DESC,
then file order): a scheduled reading is preferred over an audit recovered later, and among equals
the file's own order decides. Every reading outside a group is its own reading of record.
"""

from dataclasses import dataclass

import numpy as np

EXACT_REPEAT = "exact_repeat"
AUDIT_PAIR = "audit_pair"
CONFLICTING_COUNTERS = "conflicting_counters"
DUPLICATE_KINDS = (EXACT_REPEAT, AUDIT_PAIR, CONFLICTING_COUNTERS)
"""``kind_code`` 1, 2, 3 (0: not a duplicate)."""
PREFERRED_DESCRIPTION = "REGULAR"


@dataclass(frozen=True)
class Duplicates:
    kind_code: np.ndarray
    """int8 per reading: 0 not a duplicate, else 1 + index into ``DUPLICATE_KINDS``."""
    of_record: np.ndarray
    """bool per reading."""


def classify(
    turnstile: np.ndarray,
    observed: np.ndarray,
    description_index: np.ndarray,
    descriptions: list[str],
    entries: np.ndarray,
    exits: np.ndarray,
) -> Duplicates:
    """Classify every reading (arrays in file order, so a reading's index is its file position)."""
    count = len(turnstile)
    kind_code = np.zeros(count, np.int8)
    of_record = np.ones(count, bool)
    if count == 0:
        return Duplicates(kind_code, of_record)
    preferred = np.array([text == PREFERRED_DESCRIPTION for text in descriptions] or [False], bool)
    not_preferred = ~preferred[description_index]
    order = _order(turnstile, observed, not_preferred)
    sorted_turnstile, sorted_observed = turnstile[order], observed[order]
    starts_group = np.ones(count, bool)
    starts_group[1:] = (sorted_turnstile[1:] != sorted_turnstile[:-1]) | (
        sorted_observed[1:] != sorted_observed[:-1]
    )
    group_start = np.flatnonzero(starts_group)
    group_size = np.diff(np.append(group_start, count))
    if (group_size == 1).all():
        return Duplicates(kind_code, of_record)

    def same_within_group(values: np.ndarray) -> np.ndarray:
        ordered = values[order]
        return np.minimum.reduceat(ordered, group_start) == np.maximum.reduceat(ordered, group_start)

    same_description = same_within_group(description_index)
    same_counters = same_within_group(entries) & same_within_group(exits)
    group_kind = np.where(same_description & same_counters, 1, np.where(~same_description, 2, 3)).astype(
        np.int8
    )
    group_kind[group_size == 1] = 0
    sorted_kind = np.repeat(group_kind, group_size)
    kind_code[order] = sorted_kind
    # Within a duplicate group only the first in the order is of record.
    sorted_of_record = starts_group | (sorted_kind == 0)
    of_record[order] = sorted_of_record
    return Duplicates(kind_code, of_record)


def _order(turnstile: np.ndarray, observed: np.ndarray, not_preferred: np.ndarray) -> np.ndarray:
    """Positions sorted by (turnstile, time, REGULAR first, file position).

    One int64 key and a stable sort (timsort, nearly linear here: a file lists each turnstile's
    readings together and in time order) instead of a four-key lexsort.
    """
    span = int(observed.max()) - int(observed.min()) + 1
    if int(turnstile.max()) < (1 << 26) and span < (1 << 36):
        key = (turnstile.astype(np.int64) << 37) | ((observed - observed.min()) << 1) | not_preferred
        return np.argsort(key, kind="stable")
    return np.lexsort((np.arange(len(turnstile)), not_preferred, observed, turnstile))
