"""The vectorised field parsers against plain Python, value by value, valid and invalid."""

import random
from datetime import date, datetime, timedelta

import numpy as np

from mta_lake.core.clean import fields
from mta_lake.core.clean.text import FileLines, split_lines


def one_line(values: list[str]) -> tuple[FileLines, np.ndarray, np.ndarray]:
    """``values`` as the comma-separated fields of one line (no newline, so the last value ends the
    data: reads near the end of the buffer are exercised too): (lines, starts, ends)."""
    lines = split_lines(",".join(values).encode())
    starts = np.concatenate([[0], lines.commas.astype(np.int64) + 1])
    ends = np.concatenate([lines.commas.astype(np.int64), [len(lines.data)]])
    return lines, starts, ends


def test_counters_match_python_int_for_every_width_and_reject_non_digits() -> None:
    rng = random.Random(11)
    for width in [*range(1, 19), 19]:
        values = [f"{rng.randrange(10**width):0{width}d}" for _ in range(300)]
        for i in range(0, 300, 37):  # a non-digit somewhere in some of them
            position = rng.randrange(width)
            values[i] = values[i][:position] + rng.choice("x /:-.") + values[i][position + 1 :]
        lines, starts, ends = one_line(values)
        got, ok = fields.parse_counters(lines, starts, ends)
        for value, number, accepted in zip(values, got.tolist(), ok.tolist(), strict=True):
            valid = value.isdigit() and width <= 18
            assert accepted == valid, (width, value)
            if valid:
                assert number == int(value), (width, value)


def test_counters_of_mixed_widths_take_the_general_path() -> None:
    values = ["0000000001", "12", "999999999999", "", "7", "1" * 19]
    lines, starts, ends = one_line(values)
    got, ok = fields.parse_counters(lines, starts, ends)
    assert ok.tolist() == [True, True, True, False, True, False]
    assert got[ok].tolist() == [1, 12, 999_999_999_999, 7]


def test_dates_match_the_calendar_in_both_formats() -> None:
    days = [date(1999, 12, 25) + timedelta(days=i) for i in range(0, 12_000, 3)]  # to 2032
    epoch = date(1970, 1, 1)
    for old_format, layout in ((False, "%m/%d/%Y"), (True, "%m-%d-%y")):
        kept = [d for d in days if not old_format or d.year >= 2000]
        lines, starts, ends = one_line([d.strftime(layout) for d in kept])
        got, ok = fields.parse_dates(lines, starts, ends, old_format)
        assert ok.all()
        assert got.tolist() == [(d - epoch).days for d in kept]


def test_impossible_or_misshapen_dates_are_refused() -> None:
    bad = [
        "02/29/2023",
        "13/01/2024",
        "00/10/2024",
        "04/31/2024",
        "1/02/2024",
        "01-02-2024",
        "01/02/24",
        "ab/cd/efgh",
    ]
    good = ["02/29/2024", "12/31/2199", "01/01/1900"]
    lines, starts, ends = one_line(bad + good)
    _, ok = fields.parse_dates(lines, starts, ends, old_format=False)
    assert ok.tolist() == [False] * len(bad) + [True] * len(good)
    lines, starts, ends = one_line(["02-29-23", "02-29-24", "1-02-24", "01/02/24"])
    _, ok = fields.parse_dates(lines, starts, ends, old_format=True)
    assert ok.tolist() == [False, True, False, False]


def test_times_match_python_and_refuse_impossible_ones() -> None:
    times = [datetime(2024, 1, 1) + timedelta(seconds=s) for s in range(0, 86_400, 617)]
    invalid = ["24:00:00", "12:60:00", "12:00:60", "12-00-00", "1:00:00", "12:00:0x"]
    lines, starts, ends = one_line([t.strftime("%H:%M:%S") for t in times] + invalid)
    got, ok = fields.parse_times(lines, starts, ends)
    assert ok.tolist() == [True] * len(times) + [False] * len(invalid)
    assert got[: len(times)].tolist() == [t.hour * 3600 + t.minute * 60 + t.second for t in times]


def test_dictionary_of_gives_each_text_back_short_or_long() -> None:
    rng = random.Random(5)
    alphabet = "ABCDEFGH -/'.0123456789"
    distinct = [
        "",
        "A",
        "REGULAR",
        "RECOVR AUD",
        "59 ST",
        *("".join(rng.choices(alphabet, k=n)) for n in range(1, 40)),
    ]
    values = [rng.choice(distinct) for _ in range(2_000)] + ["LAST-AT-THE-END"]
    lines, starts, ends = one_line(values)
    for chosen in (
        np.arange(len(values)),
        np.flatnonzero(ends - starts < 16),
    ):  # long + short path, short only
        codes, texts = fields.dictionary_of(lines, starts[chosen], ends[chosen])
        assert [texts[c] for c in codes.tolist()] == [values[i] for i in chosen.tolist()]
        assert len(set(texts)) == len(texts)
