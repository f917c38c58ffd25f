"""``mta-lake ridership`` on the real weeks' warehouse (``conftest.py``: ``real_marts``): names that tie,
a list cut short, an empty range, CSV and JSON, bad arguments, and a writer to wait for (a process holding
the warehouse's lock, and one holding DuckDB's own lock, as dbt run by hand would)."""

import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mta_lake.tools.cli import main

PENN = "34 ST-PENN"


@pytest.fixture(scope="module")
def warehouse(real_marts: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the rebuilt warehouse (the tests here lock it and open it for writing)."""
    copy = tmp_path_factory.mktemp("ridership") / "mta.duckdb"
    shutil.copy(real_marts["rebuilt_path"], copy)
    return copy


@pytest.fixture
def cli(warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("MTA_WAREHOUSE_PATH", str(warehouse))

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(["ridership", *args])
        except SystemExit as exit:  # argparse's own errors
            code = exit.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def query(warehouse: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def test_names_that_tie_are_listed_with_their_ids_and_lines_and_how_to_pick(cli, warehouse: Path) -> None:
    stations = query(
        warehouse,
        """select station, arg_max(line_names, service_date) from station_daily_ridership
           where station_name = '34 ST-PENN STA' group by 1 order by 1""",
    )
    assert len(stations) == 2  # two complexes, one name
    code, out, err = cli(PENN)
    assert (code, out) == (2, "")
    assert f"2 stations match {PENN!r}:" in err
    for station, lines in stations:
        (line,) = [line for line in err.splitlines() if line.strip().startswith(station + " ")]
        assert "34 ST-PENN STA" in line and f"lines {lines}" in line
    assert "pick one by its id, for example: mta-lake ridership complex:" in err
    # Picking one by its id answers.
    code, out, _ = cli(stations[0][0], "--from", "2024-01-08", "--to", "2024-01-09")
    assert code == 0 and out.startswith(f"34 ST-PENN STA ({stations[0][0]}; lines {stations[0][1]}; subway)")


def test_a_cut_list_says_so(cli, warehouse: Path) -> None:
    (matching,) = query(
        warehouse,
        """select count(distinct station) from station_daily_ridership
           where regexp_replace(upper(station || ' ' || station_name), '[^A-Z0-9]', '', 'g') like '%ST%'""",
    )[0]
    code, _, err = cli("st")
    assert code == 2 and matching > 20
    assert f"{matching} stations match 'st' (the first 20 of {matching}: narrow the search):" in err
    assert len([line for line in err.splitlines() if line.startswith("  ")]) == 20


def test_the_days_and_their_totals(cli, warehouse: Path) -> None:
    (station,) = query(
        warehouse,
        "select distinct station from station_daily_ridership where station_name = '34 ST-HERALD SQ'",
    )[0]
    rows = query(
        warehouse,
        """select service_date, entries, exits from station_daily_ridership
           where station = ? and service_date between '2024-01-06' and '2024-01-12' order by 1""",
        station,
    )
    code, out, _ = cli("herald sq", "--from", "2024-01-06", "--to", "2024-01-12")
    assert code == 0
    lines = out.splitlines()
    for (day, entries, exits), line in zip(rows, lines[2:9], strict=True):
        assert line.split() == [day.isoformat(), f"{entries:,}", f"{exits:,}", "1.00"] or line.startswith(
            day.isoformat()
        )
        assert f"{entries:,}" in line and f"{exits:,}" in line
    assert lines[9].split()[:3] == ["total", f"{sum(r[1] for r in rows):,}", f"{sum(r[2] for r in rows):,}"]
    assert "exits track the MTA's own figure" in lines[10]


def test_csv_and_json_for_analysts(cli, warehouse: Path) -> None:
    rows = query(
        warehouse,
        """select station, service_date, entries, exits from station_daily_ridership
           where station_name = '34 ST-HERALD SQ' and service_date between '2024-01-08' and '2024-01-10' order by 2""",
    )
    code, out, _ = cli("34 ST-HERALD SQ", "--from", "2024-01-08", "--to", "2024-01-10", "--format", "csv")
    assert code == 0
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [(r["station"], r["service_date"], int(r["entries"]), int(r["exits"])) for r in parsed] == [
        (station, day.isoformat(), entries, exits) for station, day, entries, exits in rows
    ]
    code, out, _ = cli("34 ST-HERALD SQ", "--from", "2024-01-08", "--to", "2024-01-10", "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["station"] == rows[0][0] and document["mode"] == "subway"
    assert [day["entries"] for day in document["days"]] == [row[2] for row in rows]
    assert document["total"] == {
        "entries": sum(r[2] for r in rows),
        "exits": sum(r[3] for r in rows),
        "days": 3,
    }


def test_an_empty_range_says_which_dates_exist(cli, warehouse: Path) -> None:
    (station,) = query(
        warehouse,
        "select distinct station from station_daily_ridership where station_name = '34 ST-HERALD SQ'",
    )[0]
    days = [
        row[0]
        for row in query(
            warehouse,
            "select distinct service_date from station_daily_ridership where station = ? order by 1",
            station,
        )
    ]
    ranges: list[list[date]] = []
    for day in days:
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    assert len(ranges) > 1  # the 2017 sample's week and the two 2024 weeks
    code, out, err = cli(station, "--from", "2020-01-01", "--to", "2020-01-31")
    assert (code, out) == (2, "")
    assert (
        "in 2020-01-01 .. 2020-01-31: the warehouse has " + ", ".join(f"{a} .. {b}" for a, b in ranges) in err
    )
    assert "total 0" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["x", "--from", "2024-13-01"],
        ["x", "--to", "yesterday"],
        ["x", "--from", "2024-01-10", "--to", "2024-01-09"],
        ["x", "--format", "xml"],
        [],
    ],
)
def test_bad_arguments_exit_2(cli, args: list[str]) -> None:
    code, out, err = cli(*args)
    assert (code, out) == (2, "") and err.strip()


HOLD_LOCK = """
import sys, time
from pathlib import Path
from mta_lake.core.mart.lock import hold
with hold(Path(sys.argv[1]), exclusive=True, timeout=5, what="a mart run"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""

HOLD_DUCKDB = """
import sys, time
import duckdb
connection = duckdb.connect(sys.argv[1])  # read-write: DuckDB's own lock, no mart lock
print("held", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


@pytest.fixture
def holder(warehouse: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []

    def start(script: str, seconds: float) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(warehouse), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait()


@pytest.mark.parametrize("script", [HOLD_LOCK, HOLD_DUCKDB], ids=["mart-lock", "duckdb-lock"])
def test_a_query_during_a_write_waits_says_so_then_answers(cli, holder, script: str) -> None:
    process = holder(script, 1.5)
    code, out, err = cli("complex:318", "--from", "2024-01-08", "--to", "2024-01-08")
    assert process.poll() is not None  # it answered after the writer was done
    assert code == 0 and "2024-01-08" in out
    assert len([line for line in err.splitlines() if "waiting" in line]) == 1
    assert "Conflicting lock" not in err


def test_a_writer_holding_on_past_the_wait_is_exit_3(cli, holder, monkeypatch: pytest.MonkeyPatch) -> None:
    holder(HOLD_LOCK, 30)
    monkeypatch.setenv("MTA_MART_LOCK_TIMEOUT_SECONDS", "0.5")
    code, out, err = cli("complex:318")
    assert (code, out) == (3, "")
    assert "waited 0.5 s" in err and "a mart run (pid" in err
