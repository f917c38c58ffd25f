"""The dashboard's harness (its tests, its benchmark, the screenshots): a small real warehouse, the
dashboard's server, headless Chromium.

- ``build_fixture_warehouse``: three real MTA weeks (the 2017-05-27 sample and the complete weeks of
  2023-12-30 and 2024-01-06, ``mta_lake_tests/fixtures/mta``) landed in a lake folder, cleaned by the
  clean layer's own code, and counted by the real ``dbt build --full-refresh`` into a DuckDB file; plus
  the index snapshot the ``watch_mta_index`` sensor would keep, naming one published week that is not in
  the lake (``MISSING_WEEK``).
- ``DashboardServer``: ``python -m mta_lake.dashboard`` on a free port, as ``make dashboard`` runs it.
- ``chromium_executable``: Debian's ``chromium``; in CI (``CI=true``) a missing one fails the tests with
  the line that says how to install it, never a skip.
"""

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import requests

from mta_lake.core import weeks
from mta_lake.core.cleaning import CleanFailure, RunCleaning
from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake.core.mart.dbt_project import Warehouse, full_rebuild_args, run_dbt
from mta_lake.core.source_state import IndexSnapshot, write_snapshot
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.paths import FIXTURES

WEEKS = {
    date(2017, 5, 27): FIXTURES / "raw" / "turnstile_170603.txt",
    date(2023, 12, 30): FIXTURES / "weeks" / "turnstile_240106.txt.gz",
    date(2024, 1, 6): FIXTURES / "weeks" / "turnstile_240113.txt.gz",
}
MISSING_WEEK = date(2023, 12, 23)
"""Published (in the index snapshot) but never landed: the quality page lists it as missing."""
NOW = datetime(2024, 1, 20, 12, tzinfo=UTC)
"""The clock of the lake's week states (weeks after it do not exist yet)."""

INSTALL_CHROMIUM = (
    "the dashboard's browser tests need Debian's chromium: apt-get install -y chromium (as root)"
)


@dataclass(frozen=True)
class FixtureWarehouse:
    lake: Path
    path: Path
    """The DuckDB warehouse the real dbt build wrote."""
    seconds: float


def build_fixture_warehouse(root: Path) -> FixtureWarehouse:
    started = time.perf_counter()
    lake = LocalLake(str(root / "lake"))
    for week, source in WEEKS.items():
        data = source.read_bytes() if source.suffix == ".gz" else gzip.compress(source.read_bytes())
        with lake.writer(raw_key(weeks.file_name(weeks.week_end(week)))) as pending:
            pending.write(data)
    keys = [week.isoformat() for week in WEEKS]
    failures = [report for report in RunCleaning(keys, lake) if isinstance(report, CleanFailure)]
    assert not failures, failures
    published = sorted(weeks.week_end(week) for week in [*WEEKS, MISSING_WEEK])
    write_snapshot(lake, IndexSnapshot(file_dates=tuple(published)))
    warehouse = Warehouse(
        lake_url=str(lake.root), path=root / "warehouse" / "mta.duckdb", work_dir=root / "dbt"
    )
    completed = run_dbt(warehouse, full_rebuild_args(warehouse))
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    return FixtureWarehouse(lake.root, warehouse.path, time.perf_counter() - started)


def chromium_executable() -> str | None:
    """Debian's chromium, or None (the caller skips, or fails in CI)."""
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class DashboardServer:
    """``python -m mta_lake.dashboard --port N [args]`` in its own process group, stopped with SIGTERM."""

    def __init__(self, warehouse: Path, lake: Path, log: Path, args: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.warehouse = warehouse
        self.log_path = log
        env = {key: value for key, value in os.environ.items() if not key.startswith("MTA_")}
        env.update(MTA_WAREHOUSE_PATH=str(warehouse), MTA_LAKE_URL=str(lake), HOME=str(log.parent))
        self._log = open(log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mta_lake.dashboard", "--port", str(self.port), *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the dashboard exited {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/_stcore/health", timeout=2).text == "ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the dashboard did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


# -- reading a page ---------------------------------------------------------------------------------


CHART = "[data-testid=stVegaLiteChart] .marks, [data-testid=stImage] img"
"""A chart: the server's picture (``app.draw``: an SVG image) or, interactive, one Vega has drawn."""
TABLE = "[data-testid=stMarkdownContainer] table"
"""A table of the dashboard (Markdown, ``app.table``)."""


def wait_drawn(
    page: object, tables: int = 0, charts: int = 0, metrics: int = 0, timeout: float = 30, settle: float = 0.3
) -> None:
    """Wait until the page's script has run to its end ("Answered in") and the browser has drawn
    ``tables`` tables, ``charts`` charts and ``metrics`` metrics (Streamlit loads the code of each kind
    of element on first use, so they appear after the script has ended)."""
    # Drawn, and still so ``settle`` seconds later: a rerun (Streamlit may run a page's script twice on
    # load) starts within that time, and its figures replace the first run's.
    page.wait_for_function(  # type: ignore[attr-defined]
        """([tables, charts, chart, metrics, settle, TABLE]) => {
            const app = document.querySelector('[data-testid=stApp]');
            const drawn = app && app.getAttribute('data-test-script-state') === 'notRunning'
                && document.body.innerText.includes('Answered in')
                && document.querySelectorAll(TABLE).length >= tables
                && document.querySelectorAll(chart).length >= charts
                && document.querySelectorAll('[data-testid=stMetricValue]').length >= metrics;
            if (!drawn) { window.__drawnSince = undefined; return false; }
            window.__drawnSince = window.__drawnSince || performance.now();
            return performance.now() - window.__drawnSince >= settle;
        }""",
        arg=[tables, charts, CHART, metrics, settle * 1000, TABLE],
        timeout=timeout * 1000,
        polling=100,
    )


def open_view(page: object, url: str, tables: int = 0, charts: int = 0, metrics: int = 0) -> None:
    """Load a view and wait until it is drawn (see ``wait_drawn``)."""
    page.goto(url)  # type: ignore[attr-defined]
    wait_drawn(page, tables, charts, metrics)


def metric(page: object, label: str) -> str:
    """The value shown by the metric whose label is exactly ``label``."""
    metrics = page.get_by_test_id("stMetric")  # type: ignore[attr-defined]
    found = []
    for index in range(metrics.count()):
        box = metrics.nth(index)
        name = box.get_by_test_id("stMetricLabel").inner_text().strip()
        found.append(name)
        if name == label:
            return box.get_by_test_id("stMetricValue").inner_text().strip()
    raise AssertionError(f"no metric {label!r} on the page; there are {found}")


def whole(text: str) -> int:
    """'1,234,567' -> 1234567."""
    return int(text.replace(",", ""))


def table_rows(page: object, index: int = 0) -> list[dict[str, str]]:
    """The rows of the ``index``-th table on the page, as {column header: cell text}."""
    table = page.locator(TABLE).nth(index)  # type: ignore[attr-defined]
    headers = [cell.strip() for cell in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        rows.append(dict(zip(headers, cells, strict=False)))
    return rows
