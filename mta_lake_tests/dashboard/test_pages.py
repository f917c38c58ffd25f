"""Each view of the dashboard loaded in headless Chromium, its figures read off the page and compared
with SQL on the same warehouse (the real ``dbt build`` over three real MTA weeks, ``mta_lake_harness/dashboard.py``).

One server and one browser for the module; every page is checked to load nothing from outside the
machine (the ``page`` fixture)."""

import base64
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mta_lake.dashboard import charts, views
from mta_lake.dashboard.extract import extract_path_for
from mta_lake_harness.dashboard import (
    MISSING_WEEK,
    WEEKS,
    DashboardServer,
    FixtureWarehouse,
    metric,
    open_view,
    table_rows,
    wait_drawn,
    whole,
)

pytestmark = pytest.mark.browser

DAY = date(2024, 1, 3)


@pytest.fixture(scope="module")
def warehouse(fixture_warehouse: FixtureWarehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(fixture_warehouse.path), read_only=True) as connection:
        yield connection


def test_the_system_page_shows_a_days_figures_by_mode_beside_the_mtas_as_in_the_warehouse(
    page, dashboard: DashboardServer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    open_view(page, f"{dashboard.url}/?day={DAY}", tables=1, charts=2, metrics=4)
    by_mode = {
        mode: (entries, exits, stations)
        for mode, entries, exits, stations in warehouse.execute(
            "select mode, entries, exits, stations from system_daily_ridership where service_date = ?", [DAY]
        ).fetchall()
    }
    assert set(by_mode) == {"subway", "PATH", "SIR", "tram"}
    entries, exits, _ = by_mode["subway"]
    assert whole(metric(page, f"Subway entries on {DAY}")) == entries > 1_000_000
    assert whole(metric(page, f"Subway exits on {DAY}")) == exits > 1_000_000
    shown = {
        row["Mode"]: (whole(row["Entries"]), whole(row["Exits"]), whole(row["Stations"]))
        for row in table_rows(page, 0)
    }
    assert shown == {
        **by_mode,
        "all modes": tuple(sum(column) for column in zip(*by_mode.values(), strict=True)),
    }
    # The MTA's published figure that day, as the seed has it and as the comparison model sets it beside ours.
    (published,) = warehouse.execute(
        """select "Subways: Total Estimated Ridership" from mta_daily_ridership
           where strptime("Date", '%m/%d/%Y')::date = ?""",
        [DAY],
    ).fetchone()
    (exits_ratio,) = warehouse.execute(
        "select exits_ratio from subway_vs_mta_daily where service_date = ?", [DAY]
    ).fetchone()
    assert whole(metric(page, f"MTA published on {DAY}")) == published > 2_000_000
    assert metric(page, "Subway exits / MTA published") == f"{exits_ratio:.2f}"
    body = page.inner_text("body")
    assert "Our subway as a share of the MTA's published figure" in body
    assert "not in the warehouse yet" not in body


def test_charts_are_pictures_drawn_by_the_server_unless_interactive_charts_are_asked_for(
    page, dashboard: DashboardServer
) -> None:
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    open_view(page, f"{dashboard.url}/", tables=1, charts=2, metrics=4)
    pictures = page.get_by_test_id("stImage").locator("img")
    assert pictures.count() == 2 and page.get_by_test_id("stVegaLiteChart").count() == 0
    # Each an SVG drawn by the server, inside the page (a data address: nothing more to fetch).
    source = pictures.first.get_attribute("src")
    assert source.startswith("data:image/svg+xml;base64,"), source[:80]
    drawn = base64.b64decode(source.split(",", 1)[1]).decode()
    # The whole range (2017 to 2024): the eras it spans are marked; the MTA's figure is in the legend.
    assert "OMNY begins" in drawn and "pandemic" in drawn and "MTA published" in drawn, drawn[:500]
    assert "new file format" not in drawn  # 2014: before the range
    # Vega's code (its chart element and vega-embed's 0.8 MB) is never fetched: most of a first visit.
    vega_code = [url for url in fetched if "VegaLiteChart" in url or "/embed." in url]
    assert fetched and vega_code == [], vega_code
    # Asked for in the address (the sidebar's switch writes it there): Vega draws them in the browser.
    open_view(page, f"{dashboard.url}/?charts=interactive", tables=1, charts=2, metrics=4)
    assert page.get_by_test_id("stVegaLiteChart").count() == 2
    assert page.get_by_test_id("stImage").count() == 0
    assert [url for url in fetched if "VegaLiteChart" in url], "no Vega code fetched for interactive charts"


def test_the_landing_page_shows_the_charts_drawn_when_the_server_started(
    page, dashboard: DashboardServer, fixture_warehouse: FixtureWarehouse
) -> None:
    # python -m mta_lake.dashboard draws the system view as it opens (views.warm_up: the whole history,
    # the subway) before it serves: the first visit finds them drawn only if the page, opened with no
    # address, asks for exactly those charts.
    with duckdb.connect(str(extract_path_for(fixture_warehouse.path)), read_only=True) as connection:
        landing = views.landing_charts(connection)
    warmed = [charts.to_svg(charts.svg_spec(chart.make, *chart.args)) for chart in landing]
    assert len(warmed) == 2  # the subway beside the MTA's figure, and our share of the MTA's
    open_view(page, f"{dashboard.url}/", tables=1, charts=2, metrics=4)
    sources = (
        page.get_by_test_id("stImage").locator("img").evaluate_all("pictures => pictures.map(p => p.src)")
    )
    shown = [base64.b64decode(source.split(",", 1)[1]).decode() for source in sources]
    assert shown == warmed


def test_a_station_found_by_name_among_several_of_that_name_shows_its_totals(
    page, dashboard: DashboardServer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    open_view(page, f"{dashboard.url}/station")
    page.get_by_test_id("stSelectbox").first.click()
    page.keyboard.type("86 ST")
    options = page.get_by_role("option")
    options.first.wait_for()
    labels = options.all_inner_texts()
    # Five stations are named 86 ST in these weeks: each option tells them apart by lines and key.
    named = [label for label in labels if label.startswith("86 ST ·")]
    assert len(named) == 5 and len(set(named)) == 5, labels
    lines = {label.split(" · ")[1] for label in named}
    assert lines == {"lines 456", "lines 1", "lines BC", "lines R", "lines N"}, named
    options.filter(has_text="86 ST · lines 456 ·").click()
    wait_drawn(page, charts=1, metrics=8)
    station = page.url.split("station=")[1].split("&")[0].replace("%3A", ":")
    (name, lines), *others = warehouse.execute(
        "select distinct station_name, line_names from station_daily_ridership where station = ?", [station]
    ).fetchall()
    assert (name, lines, others) == ("86 ST", "456", [])
    entries, exits, days, weekday, weekend = warehouse.execute(
        """select sum(entries), sum(exits), count(*),
                  avg(entries) filter (where dayofweek(service_date) between 1 and 5),
                  avg(entries) filter (where dayofweek(service_date) in (0, 6))
           from station_daily_ridership where station = ?""",
        [station],
    ).fetchone()
    assert whole(metric(page, "Entries")) == entries > 0
    assert whole(metric(page, "Exits")) == exits > 0
    assert whole(metric(page, "Days")) == days
    assert whole(metric(page, "Weekday entries (average)")) == round(weekday)
    assert whole(metric(page, "Weekend entries (average)")) == round(weekend)


def test_a_station_and_range_given_in_the_address_show_that_ranges_total(
    page, dashboard: DashboardServer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    station, start, end = "complex:611", date(2024, 1, 1), date(2024, 1, 7)
    open_view(page, f"{dashboard.url}/station?station={station}&from={start}&to={end}", charts=1, metrics=8)
    entries, days = warehouse.execute(
        """select sum(entries), count(*) from station_daily_ridership
           where station = ? and service_date between ? and ?""",
        [station, start, end],
    ).fetchone()
    assert whole(metric(page, "Entries")) == entries > 100_000
    assert whole(metric(page, "Days")) == days == 7
    first, last = warehouse.execute(
        "select min(service_date), max(service_date) from station_daily_ridership where station = ?",
        [station],
    ).fetchone()
    body = page.inner_text("body")
    assert "TIMES SQ-42 ST" in body
    assert f"mode subway · key {station} · reported {first} .. {last}" in body
    # The days as CSV, made when the button is pressed.
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").get_by_text("Every day as CSV (7 rows)").click()
    rows = Path(download.value.path()).read_text().splitlines()
    header, days_rows = rows[0].split(","), [row.split(",") for row in rows[1:]]
    assert header[:3] == ["service_date", "entries", "exits"] and len(days_rows) == 7
    assert sum(int(row[1]) for row in days_rows) == entries


def test_the_busiest_stations_and_the_biggest_changes_are_the_warehouses(
    page, dashboard: DashboardServer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    before, after = (date(2017, 5, 27), date(2017, 6, 2)), (date(2023, 12, 30), date(2024, 1, 12))
    open_view(
        page,
        f"{dashboard.url}/ranking?from={after[0]}&to={after[1]}&before_from={before[0]}&before_to={before[1]}"
        f"&after_from={after[0]}&after_to={after[1]}",
        tables=2,
    )
    busiest = warehouse.execute(
        """select station, sum(entries) from station_daily_ridership where service_date between ? and ?
           group by station order by 2 desc, station limit 3""",
        list(after),
    ).fetchall()
    shown = table_rows(page, 0)
    assert [(row["Key"], whole(row["Entries"])) for row in shown[:3]] == busiest
    assert len(shown) == 25
    # The biggest change of the average day, recomputed here from the station-days.
    daily = warehouse.execute(
        """with ranges as (
               select station,
                      avg(entries) filter (where service_date between ?1 and ?2) as before_daily,
                      avg(entries) filter (where service_date between ?3 and ?4) as after_daily
               from station_daily_ridership group by station)
           select station, round(after_daily - before_daily) from ranges
           where before_daily is not null and after_daily is not null
             and greatest(before_daily, after_daily) >= 100
           order by abs(after_daily - before_daily) desc limit 1""",
        [*before, *after],
    ).fetchone()
    first_change = table_rows(page, 1)[0]
    assert (first_change["Key"], whole(first_change["Change"].lstrip("+"))) == daily


def test_the_quality_page_counts_weeks_and_rejections_as_the_lake_and_warehouse_do(
    page, dashboard: DashboardServer, warehouse: duckdb.DuckDBPyConnection
) -> None:
    open_view(page, f"{dashboard.url}/quality", tables=1, charts=2, metrics=3)
    assert whole(metric(page, "Weeks landed")) == len(WEEKS)
    assert whole(metric(page, "Weeks missing")) == 1
    assert whole(metric(page, "Landed, not in the warehouse")) == 0
    body = page.inner_text("body")
    assert MISSING_WEEK.isoformat() in body
    rejected = warehouse.execute(
        """select 'entries', entries_rejection, count(*) from turnstile_intervals
           where entries_rejection is not null group by all
           union all
           select 'exits', exits_rejection, count(*) from turnstile_intervals
           where exits_rejection is not null group by all"""
    ).fetchall()
    shown = {(row["Counter"], row["Reason"]): whole(row["Rejected intervals"]) for row in table_rows(page, 0)}
    assert shown == {(counter, reason): count for counter, reason, count in rejected}
    assert {"long_gap", "counter_reset"} <= {reason for _, reason in shown}
    (all_intervals,) = warehouse.execute("select count(*) from turnstile_intervals").fetchone()
    shares = {(row["Counter"], row["Reason"]): row["Of all intervals"] for row in table_rows(page, 0)}
    assert shares[("entries", "long_gap")] == f"{shown[('entries', 'long_gap')] / all_intervals:.4%}"
