"""Both file formats on the real samples: every reading written once, typed, filled, accounted for."""

import gzip
import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mta_lake.core.clean import CLEAN_CODE_VERSION, READINGS_SCHEMA, clean_week, read_parquet
from mta_lake.core.clean.schema import NON_NULL_COLUMNS
from mta_lake_harness.paths import RAW_SAMPLES

RAW = RAW_SAMPLES
SAMPLES = {
    # file: (week, old format)
    "turnstile_110528.txt": (date(2011, 5, 21), True),
    "turnstile_150919.txt": (date(2015, 9, 12), False),
    "turnstile_170603.txt": (date(2017, 5, 27), False),
}


def reference_readings(text: bytes) -> list[tuple[object, ...]]:
    """An independent reading of a file, by plain splitting (no code shared with the clean layer):
    (line number, reading group, C/A, UNIT, SCP, wall time, DESC, ENTRIES, EXITS) per reading."""
    readings: list[tuple[object, ...]] = []
    for number, line in enumerate(text.decode().split("\n"), start=1):
        line = line.rstrip(" \r")
        if not line or line.startswith("C/A,UNIT,SCP"):
            continue
        fields = line.split(",")
        if len(fields) == 11:
            groups, date_format = [fields[6:11]], "%m/%d/%Y"
        else:
            groups = [fields[3 + 5 * g : 8 + 5 * g] for g in range((len(fields) - 3) // 5)]
            date_format = "%m-%d-%y"
        for group, (day, time, description, entries, exits) in enumerate(groups, start=1):
            when = datetime.strptime(f"{day} {time}", f"{date_format} %H:%M:%S")
            readings.append((number, group, *fields[:3], when, description.strip(), int(entries), int(exits)))
    return readings


def written_readings(table: pa.Table) -> list[tuple[object, ...]]:
    columns = [
        "source_line",
        "reading_group",
        "control_area",
        "unit",
        "scp",
        "observed_at",
        "description",
        "entries",
        "exits",
    ]
    return list(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


@pytest.fixture(scope="module")
def cleaned() -> dict[str, tuple[bytes, object]]:
    results = {}
    for name, (week, old_format) in SAMPLES.items():
        text = (RAW / name).read_bytes()
        results[name] = (
            text,
            clean_week(gzip.compress(text), week=week, file_name=name, old_format=old_format),
        )
    return results


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_reading_is_written_once_with_its_line_and_group(name: str, cleaned: dict) -> None:
    text, result = cleaned[name]
    table = read_parquet(result.readings_parquet)
    expected = reference_readings(text)
    assert written_readings(table) == expected
    old_format = SAMPLES[name][1]
    assert len(expected) > len(text.splitlines()) * (5 if old_format else 0.99)  # old lines hold ~7 readings


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_accounting_balances_exactly(name: str, cleaned: dict) -> None:
    text, result = cleaned[name]
    result.check_accounting()
    counts = result.counts
    lines = text.decode().splitlines()
    has_header = lines[0].startswith("C/A,")
    assert counts.file_lines == len(lines)
    assert counts.header_lines == int(has_header)
    assert counts.data_lines == len([line for line in lines if line.strip()]) - int(has_header)
    assert counts.lines_parsed == counts.data_lines and counts.lines_quarantined == 0
    assert counts.reading_groups_parsed == counts.readings_written == len(reference_readings(text))
    assert result.quarantine.num_rows == 0
    assert read_parquet(result.quarantine_parquet).num_rows == 0  # the empty object is still written


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_column_is_typed_and_filled(name: str, cleaned: dict) -> None:
    _, result = cleaned[name]
    week, old_format = SAMPLES[name]
    table = read_parquet(result.readings_parquet)
    assert table.schema.equals(READINGS_SCHEMA), table.schema
    for column in NON_NULL_COLUMNS:
        assert table.column(column).null_count == 0, column
    # Every booth of these samples is known, so nothing is left without a station.
    for column in ("station", "line_names", "division", "station_complex"):
        assert table.column(column).null_count == 0, column
    sources = set(table.column("station_source").to_pylist())
    assert sources == ({"mapping_enriched"} if old_format else {"file"})
    assert all(key.startswith("complex:") for key in table.column("station_key").to_pylist())
    # May and September are daylight time: UTC is four hours ahead of the wall clock.
    offsets = pc.subtract(
        pc.cast(table.column("observed_at_utc"), pa.timestamp("us")), table.column("observed_at")
    ).to_pylist()
    assert set(offsets) == {timedelta(hours=4)}
    assert set(table.column("in_week").to_pylist()) == {True}
    assert set(table.column("week").to_pylist()) == {week}
    assert set(table.column("source_file").to_pylist()) == {name}
    groups = set(table.column("reading_group").to_pylist())
    assert groups == (set(range(1, 9)) if old_format else {1})


def test_in_memory_table_matches_what_is_stored(cleaned: dict) -> None:
    _, result = cleaned["turnstile_170603.txt"]
    stored = read_parquet(result.readings_parquet)
    assert result.readings.cast(READINGS_SCHEMA).equals(stored)
    metadata = pq.ParquetFile(io.BytesIO(result.readings_parquet)).metadata.metadata
    assert metadata[b"mta_lake.week"] == b"2017-05-27"
    assert metadata[b"mta_lake.source_file"] == b"turnstile_170603.txt"
    assert metadata[b"mta_lake.clean_code_version"] == CLEAN_CODE_VERSION.encode()


def test_line_endings_padding_and_a_missing_final_newline_change_nothing() -> None:
    crlf = (RAW / "turnstile_170603.txt").read_bytes()
    assert b"\r\n" in crlf and crlf.endswith(b"\r\n")
    variants = {
        "crlf": crlf,
        "lf": crlf.replace(b"\r\n", b"\n"),
        "unpadded": b"\n".join(line.rstrip() for line in crlf.split(b"\n")),
        "no final newline": crlf.rstrip(b"\r\n"),
    }
    week = SAMPLES["turnstile_170603.txt"][0]
    tables = {}
    for variant, text in variants.items():
        result = clean_week(text, week=week, file_name="turnstile_170603.txt")
        result.check_accounting()
        assert result.counts.data_lines == 13_818, variant
        tables[variant] = result.readings
    for variant, table in tables.items():
        assert table.equals(tables["crlf"]), variant


def test_blank_lines_are_counted_not_parsed_and_keep_line_numbers_physical() -> None:
    text = (RAW / "turnstile_150919.txt").read_bytes()
    lines = text.split(b"\n")
    # A blank line after the 10th data line, padding-only and empty lines at the end.
    with_blanks = b"\n".join([*lines[:11], b"", *lines[11:]]) + b"\n   \r\n\n"
    week = SAMPLES["turnstile_150919.txt"][0]
    plain = clean_week(text, week=week, file_name="f.txt")
    blank = clean_week(with_blanks, week=week, file_name="f.txt")
    blank.check_accounting()
    assert blank.counts.blank_lines == 3
    assert blank.counts.data_lines == plain.counts.data_lines
    assert blank.counts.file_lines == plain.counts.file_lines + 3
    before, after = (
        plain.readings.column("source_line").to_pylist(),
        blank.readings.column("source_line").to_pylist(),
    )
    assert after == [line if line <= 11 else line + 1 for line in before]
    assert blank.readings.drop_columns(["source_line"]).equals(plain.readings.drop_columns(["source_line"]))


def test_the_first_line_decides_the_format_and_a_surprise_is_reported() -> None:
    text = (RAW / "turnstile_110528.txt").read_bytes()
    result = clean_week(text, week=date(2011, 5, 21), file_name="turnstile_110528.txt", old_format=False)
    assert result.counts.file_format == "old"
    assert result.counts.format_as_expected is False
    assert result.counts.readings_written == len(reference_readings(text))
    expected = clean_week(text, week=date(2011, 5, 21), file_name="turnstile_110528.txt", old_format=True)
    assert expected.counts.format_as_expected is True


def test_gzip_bytes_a_stream_a_path_and_plain_text_give_the_same_table(tmp_path: Path) -> None:
    text = (RAW / "turnstile_150919.txt").read_bytes()
    packed = gzip.compress(text)
    (tmp_path / "raw.txt.gz").write_bytes(packed)
    week = SAMPLES["turnstile_150919.txt"][0]
    tables = [
        clean_week(source, week=week, file_name="turnstile_150919.txt").readings
        for source in (
            packed,
            io.BytesIO(packed),
            tmp_path / "raw.txt.gz",
            str(tmp_path / "raw.txt.gz"),
            text,
        )
    ]
    assert tables[0].num_rows == 842
    for table in tables[1:]:
        assert table.equals(tables[0])


def test_an_old_format_short_last_line_with_trailing_spaces_is_read() -> None:
    text = (RAW / "turnstile_110528.txt").read_bytes()
    last = text.rstrip(b"\n").split(b"\n")[-1]
    assert last.endswith(b"       ") and last.count(b",") == 3 + 5 * 3 - 1  # 3 readings, then spaces
    result = clean_week(text, week=date(2011, 5, 21), file_name="turnstile_110528.txt")
    tail = result.readings.filter(pc.equal(result.readings.column("source_line"), 999))
    assert tail.column("reading_group").to_pylist() == [1, 2, 3]
    assert tail.column("exits").to_pylist()[-1] == 4182631


def test_a_file_that_is_not_utf8_is_read_as_latin1_with_the_same_lines() -> None:
    from mta_lake_harness.old_format import new_format_file, new_format_line

    booth, when = ("A002", "R051", "02-00-00"), datetime(2024, 1, 8, 4)
    text = new_format_file([new_format_line(booth, ("CAFÉ", "NQR", "BMT"), when, entries=3, exits=4)])
    result = clean_week(text.decode("utf-8").encode("latin-1"), week=date(2024, 1, 6), file_name="f.txt")
    assert result.counts.text_encoding == "latin-1"
    assert result.readings.column("station").to_pylist() == ["CAFÉ"]
    assert result.readings.column("source_line").to_pylist() == [2]


def test_an_empty_file_balances_and_still_gives_typed_empty_objects() -> None:
    result = clean_week(gzip.compress(b""), week=date(2024, 1, 6), file_name="f.txt")
    result.check_accounting()
    assert (result.counts.file_lines, result.counts.data_lines, result.counts.readings_written) == (0, 0, 0)
    assert read_parquet(result.readings_parquet).schema.equals(READINGS_SCHEMA)


def test_the_old_format_writer_packs_a_turnstiles_readings_eight_to_a_line() -> None:
    from mta_lake_harness.old_format import new_format_file, new_format_line, to_old_format

    one, other = ("A002", "R051", "02-00-00"), ("A002", "R051", "02-00-01")
    station = ("59 ST", "NQR456W", "BMT")
    start = datetime(2024, 1, 6)
    rows = [(one, h) for h in range(10)] + [(other, h) for h in range(3)] + [(one, 20)]
    text = new_format_file(
        new_format_line(booth, station, start + timedelta(hours=h), entries=h, exits=1_234_567_890)
        for booth, h in rows
    )
    old = to_old_format(text, trailing_spaces=3).decode().split("\n")
    assert old[-1] == ""  # every line ends with LF
    fields_per_line = [len(line.rstrip().split(",")) for line in old[:-1]]
    assert fields_per_line == [43, 13, 18, 8]  # 8 + 2 readings of one, 3 of other, then one again
    assert old[0].startswith("A002,R051,02-00-00,01-06-24,00:00:00,REGULAR,000000000,1234567890,")
    assert old[1].endswith("   ") and not old[0].endswith(" ")
