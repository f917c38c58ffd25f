"""The dashboard while the warehouse changes under it, and on a warehouse without the MTA's seed yet.

Each test has its own copy of the session's warehouse and its own dashboard server (a few seconds each).
"""

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mta_lake_harness.dashboard import (
    DashboardServer,
    FixtureWarehouse,
    metric,
    open_view,
    whole,
)
from mta_lake_tests.dashboard.test_extract import HOLD_FOR_WRITING, drop_mta_seed

pytestmark = pytest.mark.browser

STATION, START, END = "complex:611", date(2024, 1, 1), date(2024, 1, 7)


@pytest.fixture
def server_on_copy(
    fixture_warehouse: FixtureWarehouse, tmp_path: Path
) -> Iterator[Callable[..., DashboardServer]]:
    servers: list[DashboardServer] = []

    def start(shape: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> DashboardServer:
        path = tmp_path / "warehouse" / "mta.duckdb"
        path.parent.mkdir()
        shutil.copy(fixture_warehouse.path, path)
        if shape is not None:
            with duckdb.connect(str(path)) as connection:
                shape(connection)
        server = DashboardServer(path, fixture_warehouse.lake, tmp_path / "dashboard.log")
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


def reload_until(page, url: str, condition: Callable[[], bool], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while True:
        open_view(page, url, charts=1, metrics=8)
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never showed what was expected:\n{page.inner_text('body')[:1500]}")
        time.sleep(1)


def test_while_a_mart_run_writes_the_page_answers_from_the_last_copy_then_shows_the_new_figures(
    page, server_on_copy
) -> None:
    dashboard = server_on_copy()
    url = f"{dashboard.url}/station?station={STATION}&from={START}&to={END}"
    open_view(page, url, charts=1, metrics=8)
    before = whole(metric(page, "Exits"))
    # A writer holds the warehouse as a mart run does (the advisory lock and DuckDB's own) and has
    # changed one station-day; the page still answers, says why its figures are older, and shows them.
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOR_WRITING, str(dashboard.warehouse), "advisory"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        reload_until(page, url, lambda: "The warehouse is being written" in page.inner_text("body"))
        assert whole(metric(page, "Exits")) == before
    finally:
        writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    # The run is over: the next pages refresh the copy, and show the written figures.
    with duckdb.connect(str(dashboard.warehouse), read_only=True) as connection:
        (expected,) = connection.execute(
            "select sum(exits) from station_daily_ridership where station = ? and service_date between ? and ?",
            [STATION, START, END],
        ).fetchone()
    assert expected == before + 7  # one more exit on each of the 7 days
    reload_until(page, url, lambda: whole(metric(page, "Exits")) == expected)
    assert "The warehouse is being written" not in page.inner_text("body")


def test_without_the_mta_seed_the_system_page_draws_ours_and_says_why(page, server_on_copy) -> None:
    dashboard = server_on_copy(drop_mta_seed)
    day = date(2024, 1, 3)
    open_view(
        page, f"{dashboard.url}/?from=2023-12-30&to=2024-01-12&day={day}", tables=1, charts=1, metrics=4
    )
    body = page.inner_text("body")
    assert "is not in the warehouse yet: only the mart's own figures are drawn" in body
    assert "Our subway as a share of the MTA's published figure" not in body
    assert metric(page, f"MTA published on {day}") == "-"
    with duckdb.connect(str(dashboard.warehouse), read_only=True) as connection:
        (exits,) = connection.execute(
            "select exits from system_daily_ridership where service_date = ? and mode = 'subway'", [day]
        ).fetchone()
    assert whole(metric(page, f"Subway exits on {day}")) == exits
