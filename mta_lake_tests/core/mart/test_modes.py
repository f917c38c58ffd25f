"""The mart's mode rule (``mta_lake/warehouse/macros/modes.sql``) is the reference tables' own: every
remote the tables put in another division than the subway's is listed in ``mode_by_remote`` with that
division's mode, and no other."""

import csv

import yaml

from mta_lake.core.clean.stations import EDITION_FILES, ENRICHED_FILE, REFERENCE_DIR
from mta_lake.core.mart.dbt_project import PROJECT_DIR
from mta_lake.core.mart.report import MODES

VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def _rows(name: str) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_division_of_the_reference_tables_has_a_mode() -> None:
    divisions = {row["division"] for row in _rows(ENRICHED_FILE)} | {
        row["Division"] for row in _rows(EDITION_FILES["2015"])
    }
    assert divisions == set(VARS["mode_by_division"])
    assert set(VARS["mode_by_division"].values()) | {VARS["default_mode"]} == set(MODES)


def test_mode_by_remote_is_the_reference_tables_non_subway_remotes() -> None:
    by_division = VARS["mode_by_division"]
    expected: dict[str, set[str]] = {}
    for row in _rows(ENRICHED_FILE):
        for remote in [row["remote"], *(r.strip() for r in row["prior_remotes"].split(",") if r.strip())]:
            expected.setdefault(remote, set()).add(by_division[row["division"]])
    for row in _rows(EDITION_FILES["2015"]):
        expected.setdefault(row["Remote"], set()).add(by_division[row["Division"]])
    assert all(len(modes) == 1 for modes in expected.values())  # a remote is in one mode
    non_subway = {remote: modes.pop() for remote, modes in expected.items() if modes != {"subway"}}
    assert VARS["mode_by_remote"] == non_subway
    assert len(non_subway) == 20  # 13 PATH, 3 SIR, 2 tram, 2 bus
