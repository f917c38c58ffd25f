"""Lines that cannot be parsed: quarantined with their number, text and reason; never dropped."""

import dataclasses
import gzip
from datetime import date, datetime, timedelta

import pyarrow.compute as pc
import pytest

from mta_lake.core.clean import (
    MAX_QUARANTINED_SHARE,
    AccountingError,
    QuarantineThresholdError,
    RawFileError,
    clean_week,
    read_parquet,
)
from mta_lake.core.clean.parse import detect_layout, parse_file, parse_line
from mta_lake.core.clean.text import split_lines
from mta_lake_harness.old_format import new_format_file, new_format_line
from mta_lake_harness.paths import RAW_SAMPLES

RAW = RAW_SAMPLES
WEEK = date(2024, 1, 6)
BOOTH = ("A002", "R051", "02-00-00")
STATION = ("59 ST", "NQR456W", "BMT")


def good_line(hours: int) -> str:
    return new_format_line(
        BOOTH, STATION, datetime(2024, 1, 6) + timedelta(hours=hours), entries=100 + hours, exits=7
    )


BAD_LINES = {
    # line text: what the reason must say
    "A002,R051,02-00-00,59 ST,NQR456W,BMT,01/06/2024,03:00:00,REGULAR": "expected 11 fields",
    good_line(5).replace(
        "01/06/2024", "02/30/2024"
    ): "DATE,TIME '02/30/2024','05:00:00' is not MM/DD/YYYY,HH:MM:SS",
    good_line(6).replace("0000000106", "00000001x6"): "ENTRIES '00000001x6' is not a whole number",
    good_line(7).replace("02-00-00", "        "): "empty C/A, UNIT or SCP",
    good_line(8).replace("REGULAR", "       "): "DESC is empty",
    good_line(9)
    .replace("06:00:00", "25:00:00")
    .replace("09:00:00", "25:00:00"): "is not MM/DD/YYYY,HH:MM:SS",
    "C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS": "a header line inside the data",
}


def test_each_malformed_line_is_quarantined_with_its_number_text_and_reason() -> None:
    good = [good_line(h) for h in range(0, 40, 4)]
    lines = [*good[:5], *BAD_LINES, *good[5:]]
    result = clean_week(new_format_file(lines), week=WEEK, file_name="turnstile_240113.txt")
    quarantine = read_parquet(result.quarantine_parquet)
    rows = quarantine.to_pylist()
    assert [row["source_line"] for row in rows] == list(range(7, 7 + len(BAD_LINES)))  # header is line 1
    for row, (text, reason) in zip(rows, BAD_LINES.items(), strict=True):
        assert row["raw_text"] == text  # as stored: padding kept, CRLF removed
        assert reason in row["reason"], (row["reason"], reason)
        assert row["source_file"] == "turnstile_240113.txt" and row["week"] == WEEK
    counts = result.counts
    assert counts.data_lines == len(lines) == counts.lines_parsed + counts.lines_quarantined
    assert counts.lines_quarantined == len(BAD_LINES)
    assert counts.first_quarantined_line == 7 and "expected 11 fields" in (
        counts.first_quarantine_reason or ""
    )
    # The good lines around them are all there, with their own line numbers.
    assert result.readings.column("source_line").to_pylist() == [2, 3, 4, 5, 6, *range(14, 19)]
    assert result.readings.column("entries").to_pylist() == [100 + h for h in range(0, 40, 4)]
    assert dataclasses.asdict(counts)["readings_written"] == len(good)


def test_an_old_format_line_is_parsed_whole_or_quarantined_whole() -> None:
    reading = "01-06-24,{},REGULAR,000000100,000000050"
    full = ",".join(["A002,R051,02-00-00", *(reading.format(f"{h:02d}:00:00") for h in range(0, 16, 2))])
    cut = full.rsplit(",", 2)[0]  # the last reading lost its counters
    bad_time = full.replace("08:00:00", "08:00:61")
    nine = full + "," + reading.format("18:00:00")
    text = "\n".join([full, cut, bad_time, nine, full.replace("01-06-24", "01-07-24")]) + "\n"
    result = clean_week(text.encode(), week=WEEK, file_name="turnstile_140111.txt")
    reasons = {row["source_line"]: row["reason"] for row in result.quarantine.to_pylist()}
    assert set(reasons) == {2, 3, 4}
    assert "found 41 fields" in reasons[2]
    assert reasons[3].startswith("reading 5 of 8: ")
    assert "found 48 fields" in reasons[4]
    assert result.readings.column("source_line").to_pylist() == [1] * 8 + [5] * 8
    assert result.readings.column("reading_group").to_pylist() == list(range(1, 9)) * 2
    assert result.counts.reading_groups_parsed == 16


def test_harmless_variants_are_parsed_like_the_canonical_layout() -> None:
    canonical = good_line(4)
    variants = [
        canonical.replace("01/06/2024", "1/6/2024"),  # no zero padding
        canonical.replace("04:00:00", "4:00:00"),
        canonical.replace(",REGULAR,", ", REGULAR ,"),  # spaces around fields
        canonical.replace("0000000104", "104"),
        canonical.replace("A002,", " A002,"),
    ]
    result = clean_week(new_format_file([canonical, *variants]), week=WEEK, file_name="f.txt")
    assert result.counts.lines_quarantined == 0
    table = result.readings.drop_columns(["source_line"])
    first = table.slice(0, 1).to_pylist()[0]
    assert first["control_area"] == "A002" and first["description"] == "REGULAR" and first["entries"] == 104
    for index in range(1, table.num_rows):
        assert table.slice(index, 1).drop_columns(["duplicate_kind", "is_reading_of_record"]).to_pylist() == [
            {k: v for k, v in first.items() if k not in ("duplicate_kind", "is_reading_of_record")}
        ]


@pytest.mark.parametrize("name", ["turnstile_110528.txt", "turnstile_170603.txt"])
def test_the_fast_parser_and_the_line_parser_agree_on_every_real_line(name: str) -> None:
    lines = split_lines((RAW / name).read_bytes())
    layout = detect_layout(lines)
    assert layout.old_format == (name == "turnstile_110528.txt")
    parsed = parse_file(lines, layout)
    assert parsed.lines_quarantined == 0
    fast = {}
    for i in range(len(parsed.line_index)):
        identity = parsed.identities[parsed.identity_index[i]]
        fast.setdefault(int(parsed.line_index[i]), (identity, []))[1].append(
            (
                int(parsed.group[i]),
                int(parsed.observed[i]),
                parsed.descriptions[parsed.description_index[i]],
                int(parsed.entries[i]),
                int(parsed.exits[i]),
            )
        )
    assert len(fast) == parsed.data_lines
    for index, (identity, readings) in fast.items():
        outcome = parse_line(lines.text(index), layout)
        assert not isinstance(outcome, str), outcome
        assert outcome.identity == identity and outcome.readings == readings, index


def test_more_quarantined_lines_than_allowed_fail_the_week_naming_week_file_and_first_bad_line() -> None:
    assert MAX_QUARANTINED_SHARE == 0.01
    good = [good_line(h) for h in range(198)]
    bad = good_line(300).replace("REGULAR,", "REGULAR,,")
    # 2 bad lines of 200 is 1%: allowed. 3 of 200 is more: the week fails.
    allowed = clean_week(
        new_format_file([*good[:50], bad, *good[50:], bad]), week=WEEK, file_name="turnstile_240113.txt"
    )
    assert allowed.counts.lines_quarantined == 2 and allowed.counts.data_lines == 200
    allowed.check_accounting()
    lines = [*good[:50], bad, *good[50:150], bad, *good[150:197], bad]
    failing = clean_week(new_format_file(lines), week=WEEK, file_name="turnstile_240113.txt")
    with pytest.raises(QuarantineThresholdError) as raised:
        failing.check_accounting()
    message = str(raised.value)
    assert "week 2024-01-06 (turnstile_240113.txt)" in message
    assert "3 of 200 data lines quarantined (1.50%)" in message
    assert "first bad line 52: expected 11 fields (" in message and "found 12" in message
    assert bad[:40] in message
    # The quarantine is complete even for a failing week (written before the check, for a person to read).
    assert failing.quarantine.column("source_line").to_pylist() == [52, 153, 201]


def test_counts_that_do_not_balance_fail_with_a_message_naming_the_week() -> None:
    result = clean_week(
        new_format_file([good_line(0), good_line(4)]), week=WEEK, file_name="turnstile_240113.txt"
    )
    result.check_accounting()
    broken = dataclasses.replace(result, counts=dataclasses.replace(result.counts, lines_parsed=1))
    with pytest.raises(
        AccountingError, match=r"week 2024-01-06 \(turnstile_240113.txt\).*data lines 2 != lines parsed"
    ):
        broken.check_accounting()
    assert broken.accounting_problems() == ["data lines 2 != lines parsed + quarantined 1"]


def test_a_truncated_gzip_object_is_refused() -> None:
    packed = gzip.compress((RAW / "turnstile_150919.txt").read_bytes())
    with pytest.raises(RawFileError, match="not a complete gzip stream"):
        clean_week(packed[: len(packed) // 2], week=WEEK, file_name="f.txt")


def test_a_file_of_garbage_is_quarantined_line_by_line() -> None:
    text = b"<html>\n<body>not found</body>\n</html>\n"
    result = clean_week(text, week=WEEK, file_name="turnstile_240113.txt")
    assert result.counts.data_lines == result.counts.lines_quarantined == 3
    assert result.readings.num_rows == 0
    assert pc.all(pc.match_substring(result.quarantine.column("reason"), "expected C/A,UNIT,SCP")).as_py()
    with pytest.raises(QuarantineThresholdError, match="3 of 3 data lines"):
        result.check_accounting()


def test_old_format_field_names_inside_the_data_are_one_quarantined_line() -> None:
    # turnstile_120714.txt is reported to have field names inside its data; this is the old format's
    # own column list (reference/ts_Field_Description), at the top of an otherwise good file.
    names = ["C/A", "UNIT", "SCP"] + [
        f"{n}{g}" for g in range(1, 9) for n in ("DATE", "TIME", "DESC", "ENTRIES", "EXITS")
    ]
    good = "A002,R051,02-00-00,07-07-12,00:00:00,REGULAR,003169391,001097585"
    result = clean_week(
        ("\n".join([",".join(names), good, good.replace("00:00:00", "04:00:00")]) + "\n").encode(),
        week=date(2012, 7, 7),
        file_name="turnstile_120714.txt",
    )
    assert result.counts.file_format == "old"
    assert result.quarantine.to_pylist()[0]["reason"] == "a header line inside the data"
    assert result.counts.lines_parsed == 2 and result.counts.readings_written == 2


def test_week_checks_block_on_accounting_and_warn_on_window_and_stations() -> None:
    from mta_lake.core.clean import week_checks

    inside = [good_line(h) for h in range(0, 40, 4)]
    ok = {c.name: c for c in week_checks(clean_week(new_format_file(inside), week=WEEK, file_name="f.txt"))}
    assert [(name, c.passed, c.blocking) for name, c in ok.items()] == [
        ("accounting", True, True),
        ("schema", True, True),
        ("readings_in_week", True, False),
        ("station_share", True, False),
    ]
    assert ok["accounting"].metadata["readings_written"] == 10
    # A week two weeks off (every reading outside), of booths nobody knows, with 2 bad lines in 12.
    unknown = [
        line.replace("A002,R051", "Z999,R999").replace(",59 ST,NQR456W,BMT,", ",,,,") for line in inside
    ]
    bad = clean_week(new_format_file([*unknown, "x", "y"]), week=date(2024, 1, 20), file_name="f.txt")
    checks = {c.name: c for c in week_checks(bad)}
    assert not checks["accounting"].passed and "first bad line 12" in str(
        checks["accounting"].metadata["first_bad_line"]
    )
    assert checks["schema"].passed
    assert (
        not checks["readings_in_week"].passed and checks["readings_in_week"].metadata["in_week_share"] == 0.0
    )
    assert (
        not checks["station_share"].passed
        and checks["station_share"].metadata["station_source_unmapped"] == 10
    )
