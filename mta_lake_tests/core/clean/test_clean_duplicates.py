"""Duplicate readings: classified by kind, kept, one of each group chosen as the reading of record."""

from datetime import date, datetime

import numpy as np
import pyarrow as pa

from mta_lake.core.clean import clean_week
from mta_lake.core.clean.duplicates import classify
from mta_lake_harness.old_format import new_format_file, new_format_line, to_old_format

WEEK = date(2024, 1, 6)
ONE = ("A002", "R051", "02-00-00")
OTHER = ("A002", "R051", "02-00-01")
STATION = ("59 ST", "NQR456W", "BMT")


def at(hour: int) -> datetime:
    return datetime(2024, 1, 8, hour)


LINES = [
    # (booth, time, DESC, entries, exits) -> expected (duplicate_kind, reading of record)
    ((ONE, at(0), "REGULAR", 10, 5), (None, True)),
    ((ONE, at(4), "REGULAR", 20, 6), ("exact_repeat", True)),
    ((ONE, at(4), "REGULAR", 20, 6), ("exact_repeat", False)),  # the same reading again
    ((ONE, at(8), "RECOVR AUD", 7, 629), ("audit_pair", False)),  # listed first, not REGULAR
    ((ONE, at(8), "REGULAR", 30, 7), ("audit_pair", True)),
    ((ONE, at(12), "REGULAR", 40, 8), ("conflicting_counters", True)),  # first in the file
    ((ONE, at(12), "REGULAR", 41, 8), ("conflicting_counters", False)),
    ((OTHER, at(12), "REGULAR", 40, 8), (None, True)),  # another turnstile at the same time
    ((ONE, at(16), "REGULAR", 50, 9), (None, True)),
]


def cleaned(old_format: bool) -> pa.Table:
    text = new_format_file(
        new_format_line(booth, STATION, when, description, entries, exits)
        for (booth, when, description, entries, exits), _ in LINES
    )
    if old_format:
        text = to_old_format(text)
    result = clean_week(text, week=WEEK, file_name="f.txt")
    result.check_accounting()
    return result.readings


def test_duplicates_are_classified_and_kept_in_the_new_format() -> None:
    table = cleaned(old_format=False)
    assert table.num_rows == len(LINES)  # nothing dropped
    assert table.column("source_line").to_pylist() == list(range(2, 2 + len(LINES)))
    got = list(
        zip(
            table.column("duplicate_kind").to_pylist(),
            table.column("is_reading_of_record").to_pylist(),
            strict=True,
        )
    )
    assert got == [expected for _, expected in LINES]


def test_the_old_format_classifies_the_same_readings_the_same_way() -> None:
    table = cleaned(old_format=True)
    # ONE's eight readings fill one old-format line; OTHER gets its own line; ONE's ninth, a third.
    assert table.column("source_line").to_pylist() == [1] * 7 + [2, 3]
    order = [0, 1, 2, 3, 4, 5, 6, 8, 7]  # LINES in old-format file order
    got = list(
        zip(
            table.column("duplicate_kind").to_pylist(),
            table.column("is_reading_of_record").to_pylist(),
            strict=True,
        )
    )
    assert got == [LINES[i][1] for i in order]


def test_classify_on_arrays_counts_each_kind_once_per_member() -> None:
    turnstile = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    observed = np.array([5, 5, 5, 5, 6, 9, 9, 9])
    description = np.array([0, 0, 1, 0, 0, 1, 1, 1])  # 0 REGULAR, 1 RECOVR AUD
    entries = np.array([1, 1, 2, 1, 1, 3, 3, 4])
    exits = np.zeros(8, np.int64)
    result = classify(turnstile, observed, description, ["REGULAR", "RECOVR AUD"], entries, exits)
    assert result.kind_code.tolist() == [2, 2, 2, 0, 0, 3, 3, 3]
    assert result.of_record.tolist() == [True, False, False, True, True, True, False, False]
