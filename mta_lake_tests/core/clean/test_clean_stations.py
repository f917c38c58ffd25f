"""Stations: where each row's station comes from, the file winning, and one key per booth."""

import csv
import hashlib
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from mta_lake.core.clean import CLEAN_CODE_VERSION, clean_week, load_station_mapping, output_data_version
from mta_lake.core.clean.stations import EDITION_FILES, ENRICHED_FILE, REFERENCE_DIR, reference_fingerprint
from mta_lake.core.clean.version import CLEAN_LOGIC_VERSION, REFERENCE_FINGERPRINT
from mta_lake_harness.old_format import new_format_file, new_format_line

SHARED_REFERENCE = Path("/work/shared/reference")


def enriched_row(booth: str) -> dict[str, str]:
    """The enriched table's row for a booth, read here independently of the clean layer."""
    with open(REFERENCE_DIR / ENRICHED_FILE, newline="") as source:
        return next(row for row in csv.DictReader(source) if row["booth"] == booth)


def old_format_line(control_area: str, unit: str, hour: int) -> str:
    return f"{control_area},{unit},00-00-00,01-08-24,{hour:02d}:00:00,REGULAR,000000100,000000050"


def test_old_format_rows_get_their_station_from_the_mapping_by_source() -> None:
    text = "\n".join(
        [
            old_format_line("A002", "R051", 0),  # a known booth
            old_format_line("A077", "R002", 0),  # its remote before the reassignment (R002 -> R028)
            old_format_line("R533A", "R055", 0),  # a booth the table lacks, of a known remote
            old_format_line("Z999", "R999", 0),  # nothing known
            old_format_line("Z998", "R001", 0),  # unknown booth of a remote with two station names
        ]
    ).encode()
    result = clean_week(text, week=date(2024, 1, 6), file_name="f.txt")
    rows = result.readings.to_pylist()
    a002, a077 = enriched_row("A002"), enriched_row("A077")
    assert (rows[0]["station"], rows[0]["line_names"], rows[0]["division"]) == (
        a002["station"],
        a002["line_name"],
        a002["division"],
    )
    assert rows[0]["station_key"] == f"complex:{a002['complex_id']}"
    assert rows[0]["station_complex"] == a002["complex_name"]
    assert rows[1]["station"] == a077["station"] == "FULTON ST"
    assert rows[1]["station_key"] == f"complex:{a077['complex_id']}"
    assert rows[2]["station"] == enriched_row("R533")["station"] == "FLUSHING-MAIN"
    assert rows[2]["station_key"] == f"complex:{enriched_row('R533')['complex_id']}"
    assert (rows[3]["station"], rows[3]["line_names"], rows[3]["division"]) == (None, None, None)
    assert rows[3]["station_key"] == "remote:R999" and rows[3]["station_complex"] is None
    assert rows[4]["station"] is None  # SOUTH FERRY or WHITEHALL S-FRY: not guessed
    assert rows[4]["station_key"] == f"complex:{enriched_row('A058')['complex_id']}"  # one complex
    assert [row["station_source"] for row in rows] == [
        "mapping_enriched",
        "mapping_enriched",
        "mapping_enriched_by_unit",
        "unmapped",
        "unmapped",
    ]
    sources = result.counts.station_sources
    assert (
        sources["mapping_enriched"] == 2
        and sources["mapping_enriched_by_unit"] == 1
        and sources["unmapped"] == 2
    )
    assert sum(sources.values()) == 5 and result.counts.readings_with_station == 3
    result.check_accounting()


def test_a_new_format_file_wins_over_the_mapping_and_an_empty_station_falls_back() -> None:
    booth = ("A002", "R051", "02-00-00")
    text = new_format_file(
        [
            new_format_line(booth, ("LEXINGTON AV-59", "456NQRW", "BMT"), datetime(2024, 1, 8, 0)),
            new_format_line(("A002", "R051", "02-00-01"), ("", "", ""), datetime(2024, 1, 8, 0)),
        ]
    )
    rows = clean_week(text, week=date(2024, 1, 6), file_name="f.txt").readings.to_pylist()
    assert (rows[0]["station"], rows[0]["line_names"], rows[0]["station_source"]) == (
        "LEXINGTON AV-59",
        "456NQRW",
        "file",
    )
    a002 = enriched_row("A002")
    assert (rows[1]["station"], rows[1]["line_names"], rows[1]["station_source"]) == (
        a002["station"],
        a002["line_name"],
        "mapping_enriched",
    )
    # The key depends on the booth only: the same whatever the name.
    assert rows[0]["station_key"] == rows[1]["station_key"] == f"complex:{a002['complex_id']}"


def test_dated_editions_are_used_nearest_the_week_first(tmp_path: Path) -> None:
    for name in (ENRICHED_FILE, *EDITION_FILES.values()):
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)
    # A booth only the two MTA editions know, spelled differently in each (the files have no
    # final line break).
    with open(tmp_path / EDITION_FILES["2010"], "a") as edition:
        edition.write("\nR900,Q001,EDITION 2010 NAME\n")
    with open(tmp_path / EDITION_FILES["2015"], "a", newline="") as edition:
        edition.write("\r\nR900,Q001,EDITION 2015 NAME,7,IRT\r\n")
    mapping = load_station_mapping(tmp_path)
    assert mapping.fingerprint != reference_fingerprint()
    early, late = (
        mapping.names("Q001", "R900", date(2011, 5, 21)),
        mapping.names("Q001", "R900", date(2014, 6, 7)),
    )
    assert (early.station, early.source) == ("EDITION 2010 NAME", "mapping_2010")
    assert (late.station, late.line_names, late.source) == ("EDITION 2015 NAME", "7", "mapping_2015")
    # A booth the enriched table knows takes its (new-format) name in every year.
    for week in (date(2010, 5, 1), date(2014, 6, 7)):
        assert mapping.names("A002", "R051", week).station == enriched_row("A002")["station"]


def test_every_booth_of_the_mta_editions_is_in_the_enriched_table() -> None:
    """Why the enriched table comes first: it covers the editions' booths, with the files' names."""
    mapping = load_station_mapping()
    for edition, booths in mapping.editions.items():
        assert len(booths) > 700, edition
        for control_area, unit in booths:
            assert mapping.names(control_area, unit, date(2012, 1, 7)).source == "mapping_enriched", (
                edition,
                control_area,
                unit,
            )


def test_the_reference_tables_are_the_shared_copies_and_the_code_version_covers_them() -> None:
    assert reference_fingerprint()[:12] == REFERENCE_FINGERPRINT, (
        "the reference tables changed: update REFERENCE_FINGERPRINT (and so CLEAN_CODE_VERSION)"
    )
    expected_version = f"clean-{CLEAN_LOGIC_VERSION}-ref-{REFERENCE_FINGERPRINT}"
    assert expected_version == CLEAN_CODE_VERSION
    provenance = (REFERENCE_DIR / "PROVENANCE.md").read_text()
    for name in (ENRICHED_FILE, *EDITION_FILES.values()):
        digest = hashlib.sha256((REFERENCE_DIR / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in provenance, name
        if SHARED_REFERENCE.exists():
            assert (SHARED_REFERENCE / name).read_bytes() == (REFERENCE_DIR / name).read_bytes(), name


def test_the_output_data_version_follows_the_raw_crc_and_the_code_version() -> None:
    version = output_data_version("1A2B3C4D")
    assert version == f"raw-1a2b3c4d-{CLEAN_CODE_VERSION}"
    assert output_data_version("1a2b3c4d") == version
    assert output_data_version("1a2b3c4e") != version
    assert output_data_version("1a2b3c4d", "clean-2-ref-x") != version
    with pytest.raises(ValueError, match="8 hex digits"):
        output_data_version("not-a-crc")


def test_the_clean_core_imports_no_dagster() -> None:
    modules = sorted(p.stem for p in REFERENCE_DIR.parent.glob("*.py"))
    assert {"week", "parse", "stations", "clock"} <= set(modules)
    code = (
        "import sys\n"
        + "".join(f"import mta_lake.core.clean.{name}\n" for name in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pandas'))\n"
        + "print(bad)\n"
        + "assert not bad, bad\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
