"""Benchmark: the ridership dashboard on a whole-history warehouse (issue 21).

    .venv/bin/python -m benchmarks.dashboard [--keep DIR] [--runs 3] [--intervals-millions 179]

1. A synthetic whole-history warehouse, generated directly in DuckDB with the mart's tables and columns
   (not by the mart: ``benchmarks.mart_history`` does that in minutes): ``station_daily_ridership``
   (460 stations x 2010-05-01 .. 2024-02-16, 2.3 M station-days, a mode per station from its division:
   425 subway, 13 PATH, 21 SIR, 1 tram; one station opening in 2016, ~1% of station-days with rejected
   movement), ``system_daily_ridership`` (their sums per day and mode), the seed
   ``mta_daily_ridership`` (the repo's real file, loaded as dbt loads it) and ``subway_vs_mta_daily``
   (the model's join), ``turnstile_intervals`` with the columns the dashboard reads at the history's
   size (179 M intervals, ~0.25% rejected for each counter, five reasons) and
   ``turnstile_week_last_readings`` (the weeks). Reused from ``--keep DIR`` when it is there.
2. The dashboard's extract built from it (``mta_lake.dashboard.extract``), timed.
3. Side by side, each view's queries (``mta_lake.dashboard.queries``) on the extract and, as the
   baseline, on the warehouse itself through views made of the extract's own statements (what a
   dashboard without an extract would run): median of ``--runs``.
4. The real dashboard (``python -m mta_lake.dashboard``) in headless Chromium (Debian's chromium): each
   view opened in a fresh browser context (nothing cached: a first visit) and again in the same context
   (a person moving between pages), timed from navigation until every table, chart and figure of the
   view is drawn; beside them, as the floor, a Streamlit page with one line of text, and as the
   baseline each view with charts drawn by Vega in the browser (``?charts=interactive``) instead of as
   SVG drawn on the server. The first run's first visits find nothing cached on the server either, but
   the landing page's charts, drawn when it started. Target: every view within 2 s.
5. The landing page's first visit to a server just started: as shipped (its charts drawn at start,
   ``mta_lake.dashboard.views.warm_up``) beside, as the baseline, a server started with ``--no-warm-up``.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import requests

from benchmarks.common import format_table, machine_summary, work_dir
from mta_lake.core.lake import LocalLake
from mta_lake.core.mart.dbt_project import PROJECT_DIR
from mta_lake.dashboard import queries
from mta_lake.dashboard.extract import build_extract, extract_path_for
from mta_lake_harness.dashboard import CHROMIUM_ARGS, DashboardServer, chromium_executable, wait_drawn
from mta_lake_harness.fake_gcs import free_port

TARGET_S = 2.0
STATIONS = 460
SEED_CSV = PROJECT_DIR.parent / "core" / "mart" / "reference" / "mta_daily_ridership.csv"


def build_warehouse(path: Path, intervals_millions: int) -> float:
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("set preserve_insertion_order = false")
        connection.execute(
            f"""create or replace table stations as
            select i as n,
                   case when i % 50 = 3 then '86 ST' else 'STATION ' || i end as station_name,
                   'complex:' || i as station,
                   (['123ACE', 'NQRW', 'L', '456', 'BDFM', 'G', '7'])[1 + i % 7] as line_names,
                   case when i < 425 then (['IRT', 'BMT', 'IND'])[1 + i % 3] when i < 438 then 'PTH'
                        when i < 459 then 'SRT' else 'RIT' end as division,
                   case when i < 425 then 2000 + hash(i) % 40000 else 300 + hash(i) % 5000 end as base
            from range({STATIONS}) as t(i)"""
        )
        connection.execute(
            """create or replace table station_daily_ridership as
            select d::date as service_date, s.station, s.station_name, s.line_names, s.division,
                   case s.division when 'PTH' then 'PATH' when 'SRT' then 'SIR' when 'RIT' then 'tram'
                        else 'subway' end as mode,
                   cast(s.base * (case when dayofweek(d) in (0, 6) then 0.55 else 1.0 end)
                        * (case when d >= date '2020-03-15' then 0.45 else 1.0 end)
                        * (0.9 + (hash(s.n, d) % 200) / 1000.0) as bigint) as entries,
                   cast(s.base * 0.85 * (case when dayofweek(d) in (0, 6) then 0.55 else 1.0 end)
                        * (0.9 + (hash(d, s.n) % 200) / 1000.0) as bigint) as exits,
                   cast(4 + s.n % 30 as bigint) as turnstiles_reporting,
                   cast(case when hash(s.n, d, 1) % 100 = 0 then hash(s.n, d, 2) % 100000 else 0 end as bigint)
                       as rejected_entries,
                   cast(case when hash(s.n, d, 3) % 120 = 0 then hash(s.n, d, 4) % 100000 else 0 end as bigint)
                       as rejected_exits,
                   cast(case when hash(s.n, d, 1) % 100 = 0 then 1 else 0 end as bigint) as rejected_intervals,
                   0.8 + (hash(s.n, d, 5) % 200) / 1000.0 as coverage
            from range(date '2010-05-01', date '2024-02-17', interval 1 day) as r(d) cross join stations as s
            where not (s.n = 17 and d < date '2016-01-01')"""
        )
        connection.execute(
            """create or replace table system_daily_ridership as
            select service_date, mode, cast(sum(entries) as bigint) as entries,
                   cast(sum(exits) as bigint) as exits,
                   cast(count(*) as bigint) as stations, cast(sum(turnstiles_reporting) as bigint) as turnstiles,
                   cast(sum(rejected_entries) as bigint) as rejected_entries,
                   cast(sum(rejected_exits) as bigint) as rejected_exits
            from station_daily_ridership group by service_date, mode"""
        )
        # The seed as dbt loads it (dbt_project.yml: Date as text, the figures as numbers) and the model
        # subway_vs_mta_daily's join of it with the subway's days.
        connection.execute(
            f"""create or replace table mta_daily_ridership as
            select * from read_csv('{SEED_CSV}', header = true, types = {{'Date': 'VARCHAR'}})"""
        )
        connection.execute(
            """create or replace table subway_vs_mta_daily as
            with published as (
                select strptime("Date", '%m/%d/%Y')::date as service_date,
                       "Subways: Total Estimated Ridership" as mta_subway_ridership
                from mta_daily_ridership)
            select s.service_date, s.entries as mart_entries, s.exits as mart_exits, s.stations as mart_stations,
                   cast(p.mta_subway_ridership as bigint) as mta_subway_ridership,
                   1.0 * s.entries / p.mta_subway_ridership as entries_ratio,
                   1.0 * s.exits / p.mta_subway_ridership as exits_ratio
            from system_daily_ridership as s join published as p using (service_date)
            where s.mode = 'subway' and p.mta_subway_ridership > 0"""
        )
        reasons = (
            "['long_gap', 'counter_reset', 'implausible_jump', 'against_direction', 'non_positive_duration']"
        )
        connection.execute(
            f"""create or replace table turnstile_intervals as
            select date '2010-05-01' + cast(7 * (i // 248000) as integer) as week,
                   cast(i % 248000 as bigint) as turnstile_id,
                   case when hash(i) % 400 = 0 then {reasons}[cast(1 + hash(i, 1) % 5 as integer)] end
                       as entries_rejection,
                   case when hash(i, 2) % 450 = 0 then {reasons}[cast(1 + hash(i, 3) % 5 as integer)] end
                       as exits_rejection,
                   cast(case when hash(i) % 400 = 0 then cast(hash(i, 4) % 1000000 as bigint) - 500000 else 0 end
                        as bigint) as rejected_entries_movement,
                   cast(case when hash(i, 2) % 450 = 0 then cast(hash(i, 5) % 1000000 as bigint) - 500000 else 0 end
                        as bigint) as rejected_exits_movement,
                   cast(hash(i, 6) % 300 as bigint) as counted_entries,
                   cast(hash(i, 7) % 250 as bigint) as counted_exits
            from range({intervals_millions} * 1000000) as t(i)"""
        )
        connection.execute(
            """create or replace table turnstile_week_last_readings as
            select distinct week, cast(0 as bigint) as turnstile_id from turnstile_intervals"""
        )
        connection.execute("drop table stations")
    return time.perf_counter() - started


BUSY_STATION = "complex:5"
RANGES = {
    "year": (date(2019, 1, 1), date(2019, 12, 31)),
    "other_year": (date(2023, 1, 1), date(2023, 12, 31)),
    "history": (date(2010, 5, 1), date(2024, 2, 16)),
}


def warehouse_as_views(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The baseline, a dashboard without an extract: the extract's tables as views over the warehouse
    (the very statements of ``queries.build_statements``), so the same view functions ask the warehouse."""
    connection = duckdb.connect()
    connection.execute(f"attach '{warehouse}' as wh (read_only)")
    for _, statement in queries.build_statements(queries.warehouse_shape(connection)):
        connection.execute(statement.replace("create table", "create temp view", 1))
    connection.execute(queries.LAKE_WEEKS_TABLE.replace("create table", "create temp table", 1))
    return connection


def extract_views(connection: duckdb.DuckDBPyConnection) -> dict[str, object]:
    history, year, other = RANGES["history"], RANGES["year"], RANGES["other_year"]
    modes = queries.modes(connection)
    return {
        "system": lambda: (
            queries.system_series(connection, *history, ["subway"], weekly=True),
            queries.mta_series(connection, *history, weekly=True),
            queries.ratio_series(connection, *history, weekly=True),
            queries.system_day(connection, history[1]),
            queries.mta_day(connection, history[1]),
        ),
        "station": lambda: (
            queries.station_summary(connection, BUSY_STATION, *history),
            queries.station_series(connection, BUSY_STATION, *history, weekly=True),
            queries.station_days(connection, BUSY_STATION, *history),
        ),
        "ranking": lambda: (
            queries.busiest(connection, *year, modes, "entries", 25),
            queries.biggest_changes(connection, year, other, modes, "entries", 25, 100),
        ),
        "quality": lambda: (
            queries.week_states(connection),
            queries.coverage_weekly(connection),
            queries.rejections_by_reason(connection),
            queries.rejections_weekly(connection),
        ),
    }


def median_seconds(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        if callable(getattr(result, "fetchall", None)):
            result.fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


PAGES = {
    # view: (address, tables, charts, metrics) drawn when the view is complete
    # The whole history, the subway: its chart (with the MTA's figure) and our share of the MTA's.
    "system": ("/", 1, 2, 4),
    "station": (f"/station?station={BUSY_STATION}", 0, 1, 8),
    "ranking": (
        "/ranking?from=2019-01-01&to=2019-12-31&before_from=2019-01-01&before_to=2019-12-31"
        "&after_from=2023-01-01&after_to=2023-12-31",
        2,
        0,
        0,
    ),
    # The benchmark's lake is an empty folder: every week is "unknown", so two metrics.
    "quality": ("/quality", 1, 2, 2),
}


def interactive(address: str) -> str:
    return address + ("&" if "?" in address else "?") + "charts=interactive"


EMPTY_APP = 'import streamlit as st\n\nst.caption("Answered in 0 s.")\n'
"""The floor: a Streamlit page with one line, served with the dashboard's options."""


def empty_page_server(root: Path) -> tuple[subprocess.Popen, str]:
    from mta_lake.dashboard.__main__ import streamlit_args

    app = root / "empty_app.py"
    app.write_text(EMPTY_APP)
    port = free_port()
    args = streamlit_args(port)
    args[2] = str(app)
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the empty Streamlit page did not start")


ANSWERED = re.compile(r"Answered in (\d+\.\d+) s")


def browser_times(server: DashboardServer, runs: int, empty_url: str) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        raise SystemExit("the dashboard benchmark needs Debian's chromium: apt-get install -y chromium")
    pages = {"empty Streamlit page (floor)": (empty_url + "/", 0, 0, 0)}
    pages.update({view: (server.url + address, *drawn) for view, (address, *drawn) in PAGES.items()})
    # The baseline: the same views with their charts drawn by Vega in the browser (as before the charts
    # were drawn on the server; the dashboard's "Interactive charts" switch).
    pages.update(
        {
            f"{view}, interactive charts (baseline)": (server.url + interactive(address), *drawn)
            for view, (address, *drawn) in PAGES.items()
            if drawn[1]
        }
    )
    cold: dict[str, list[float]] = {view: [] for view in pages}
    warm: dict[str, list[float]] = {view: [] for view in pages}
    server_s: dict[str, list[float]] = {view: [] for view in pages}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        for _ in range(runs):
            for view, (url, tables, charts, metrics) in pages.items():
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                for times in (cold, warm):
                    started = time.perf_counter()
                    page.goto(url)
                    try:
                        wait_drawn(page, tables, charts, metrics, timeout=120, settle=0)
                    except Exception as error:
                        raise SystemExit(
                            f"{view} was not drawn: {error}\n{page.inner_text('body')[:2000]}"
                        ) from None
                    times[view].append(time.perf_counter() - started)
                    # The server's own time for the page's script (the page's "Answered in" line).
                    answered = ANSWERED.search(page.inner_text("body"))
                    if answered and times is cold:
                        server_s[view].append(float(answered.group(1)))
                context.close()
        browser.close()
    return {
        view: {
            "first_visit_s": statistics.median(cold[view]),
            # The first run's: nothing cached in the browser nor on the server (no chart drawn yet).
            "first_run_s": cold[view][0],
            "again_s": statistics.median(warm[view]),
            "server_s": statistics.median(server_s[view]) if server_s[view] else None,
        }
        for view in pages
    }


def fresh_server_times(warehouse: Path, lake: Path, root: Path, runs: int) -> dict[str, dict[str, float]]:
    """The landing page (the system view, no address) on its first visit to a server just started, as
    shipped (``views.warm_up`` has drawn its charts) and, the baseline, started with ``--no-warm-up``:
    a new server for each visit, the two kinds alternating so that both meet the same load."""
    from playwright.sync_api import sync_playwright

    address, tables, charts, metrics = PAGES["system"]
    kinds = {"as shipped (landing page drawn at start)": (), "--no-warm-up (baseline)": ("--no-warm-up",)}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    server_s: dict[str, list[float]] = {kind: [] for kind in kinds}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        for _ in range(runs):
            for kind, args in kinds.items():
                server = DashboardServer(warehouse, lake, root / "dashboard-fresh.log", args=args)
                try:
                    server.wait_ready()
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(server.url + address)
                    wait_drawn(page, tables, charts, metrics, timeout=120, settle=0)
                    times[kind].append(time.perf_counter() - started)
                    answered = ANSWERED.search(page.inner_text("body"))
                    if answered:
                        server_s[kind].append(float(answered.group(1)))
                    context.close()
                finally:
                    server.stop()
        browser.close()
    return {
        kind: {
            "first_visit_s": statistics.median(times[kind]),
            "server_s": statistics.median(server_s[kind]) if server_s[kind] else float("nan"),
        }
        for kind in kinds
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the synthetic warehouse in this folder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--intervals-millions", type=int, default=179)
    options = parser.parse_args()
    print(machine_summary(), flush=True)
    with work_dir(options.keep) as root:
        warehouse = root / "warehouse" / "mta.duckdb"
        if warehouse.exists():
            print(f"reusing {warehouse}", flush=True)
        else:
            print(
                f"warehouse generated in {build_warehouse(warehouse, options.intervals_millions):.1f} s",
                flush=True,
            )
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            (station_days,) = connection.execute("select count(*) from station_daily_ridership").fetchone()
            (intervals,) = connection.execute("select count(*) from turnstile_intervals").fetchone()
        extract_path = extract_path_for(warehouse)
        extract_path.unlink(missing_ok=True)
        lake = root / "lake"
        lake.mkdir(exist_ok=True)
        built = build_extract(warehouse, extract_path, LocalLake(str(lake)))
        print(
            f"{station_days:,} station-days, {intervals:,} intervals; warehouse "
            f"{warehouse.stat().st_size / 1e6:.0f} MB, extract {extract_path.stat().st_size / 1e6:.0f} MB "
            f"built in {built.seconds:.1f} s",
            flush=True,
        )
        rows = []
        with (
            duckdb.connect(str(extract_path), read_only=True) as extract,
            warehouse_as_views(warehouse) as direct,
        ):
            ours, baseline = extract_views(extract), extract_views(direct)
            for view in ours:
                on_extract = median_seconds(ours[view], options.runs)
                on_warehouse = median_seconds(baseline[view], options.runs)
                rows.append([view, on_extract, on_warehouse, on_warehouse / on_extract])
        print("\nqueries of each view (median of runs), the extract beside the warehouse itself:")
        print(format_table(["view", "extract s", "warehouse s (baseline)", "baseline / extract"], rows))
        server = DashboardServer(warehouse, lake, root / "dashboard.log")
        empty, empty_url = empty_page_server(root)
        try:
            server.wait_ready()
            pages = browser_times(server, options.runs, empty_url)
        finally:
            server.stop()
            os.killpg(empty.pid, signal.SIGTERM)
            empty.wait(timeout=30)
        # The floor's first visit beside each view's: a ratio that the machine's load changes less than
        # the seconds (the machine is shared; both pay Streamlit's client code and the load alike).
        floor = pages["empty Streamlit page (floor)"]["first_visit_s"]
        page_rows = [
            [
                view,
                times["first_visit_s"],
                times["first_run_s"],
                times["again_s"],
                times["first_visit_s"] / floor,
                "-" if times["server_s"] is None else times["server_s"],
                "yes" if max(times["first_visit_s"], times["first_run_s"]) <= TARGET_S else "NO",
                "yes" if times["again_s"] <= TARGET_S else "NO",
            ]
            for view, times in pages.items()
        ]
        print("\nheadless Chromium, navigation until every table, chart and figure is drawn (median):")
        print(
            format_table(
                [
                    "view",
                    "first visit s",
                    "run 1's first visit s",
                    "again s",
                    "first / floor's first",
                    "server s (first)",
                    f"first <= {TARGET_S:.0f} s",
                    f"again <= {TARGET_S:.0f} s",
                ],
                page_rows,
            )
        )
        print("\ninteractive charts (the baseline) over the server's pictures, first visit:")
        for view in PAGES:
            baseline = pages.get(f"{view}, interactive charts (baseline)")
            if baseline:
                print(f"  {view}: {baseline['first_visit_s'] / pages[view]['first_visit_s']:.2f}")
        fresh = fresh_server_times(warehouse, lake, root, options.runs)
        baseline = fresh["--no-warm-up (baseline)"]["first_visit_s"]
        print("\nthe system view's first visit to a server just started (median; a new server each visit):")
        print(
            format_table(
                ["server", "first visit s", "server s", "baseline / this"],
                [
                    [kind, times["first_visit_s"], times["server_s"], baseline / times["first_visit_s"]]
                    for kind, times in fresh.items()
                ],
            )
        )
        print(machine_summary(), flush=True)
        print(json.dumps({"extract_s": built.seconds, "pages": pages, "fresh_server": fresh}))


if __name__ == "__main__":
    sys.exit(main())
