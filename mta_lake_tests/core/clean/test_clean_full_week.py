"""A complete real week (253,022 readings) cleaned in both formats: the same rows either way.

The old-format file is built from the new-format one by ``mta_lake_harness/old_format.py``, eight readings a
line, so both hold exactly the same readings; only what the old format lacks (station, lines,
division) comes from the mapping, and it must agree with what the new-format file prints.
"""

import gzip
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mta_lake.core.clean import READINGS_SCHEMA, CleanResult, clean_week, read_parquet
from mta_lake_harness.old_format import to_old_format
from mta_lake_harness.paths import FIXTURES

WEEKS = FIXTURES / "weeks"
WEEK = date(2024, 1, 6)
READING_KEY = ["control_area", "unit", "scp", "observed_at", "description", "entries", "exits"]
FROM_THE_FILE_ONLY = ["source_file", "source_line", "reading_group", "station_source"]
FROM_THE_MAPPING = ["station", "line_names", "division"]


@pytest.fixture(scope="module")
def both_formats() -> tuple[bytes, CleanResult, CleanResult]:
    new_text = gzip.decompress((WEEKS / "turnstile_240113.txt.gz").read_bytes())
    old_text = to_old_format(new_text)
    new = clean_week(new_text, week=WEEK, file_name="turnstile_240113.txt", old_format=False)
    old = clean_week(gzip.compress(old_text, 1), week=WEEK, file_name="turnstile_240113.txt", old_format=True)
    return old_text, new, old


def sorted_readings(result: CleanResult) -> pa.Table:
    table = read_parquet(result.readings_parquet)
    assert table.schema.equals(READINGS_SCHEMA)
    return table.sort_by([(column, "ascending") for column in READING_KEY])


def test_both_formats_balance_and_hold_every_reading(
    both_formats: tuple[bytes, CleanResult, CleanResult],
) -> None:
    old_text, new, old = both_formats
    new.check_accounting()
    old.check_accounting()
    assert (new.counts.file_format, old.counts.file_format) == ("new", "old")
    assert new.counts.data_lines == 253_022 == new.counts.readings_written
    old_lines = old_text.count(b"\n")
    assert old.counts.data_lines == old_lines == old.counts.lines_parsed
    assert old.counts.readings_written == old.counts.reading_groups_parsed == 253_022
    assert 253_022 / 8 < old_lines < 253_022 / 6  # mostly full lines of eight
    for counts in (new.counts, old.counts):
        assert counts.turnstiles == 5_026 and counts.readings_in_week == 253_022
        assert counts.duplicate_readings["audit_pair"] == 40 and counts.readings_of_record == 253_002


def test_the_same_readings_give_the_same_rows_in_both_formats(
    both_formats: tuple[bytes, CleanResult, CleanResult],
) -> None:
    _, new, old = both_formats
    new_rows, old_rows = sorted_readings(new), sorted_readings(old)
    for column in READINGS_SCHEMA.names:
        if column in FROM_THE_FILE_ONLY or column in FROM_THE_MAPPING:
            continue
        assert new_rows.column(column).equals(old_rows.column(column)), column
    assert set(new_rows.column("station_source").to_pylist()) == {"file"}
    assert set(old_rows.column("station_source").to_pylist()) <= {
        "mapping_enriched",
        "mapping_enriched_by_unit",
    }
    # Old-format rows: lines of at most eight readings, numbered 1..k within a line.
    groups = old.readings.column("reading_group").to_numpy()
    assert groups.max() == 8 and (groups[1:] == groups[:-1] + 1)[groups[1:] != 1].all()


def test_old_format_stations_are_the_names_the_new_format_file_prints(
    both_formats: tuple[bytes, CleanResult, CleanResult],
) -> None:
    _, new, old = both_formats
    new_rows, old_rows = sorted_readings(new), sorted_readings(old)
    share = {
        column: pc.sum(
            pc.fill_null(pc.equal(new_rows.column(column), old_rows.column(column)), False)
        ).as_py()
        / new_rows.num_rows
        for column in FROM_THE_MAPPING
    }
    # Measured: 100% of stations and divisions, 99.55% of line lists (the enriched table orders
    # some lines differently, for example RNW for the file's NRW).
    assert share["station"] >= 0.999 and share["division"] >= 0.999, share
    assert share["line_names"] >= 0.99, share
    assert old.counts.station_share == 1.0
