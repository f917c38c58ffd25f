"""The ridership dashboard: a Streamlit script (``python -m mta_lake.dashboard`` runs it).

Four pages, each a function below: the system per day and mode beside the MTA's published figure,
one station's days, the busiest stations and the biggest changes, and data quality. Every figure comes
from the extract (``mta_lake.dashboard.extract``) through ``mta_lake.dashboard.queries``; charts are in
``mta_lake.dashboard.charts``, and which the system view draws in ``mta_lake.dashboard.views``. A page's inputs are in its address (``?station=...&from=...``), so a
view can be bookmarked or linked.
"""

import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from mta_lake.core import reconcile
from mta_lake.core.settings import Settings
from mta_lake.dashboard import charts, queries, views
from mta_lake.dashboard.extract import Outcome, Refresher, being_written


@st.cache_resource
def refresher() -> Refresher:
    settings = Settings.from_env()
    return Refresher(Path(settings.warehouse_path).resolve(), settings.lake_url)


def connect() -> duckdb.DuckDBPyConnection | None:
    # A connection per page, never one kept: DuckDB keeps one database per path in a process, so a
    # connection left open would keep the pages on the old extract after a refresh renames a new one over it.
    path = refresher().extract_path
    if not path.exists():
        return None
    return duckdb.connect(str(path), read_only=True)


def number(value: float | int | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{round(value):,}"


def status_banner(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Where the figures come from, as of when; whether the warehouse is being written."""
    info = queries.info(connection)
    keeper = refresher()
    st.sidebar.caption(f"Warehouse `{info['warehouse_path']}`, copied {info['built_at'].replace('T', ' ')}.")
    if keeper.running:
        st.sidebar.info("The warehouse changed: refreshing the dashboard's copy. Reload in a few seconds.")
    elif being_written(keeper.warehouse_path) or (
        keeper.last is not None and keeper.last.outcome == Outcome.BUSY
    ):
        st.warning(
            "The warehouse is being written (a mart run): these figures are as of "
            f"{info['built_at'].replace('T', ' ')}; they refresh when the run ends."
        )
    return info


def address_date(name: str, default: date, bounds: tuple[date, date]) -> date:
    """A date from the page's address (``?name=YYYY-MM-DD``), kept within ``bounds``; else ``default``."""
    try:
        chosen = date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return default
    return min(max(chosen, bounds[0]), bounds[1])


def date_input(label: str, name: str, default: date, bounds: tuple[date, date], container=st) -> date:
    """A date input whose value is also in the page's address (``?name=...``), so a view can be linked."""
    value = container.date_input(
        label, value=address_date(name, default, bounds), min_value=bounds[0], max_value=bounds[1], key=name
    )
    st.query_params[name] = value.isoformat()
    return value


def date_range(bounds: tuple[date, date], default_days: int | None, prefix: str = "") -> tuple[date, date]:
    """A from/to pair of date inputs (``from``/``to`` in the address, or ``<prefix>from``...)."""
    first, last = bounds
    start_default = max(first, last - timedelta(days=default_days)) if default_days else first
    left, right = st.columns(2)
    start = date_input("From", f"{prefix}from", start_default, bounds, left)
    end = date_input("To", f"{prefix}to", last, bounds, right)
    if start > end:
        st.error(f"From ({start}) is after To ({end}).")
        st.stop()
    return start, end


def modes_input(available: list[str], default: list[str], container=st) -> list[str]:
    """Modes to show, also in the page's address (``?modes=subway,PATH``); none chosen means all."""
    asked = [mode for mode in st.query_params.get("modes", "").split(",") if mode in available]
    chosen = container.multiselect("Modes", available, default=asked or default, key="modes") or available
    st.query_params["modes"] = ",".join(chosen)
    return chosen


MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|$~])")
FIGURE = re.compile(r"^[+-]?[\d,.]+%?$|^-$")


def table(frame: pd.DataFrame) -> None:
    """A table as Markdown: drawn with the page's text, where ``st.table`` first fetches 0.8 MB of code
    (0.9 s more on a page's first visit, benchmarks/RESULTS.md section 8). Figures right-aligned."""

    def cell(value: object) -> str:
        return MARKDOWN_SPECIALS.sub(r"\\\1", str(value))

    right = [
        pd.api.types.is_numeric_dtype(frame[column]) or frame[column].astype(str).str.match(FIGURE).all()
        for column in frame.columns
    ]
    lines = [
        "| " + " | ".join(cell(column) for column in frame.columns) + " |",
        "|" + "|".join("---:" if aligned else ":---" for aligned in right) + "|",
    ]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    st.markdown("\n".join(lines))


def interactive_charts_toggle() -> None:
    """The sidebar's "Interactive charts" switch, also in the page's address (``?charts=interactive``)."""
    asked = st.query_params.get("charts") == "interactive"
    on = st.sidebar.toggle(
        "Interactive charts",
        value=asked,
        key="interactive_charts",
        help="Hover for each figure, zoom and pan: the charts are then drawn by your browser, which "
        "first fetches Vega's code (0.8 MB): a first visit takes longer.",
    )
    if on:
        st.query_params["charts"] = "interactive"
    else:
        st.query_params.pop("charts", None)


@st.cache_data(max_entries=200, show_spinner=False)
def chart_svg(name: str, *args: object) -> str:
    """The SVG of the chart ``charts.<name>(*args)``, kept for the next visit asking the same (the key
    is the chart's name and its data: a new extract or another range draws anew). A visit that finds it
    builds no specification (0.1-0.3 s of the server's time for the system view)."""
    return charts.to_svg(charts.svg_spec(getattr(charts, name), *args))


def draw(make: Callable[..., alt.TopLevelMixin], *args: object) -> None:
    """The chart ``make(*args)`` (a function of ``charts``): as SVG drawn on the server, shown as an image
    (inside the page, as a data address: no code for the browser to fetch, nothing to parse but the
    picture), or drawn by Vega in the browser when "Interactive charts" is on (``charts`` says why both)."""
    if st.session_state.get("interactive_charts"):
        chart = make(*args)
        with charts.ALTAIR_DATA_LOCK:
            st.altair_chart(chart, width="stretch")
    else:
        st.image(chart_svg(make.__name__, *args), width="stretch")


def timing(started: float) -> None:
    st.caption(f"Answered in {time.perf_counter() - started:.2f} s.", help="server time for this page")


def mta_note(info: dict[str, str], connection: duckdb.DuckDBPyConnection, shown: bool) -> None:
    """Why the MTA's published figure is not drawn, when it is not."""
    if info["mta_published"] != "True":
        st.info(
            "The MTA's published daily ridership (the dbt seed mta_daily_ridership, loaded with the mart) "
            "is not in the warehouse yet: only the mart's own figures are drawn."
        )
    elif not shown:
        first, last = queries.mta_bounds(connection)
        st.caption(
            f"The MTA's published daily subway figure covers {first} .. {last}; choose the subway and a "
            "range within it to see it beside ours."
        )


# -- pages ----------------------------------------------------------------------------------------


def system_page() -> None:
    started = time.perf_counter()
    st.title("The system, per service day")
    with connect() as connection:
        info = status_banner(connection)
        bounds = queries.date_bounds(connection)
        if bounds is None:
            st.warning("The warehouse has no ridership yet.")
            return
        available = queries.modes(connection)
        start, end = date_range(bounds, None)
        chosen = modes_input(available, views.default_modes(available))
        # The view opened as it is by default (the whole history, the subway) finds its charts drawn
        # when the dashboard started (views.warm_up).
        view = views.system_view(connection, start, end, chosen, available)
        for chart in view.mode_charts:
            if chart.heading:
                st.markdown(chart.heading)
            draw(chart.make, *chart.args)
        mta_note(info, connection, not view.mta.empty)
        if not view.ratios.empty:
            st.subheader("Our subway as a share of the MTA's published figure")
            st.caption(
                "The mart's subway entries and exits over the MTA's \"Subways: Total Estimated Ridership\" "
                "(model subway_vs_mta_daily). From 2020 the entry registers miss about half of the riders "
                "the MTA counts (OMNY); exits track its estimate."
            )
            draw(charts.ratio_chart, view.ratios)
        st.subheader("One day")
        day = date_input("Day", "day", end, bounds)
        figures = queries.system_day(connection, day)
        published = queries.mta_day(connection, day)
        if figures.empty:
            st.warning(f"No ridership on {day}: the warehouse holds {bounds[0]} .. {bounds[1]}, with gaps.")
        else:
            row = figures[figures["mode"] == "subway"]
            entries, exits = (row["entries"].iloc[0], row["exits"].iloc[0]) if len(row) else (None, None)
            columns = st.columns(4)
            columns[0].metric(f"Subway entries on {day}", number(entries))
            columns[1].metric(f"Subway exits on {day}", number(exits))
            columns[2].metric(f"MTA published on {day}", number(published))
            columns[3].metric(
                "Subway exits / MTA published",
                f"{exits / published:.2f}" if published and exits is not None else "-",
            )
            total = pd.DataFrame(
                [{"mode": "all modes", **figures[["entries", "exits", "stations"]].sum().to_dict()}]
            )
            every = pd.concat([figures, total], ignore_index=True)
            table(
                pd.DataFrame(
                    {
                        "Mode": every["mode"],
                        "Entries": every["entries"].map(number),
                        "Exits": every["exits"].map(number),
                        "Stations": every["stations"].map(number),
                    }
                )
            )
    timing(started)


def station_label(row: pd.Series) -> str:
    """``86 ST · lines 456 · IRT · key complex:397``: the lines tell stations of one name apart, the key
    is the mart's (the same in SQL); a mode other than the subway is named."""
    label = f"{row.station_name} · lines {row.line_names or '?'} · {row.division or '?'}"
    if row.mode != "subway":
        label += f" · {row.mode}"
    return label + f" · key {row.station}"


def station_page() -> None:
    started = time.perf_counter()
    st.title("A station")
    with connect() as connection:
        status_banner(connection)
        bounds = queries.date_bounds(connection)
        if bounds is None:
            st.warning("The warehouse has no ridership yet.")
            return
        options = queries.station_options(connection)
        labels = {row.station: station_label(row) for row in options.itertuples()}
        keys = list(labels)
        asked = st.query_params.get("station")
        station = st.selectbox(
            "Station (type part of its name; stations of one name show their lines and key)",
            keys,
            index=keys.index(asked) if asked in labels else None,
            format_func=labels.get,
            placeholder="Search by name",
            key="station",
        )
        if station is not None:
            st.query_params["station"] = station
        start, end = date_range(bounds, None)
        if station is None:
            st.caption(f"{len(labels):,} stations; pick one.")
            timing(started)
            return
        chosen = options[options["station"] == station].iloc[0]
        st.subheader(chosen.station_name)
        st.caption(
            f"Lines {chosen.line_names or '?'} · division {chosen.division or '?'} · mode "
            f"{chosen['mode']} · key `{station}` · reported "
            f"{chosen.first_date:%Y-%m-%d} .. {chosen.last_date:%Y-%m-%d}"
        )
        summary = queries.station_summary(connection, station, start, end)
        if not summary["days"]:
            st.warning(f"No days of this station between {start} and {end}.")
            timing(started)
            return
        top = st.columns(4)
        top[0].metric("Entries", number(summary["entries"]))
        top[1].metric("Exits", number(summary["exits"]))
        top[2].metric("Days", number(summary["days"]))
        top[3].metric("Coverage", f"{summary['coverage']:.1%}" if pd.notna(summary["coverage"]) else "-")
        averages = st.columns(4)
        averages[0].metric("Weekday entries (average)", number(summary["weekday_entries"]))
        averages[1].metric("Weekday exits (average)", number(summary["weekday_exits"]))
        averages[2].metric("Weekend entries (average)", number(summary["weekend_entries"]))
        averages[3].metric("Weekend exits (average)", number(summary["weekend_exits"]))
        if summary["low_coverage_days"]:
            st.caption(
                f"{summary['low_coverage_days']} day(s) with coverage under 50%: their counts are undercounts."
            )
        weekly = (end - start).days > views.WEEKLY_AFTER_DAYS
        draw(charts.station_chart, queries.station_series(connection, station, start, end, weekly), weekly)
        extract_path = refresher().extract_path

        def every_day() -> str:
            # Made when the button is pressed (the page's connection is closed by then).
            with duckdb.connect(str(extract_path), read_only=True) as later:
                return queries.station_days(later, station, start, end).to_csv(index=False)

        st.download_button(
            f"Every day as CSV ({int(summary['days']):,} rows)",
            every_day,
            file_name=f"{chosen.station_name}_{start}_{end}.csv".replace(" ", "_").replace("/", "-"),
            mime="text/csv",
        )
    timing(started)


def ranking_page() -> None:
    started = time.perf_counter()
    st.title("Busiest stations, and the biggest changes")
    with connect() as connection:
        status_banner(connection)
        bounds = queries.date_bounds(connection)
        if bounds is None:
            st.warning("The warehouse has no ridership yet.")
            return
        available = queries.modes(connection)
        counters = ["entries", "exits"]
        asked = st.query_params.get("by")
        left, right = st.columns(2)
        by = left.radio(
            "Rank by", counters, index=counters.index(asked) if asked in counters else 0, horizontal=True
        )
        st.query_params["by"] = by
        chosen = modes_input(available, available, right)
        st.subheader("Busiest stations")
        start, end = date_range(bounds, 365)
        busiest = queries.busiest(connection, start, end, chosen, by, 25)
        table(
            pd.DataFrame(
                {
                    "Rank": busiest["rank"],
                    "Station": busiest["station_name"],
                    "Lines": busiest["line_names"],
                    "Mode": busiest["mode"],
                    "Entries": busiest["entries"].map(number),
                    "Exits": busiest["exits"].map(number),
                    "Days": busiest["days"],
                    "Key": busiest["station"],
                }
            )
        )
        st.subheader("Biggest changes between two ranges (average day)")
        left, right = st.columns(2)
        with left:
            st.caption("Before")
            before = date_range(bounds, 365, prefix="before_")
        with right:
            st.caption("After")
            after = date_range(bounds, 365, prefix="after_")
        changes = queries.biggest_changes(connection, before, after, chosen, by, 25, min_daily=100)
        if changes.empty:
            st.info("No station reported in both ranges.")
        else:
            share = changes["change_share"].map(lambda value: f"{value:+.1%}" if pd.notna(value) else "-")
            shown = pd.DataFrame(
                {
                    "Station": changes["station_name"],
                    "Lines": changes["line_names"],
                    "Mode": changes["mode"],
                    f"{by.capitalize()} a day, before": changes["before_daily"].map(number),
                    "after": changes["after_daily"].map(number),
                    "Change": changes["change_daily"].map(lambda value: f"{value:+,.0f}"),
                    "Change %": share,
                    "Days before": changes["before_days"],
                    "Days after": changes["after_days"],
                    "Key": changes["station"],
                }
            )
            table(shown)
    timing(started)


def quality_page() -> None:
    started = time.perf_counter()
    st.title("Data quality")
    with connect() as connection:
        info = status_banner(connection)
        states = queries.week_states(connection)
        st.subheader("Weeks: the lake against the MTA's index")
        st.caption(f"From {info['lake_source']}.")
        if states.empty:
            st.warning("The lake could not be listed: no week states.")
        else:
            counts = states.groupby("state").size()
            columns = st.columns(max(len(counts), 1) + 1)
            for column, (state, count) in zip(columns, counts.items(), strict=False):
                column.metric(f"Weeks {state.replace('_', ' ')}", f"{count:,}")
            not_in_warehouse = states[(states["state"] == "landed") & ~states["in_warehouse"]]
            columns[-1].metric("Landed, not in the warehouse", f"{len(not_in_warehouse):,}")
            lines = []
            for state, label in WEEK_STATE_LABELS.items():
                keys = [f"{week:%Y-%m-%d}" for week in states.loc[states["state"] == state, "week"]]
                if keys:
                    lines.append(f"- **{label}** ({len(keys):,}): {reconcile.format_weeks(keys, limit=40)}")
            if len(not_in_warehouse):
                keys = [f"{week:%Y-%m-%d}" for week in not_in_warehouse["week"]]
                lines.append(
                    f"- **landed, not in the warehouse yet** ({len(keys):,}): {reconcile.format_weeks(keys)}"
                )
            st.markdown("\n".join(lines))
        st.subheader("Coverage per week")
        st.caption("Counted turnstile-hours over reporting turnstile-hours, weighted by turnstiles.")
        coverage = queries.coverage_weekly(connection)
        draw(charts.coverage_chart, coverage)
        st.subheader("Rejected movements by reason")
        if info["intervals"] != "True":
            st.info("The warehouse has no turnstile_intervals: no rejections to show.")
        else:
            reasons = queries.rejections_by_reason(connection)
            st.caption(
                "Each counter movement the mart did not count, by its reason (the rules are in "
                "mta_lake/warehouse/dbt_project.yml); movement is the size of the jump, in counter units."
            )
            table(
                pd.DataFrame(
                    {
                        "Counter": reasons["counter"],
                        "Reason": reasons["reason"],
                        "Rejected intervals": reasons["intervals"].map(number),
                        "Of all intervals": reasons["share"].map(
                            lambda share: f"{share:.4%}" if pd.notna(share) else "-"
                        ),
                        "Movement": reasons["movement"].map(number),
                    }
                )
            )
            draw(charts.rejections_chart, queries.rejections_weekly(connection))
    timing(started)


WEEK_STATE_LABELS = {
    "missing": "missing (published, not in the lake)",
    "lost": "lost (recorded by Dagster, gone from the lake)",
    "not_published": "not published by the MTA",
    "unknown": "unknown (no snapshot of the MTA's index: missing or not published)",
}


def main() -> None:
    # No icons (page_icon, st.Page's icon): Streamlit makes the page's icon the favicon, and a Material
    # icon as a favicon is fetched from fonts.gstatic.com. The default favicon is served by the dashboard.
    st.set_page_config(page_title="MTA ridership", layout="wide")
    keeper = refresher()
    if not keeper.extract_path.exists():
        with st.spinner(f"Copying what the dashboard shows out of {keeper.warehouse_path} (once)..."):
            keeper.poke(wait=None)
    else:
        keeper.poke()
    if not keeper.extract_path.exists():
        message = keeper.last.message if keeper.last else ""
        st.error(f"No dashboard data: {message or 'the warehouse could not be read'}.")
        st.stop()
    pages = [
        st.Page(system_page, title="System", default=True),
        st.Page(station_page, title="Station", url_path="station"),
        st.Page(ranking_page, title="Busiest and changes", url_path="ranking"),
        st.Page(quality_page, title="Data quality", url_path="quality"),
    ]
    interactive_charts_toggle()
    st.navigation(pages).run()


main()
