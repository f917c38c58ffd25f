"""The external check: the mart's annual entries per complex against the MTA's published figures."""

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from mta_lake.core.mart.annual import (
    REFERENCE,
    check_annual_ridership,
    compare_annual,
    match_complexes,
    name_key,
    published_annual_ridership,
    whole_years,
)


def test_compare_annual_gives_the_system_ratio_and_the_share_within_ten_percent() -> None:
    published = {"A": 1000, "B": 2000, "C": 500, "D": 100}
    mart = {"A": 950, "B": 2300, "C": 549, "E": 51}  # A -5 %, B +15 %, C +9.8 %, D missing, E unmatched
    result = compare_annual(2015, mart, published)
    assert (result.mart_entries, result.published_entries) == (3850, 3600)
    assert result.system_ratio == pytest.approx(3850 / 3600)
    assert (result.compared, result.within) == (3, 2)
    assert result.share_within == pytest.approx(2 / 3)
    assert result.worst[0] == ("B", 2300, 2000)
    assert result.metadata()["complexes_within_10pct"] == 2


def test_exactly_ten_percent_off_is_within() -> None:
    assert compare_annual(2015, {"A": 1100}, {"A": 1000}).within == 1
    assert compare_annual(2015, {"A": 1101}, {"A": 1000}).within == 0


def test_the_published_reference_reads_as_integers_per_complex() -> None:
    published = published_annual_ridership(2015)
    assert len(published) == 421  # 429 rows, 8 without a name or a 2015 figure
    assert published["149 St-Grand Concourse [2 4 5]"] == 4424754
    # The MTA's system total for 2015 is 1,762,565,419 fare-paid entries; the complexes add up near it.
    assert sum(published.values()) == pytest.approx(1_762_565_419, rel=0.01)
    with pytest.raises(ValueError):
        published_annual_ridership(2019)


def test_names_match_across_spellings_and_only_one_to_one() -> None:
    assert name_key("59 St-Columbus Circle [1 A B C D]") == name_key("59 ST-COLUMBUS CIRCLE")
    assert name_key("Times Sq-42 St") == "TIMESSQ42ST"
    complexes = [
        "59 St-Columbus Circle [1 A B C D]",
        "167 St [4]",
        "167 St [B D]",
        "Grand Central-42 St [4 5 6 7 S]",
    ]
    stations = {"59 ST COLUMBUS": "59 ST COLUMBUS", "167 ST": "167 ST", "GRD CNTRL": "GRD CNTRL-42 ST"}
    # "59 ST COLUMBUS" starts the complex's key; "167 ST" matches two complexes: left out.
    assert match_complexes(stations, complexes) == {"59 ST COLUMBUS": "59 St-Columbus Circle [1 A B C D]"}


def build_warehouse(path: Path, year: int, days: int, per_day: dict[str, tuple[str, int]]) -> None:
    """A warehouse with the mart's two daily tables, filled by hand: ``per_day`` station -> (name, entries)."""
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "create table station_daily_ridership (service_date date, station varchar, station_name varchar, "
            "mode varchar, entries bigint)"
        )
        connection.execute(
            "create table system_daily_ridership (service_date date, mode varchar, entries bigint)"
        )
        for offset in range(days):
            day = date(year, 1, 1) + timedelta(days=offset)
            for station, (name, entries) in per_day.items():
                connection.execute(
                    "insert into station_daily_ridership values (?, ?, ?, 'subway', ?)",
                    [day, station, name, entries],
                )
            connection.execute(
                "insert into system_daily_ridership values (?, 'subway', ?)",
                [day, sum(e for _, e in per_day.values())],
            )
            # Another mode, every day of the year: neither a whole year on its own nor part of the subway.
            connection.execute(
                "insert into station_daily_ridership values (?, 'complex:907', 'PATH WTC', 'PATH', 100000)",
                [day],
            )
            connection.execute("insert into system_daily_ridership values (?, 'PATH', 100000)", [day])


def test_the_check_runs_on_whole_years_only(tmp_path: Path) -> None:
    published = published_annual_ridership(2016)
    big = published["149 St-Grand Concourse [2 4 5]"]
    small = published["138 St-Grand Concourse [4 5]"]
    per_day = {
        # 149 St at the published figure (to the day), 138 St 20 % low, one unmatched station.
        "149 ST-GRAND CONC": ("149 ST-GRAND CONCOURSE", big // 366),
        "138 ST-GRAND CONC": ("138 ST-GRAND CONCOURSE", int(small * 0.8) // 366),
        "NOWHERE": ("NOWHERE ST", 1000),
    }
    whole = tmp_path / "whole.duckdb"
    build_warehouse(whole, 2016, 366, per_day)
    partial = tmp_path / "partial.duckdb"
    build_warehouse(partial, 2016, 365, per_day)
    with duckdb.connect(str(partial), read_only=True) as connection:
        assert whole_years(connection) == []
        assert check_annual_ridership(connection) == []
    with duckdb.connect(str(whole), read_only=True) as connection:
        assert whole_years(connection) == [2016]
        (result,) = check_annual_ridership(connection, REFERENCE)
    expected_total = 366 * (big // 366 + int(small * 0.8) // 366 + 1000)
    assert result.year == 2016
    assert result.mart_entries == expected_total
    assert result.system_ratio == pytest.approx(expected_total / sum(published.values()))
    assert (result.compared, result.within) == (2, 1)
