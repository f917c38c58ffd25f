"""The mart on the repo's real weeks, cleaned by the real clean layer: the same rows whatever the order the
weeks arrive in (and after a run killed mid-write), every label by its stated rule, a mode on every
station, the MTA's published daily subway ridership beside the subway's. The warehouses are built once
per session (``conftest.py``: ``real_marts``)."""

import csv
import signal
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import yaml

from mta_lake.core.mart.dbt_project import (
    PROJECT_DIR,
)
from mta_lake_tests.core.mart.real_weeks import TABLES

MTA_DAILY = PROJECT_DIR.parent / "core" / "mart" / "reference" / "mta_daily_ridership.csv"


@pytest.fixture(scope="module")
def marts(real_marts: dict[str, Any]) -> dict[str, Any]:
    return real_marts


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_full_rebuild_equals_the_incremental_weeks_row_for_row(marts: dict[str, Any], table: str) -> None:
    incremental, rebuilt = marts["incremental"][table], marts["rebuilt"][table]
    assert len(rebuilt) > 1
    differing = [(a, b) for a, b in zip(incremental, rebuilt, strict=False) if a != b]
    assert (len(incremental), differing[:3]) == (len(rebuilt), [])


def test_every_run_passed_its_blocking_tests(marts: dict[str, Any]) -> None:
    for run in ("first", "last", "full"):
        failed = {name: r["status"] for name, r in marts[run].items() if r["status"] in ("error", "fail")}
        assert failed == {}, run


def test_labels_follow_the_stated_rule(marts: dict[str, Any]) -> None:
    """Recomputed in Python from turnstile_week_last_readings: a station-day carries the labels of its
    station in the latest week of its turnstile-days, the combination most of its turnstiles carry that
    week, a tie going to the greatest combination in text order. Checked on the days Sunday to Thursday
    of each week, whose intervals (at most 24 h counted, rejected ones booked to the day they end) all
    belong to that week."""
    connection = marts["connection"]
    combos: dict[tuple[date, str], Counter[tuple[str, ...]]] = {}
    for week, station, *labels in connection.execute(
        "select week, station_key, station, line_names, division, mode from turnstile_week_last_readings"
    ).fetchall():
        combos.setdefault((week, station), Counter())[tuple(label or "" for label in labels)] += 1
    rows = connection.execute(
        "select service_date, station, station_name, line_names, division, mode from station_daily_ridership"
    ).fetchall()
    checked = decided = 0
    for service_date, station, *labels in rows:
        week = service_date - timedelta(days=(service_date.weekday() - 5) % 7)
        if not 1 <= (service_date - week).days <= 5 or (week, station) not in combos:
            continue
        counts = combos[(week, station)]
        best = max(counts, key=lambda combo: (counts[combo], combo))
        decided += len(counts) > 1
        assert tuple(label or "" for label in labels) == best, (service_date, station, counts)
        checked += 1
    # Most station-days checked; many stations carry several combinations in one week (34 ST-PENN STA:
    # lines 123 and 123ACE), and the rule decided each of them.
    assert checked > 0.5 * len(rows) and decided > 100


def test_penn_station_has_one_name_and_lines_all_week(marts: dict[str, Any]) -> None:
    rows = (
        marts["connection"]
        .execute(
            """select distinct station_name, line_names from station_daily_ridership
           where station = 'complex:318' and service_date between '2024-01-06' and '2024-01-12'"""
        )
        .fetchall()
    )
    assert len(rows) == 1


def test_every_station_has_a_mode_from_its_division(marts: dict[str, Any]) -> None:
    connection = marts["connection"]
    modes = dict(
        connection.execute(
            """select mode, count(distinct station) from station_daily_ridership
               where service_date between '2024-01-06' and '2024-01-12' group by 1"""
        ).fetchall()
    )
    # The files' divisions that week: PTH 13 PATH stations, SRT 2 (St. George, Tompkinsville), RIT 2.
    assert {mode: modes.get(mode) for mode in ("PATH", "SIR", "tram")} == {"PATH": 13, "SIR": 2, "tram": 2}
    assert modes["subway"] > 400
    assert connection.execute(
        "select count(*) from station_daily_ridership where mode is null"
    ).fetchone() == (0,)
    # PATH's stations are PTH's, and no subway station is.
    mixed = connection.execute(
        """select count(*) from station_daily_ridership
           where (division = 'PTH') <> (mode = 'PATH') or (division in ('IRT', 'BMT', 'IND')) <> (mode = 'subway')"""
    ).fetchone()
    assert mixed == (0,)
    # The old-format week (2011, no division in the file) has its divisions from the reference tables.
    old = connection.execute(
        "select count(*), count(division) from station_daily_ridership where service_date < '2011-06-01'"
    ).fetchone()
    assert old[0] > 0 and old[0] == old[1]


def test_system_days_are_per_mode_and_the_subway_is_the_subway_alone(marts: dict[str, Any]) -> None:
    connection = marts["connection"]
    by_station = connection.execute(
        """select service_date, mode, sum(entries), sum(exits), count(*) from station_daily_ridership
           group by 1, 2 order by 1, 2"""
    ).fetchall()
    system = connection.execute(
        "select service_date, mode, entries, exits, stations from system_daily_ridership order by 1, 2"
    ).fetchall()
    assert system == by_station
    day = dict(
        (mode, entries)
        for mode, entries in connection.execute(
            "select mode, entries from system_daily_ridership where service_date = '2024-01-09'"
        ).fetchall()
    )
    assert set(day) == {"subway", "PATH", "SIR", "tram"}
    assert 100_000 < day["PATH"] < 200_000  # about 130,000 a day in early 2024: not in the subway's row


def published_subway() -> dict[date, int]:
    """The MTA's file read independently of dbt: dates MM/DD/YYYY, rows in no order."""
    with open(MTA_DAILY, newline="") as handle:
        return {
            datetime.strptime(row["Date"], "%m/%d/%Y").date(): int(row["Subways: Total Estimated Ridership"])
            for row in csv.DictReader(handle)
        }


def test_the_subway_beside_the_mtas_published_days(marts: dict[str, Any]) -> None:
    connection = marts["connection"]
    published = published_subway()
    subway = dict(
        (day, (entries, exits))
        for day, entries, exits in connection.execute(
            "select service_date, entries, exits from system_daily_ridership where mode = 'subway'"
        ).fetchall()
    )
    expected = [
        (day, entries, exits, published[day], entries / published[day], exits / published[day])
        for day, (entries, exits) in sorted(subway.items())
        if day in published
    ]
    rows = connection.execute(
        """select service_date, mart_entries, mart_exits, mta_subway_ridership, entries_ratio, exits_ratio
           from subway_vs_mta_daily order by 1"""
    ).fetchall()
    assert [row[:4] for row in rows] == [row[:4] for row in expected]
    assert [(round(r[4], 9), round(r[5], 9)) for r in rows] == [
        (round(e[4], 9), round(e[5], 9)) for e in expected
    ]
    assert [row[0] for row in rows] == [date(2023, 12, 30) + timedelta(days=n) for n in range(14)]
    # What the docs say the eras mean: entries about half of the MTA's riders, exits close to them.
    assert all(0.45 < row[4] < 0.57 for row in rows)
    assert all(0.9 < row[5] < 1.1 for row in rows)


def test_the_ratio_warning_reports_exactly_the_days_out_of_band(marts: dict[str, Any]) -> None:
    bands = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["mta_daily_ratio_bands"]
    era = max(
        (band for band in bands if date.fromisoformat(band["from"]) <= date(2024, 1, 1)),
        key=lambda b: b["from"],
    )
    connection = marts["connection"]
    outside = [
        day
        for day, entries_ratio, exits_ratio in connection.execute(
            "select service_date, entries_ratio, exits_ratio from subway_vs_mta_daily order by 1"
        ).fetchall()
        if not (
            era["entries_min"] <= entries_ratio <= era["entries_max"]
            and era["exits_min"] <= exits_ratio <= era["exits_max"]
        )
    ]
    stored = connection.execute(
        "select service_date from main_dbt_test__audit.warn_subway_vs_mta_ratio_band order by 1"
    ).fetchall()
    assert [row[0] for row in stored] == outside
    assert marts["full"]["warn_subway_vs_mta_ratio_band"]["failures"] == len(outside)


def test_a_comparison_with_no_overlapping_day_says_so(marts: dict[str, Any]) -> None:
    """The first build held only 2011 and 2017: nothing to compare is a warning saying so, not a pass."""
    assert marts["first"]["warn_subway_vs_mta_ratio_band"]["status"] == "warn"
    assert marts["first_nothing"] == [("nothing to compare", date(2011, 5, 21), date(2017, 6, 2))]


def test_the_schema_file_is_the_warehouse(marts: dict[str, Any]) -> None:
    """models/marts/schema.yml lists every column of every model with its type, in the table's order
    (what the dashboard and the BigQuery target build on)."""
    declared = {
        model["name"]: [(column["name"], column["data_type"].upper()) for column in model["columns"]]
        for model in yaml.safe_load((PROJECT_DIR / "models" / "marts" / "schema.yml").read_text())["models"]
    }
    actual = {
        table: [(row[0], row[1]) for row in marts["connection"].execute(f"describe {table}").fetchall()]
        for table in TABLES
    }
    assert declared == actual


def test_a_run_killed_mid_write_leaves_a_warehouse_that_opens_and_the_next_run_completes(
    marts: dict[str, Any],
) -> None:
    """A full rebuild killed (SIGKILL) while writing turnstile_intervals, before its commit: the warehouse
    opens, with the intervals it had before (DuckDB rolled the transaction back: no half-written table),
    and the next run completes with the rows of a full rebuild
    (test_a_full_rebuild_equals_the_incremental_weeks_row_for_row)."""
    killed = marts["killed"]
    assert killed["running"] and killed["returncode"] == -signal.SIGKILL and not killed["committed"]
    assert killed["after"] == killed["before"] == [date(2011, 5, 21), date(2017, 5, 27), date(2024, 1, 6)]
    assert marts["last"]["turnstile_intervals"]["status"] == "success"
