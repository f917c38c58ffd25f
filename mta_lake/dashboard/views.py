"""What the system view draws for a range and its modes, and drawing the landing page before anyone asks.

Plain Python (no Streamlit): ``app.system_page`` lays these charts out; ``warm_up`` draws the landing
page's (the system view as it opens: the whole history, the subway) when the dashboard starts, with the
same arguments, so the first visit finds its pictures drawn. A first visit to a server just started
otherwise spent 0.65 s of its script drawing them with a cold JavaScript engine, against 0.1 s once
drawn (benchmarks/RESULTS.md section 8).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import altair as alt
import duckdb
import pandas as pd

from mta_lake.dashboard import charts, queries

WEEKLY_AFTER_DAYS = 400
"""Ranges longer than this are drawn as the average day of each week (a line of 5,000 days is a blur,
and slow to draw); the figures in the tables stay daily."""


@dataclass(frozen=True)
class Chart:
    """One chart of a view: ``make(*args)``, a function of ``charts``, under ``heading`` if any."""

    make: Callable[..., alt.TopLevelMixin]
    args: tuple[object, ...]
    heading: str | None = None


@dataclass(frozen=True)
class SystemView:
    """The system view for a range and its modes: a chart per mode (the MTA's published subway figure on
    the subway's), and our subway over the MTA's figure (empty without the subway or the seed)."""

    mode_charts: list[Chart]
    mta: pd.DataFrame
    ratios: pd.DataFrame
    weekly: bool

    @property
    def charts(self) -> list[Chart]:
        ratio = [Chart(charts.ratio_chart, (self.ratios,))] if not self.ratios.empty else []
        return self.mode_charts + ratio


def default_modes(available: list[str]) -> list[str]:
    """The modes the view opens with: the subway (the MTA publishes its figure), else every mode."""
    return ["subway"] if "subway" in available else available


def system_view(
    connection: duckdb.DuckDBPyConnection, start: date, end: date, chosen: list[str], available: list[str]
) -> SystemView:
    weekly = (end - start).days > WEEKLY_AFTER_DAYS
    series = queries.system_series(connection, start, end, chosen, weekly)
    subway = "subway" in chosen
    mta = queries.mta_series(connection, start, end, weekly) if subway else pd.DataFrame()
    # One chart per mode, each on its own scale (the subway's days are 30 times PATH's, 500 times the
    # tram's): the MTA's published subway figure on the subway's.
    mode_charts = []
    for mode in [mode for mode in available if mode in chosen]:
        beside = mta if mode == "subway" else pd.DataFrame()
        height = 360 if mode == "subway" or len(chosen) == 1 else 220
        args = (series[series["mode"] == mode], beside, start, end, weekly, height)
        mode_charts.append(Chart(charts.system_chart, args, f"**{mode}**" if len(chosen) > 1 else None))
    ratios = queries.ratio_series(connection, start, end, weekly) if subway else pd.DataFrame()
    return SystemView(mode_charts, mta, ratios, weekly)


def landing_charts(connection: duckdb.DuckDBPyConnection) -> list[Chart]:
    """The charts of the page a visit opens on: the system view with no address (the whole history, the
    default modes). Empty when the warehouse has no ridership yet."""
    bounds = queries.date_bounds(connection)
    if bounds is None:
        return []
    available = queries.modes(connection)
    return system_view(connection, *bounds, default_modes(available), available).charts


def warm_up(extract: Path) -> int:
    """Start vl-convert and draw the landing page's charts as its first visit will ask for them (into
    ``charts.to_svg``'s cache); the number drawn. Nothing to draw (no extract, no ridership): vl-convert
    is still started."""
    drawn = 0
    if extract.exists():
        with duckdb.connect(str(extract), read_only=True) as connection:
            landing = landing_charts(connection)
        for chart in landing:
            charts.to_svg(charts.svg_spec(chart.make, *chart.args))
            drawn += 1
    if not drawn:
        charts.warm_up()
    return drawn
