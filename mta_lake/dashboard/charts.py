"""The dashboard's charts: Vega-Lite specifications written with Altair.

To change a chart, change its function here (Altair's ``mark_*`` and ``encode``); the data it gets is a
DataFrame from ``mta_lake.dashboard.queries``. A chart reaches the page one of two ways (``app.draw``):

- by default as SVG drawn on the server (``to_svg``: vl-convert runs Vega-Lite in a JavaScript engine
  inside its wheel). The browser only shows a picture: Vega's code (0.8 MB) never has to be fetched and
  run, which was most of a first visit (benchmarks/RESULTS.md section 8);
- with "Interactive charts" on, by Vega in the browser (Streamlit ships Vega, Vega-Lite and vega-embed
  inside its package): hover for each figure, zoom.

Neither loads anything from the internet: the specifications hold their data inline, and vl-convert is
told to fetch from no address.
"""

import functools
import json
import re
import threading
from collections.abc import Callable
from datetime import date

import altair as alt
import pandas as pd
import vl_convert

SVG_WIDTH = 900
"""The width a server-drawn chart is laid out at, in pixels; the page scales it to its column (the SVG
keeps its viewBox), so text stays in proportion on any screen."""
VEGA_LITE_VERSION = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
"""The Vega-Lite that Altair writes for (6.4 for Altair 6.3), which vl-convert draws with."""
_SVG_SIZE = re.compile(r'^(<svg[^>]*?) width="[\d.]+" height="[\d.]+"')

# Every channel is an object (alt.X, alt.Detail, alt.Tooltip...), never a bare string ("day:T"): Altair
# turns a string into a channel by hashing its whole schema first, about 10 ms of CPU a string; with
# strings the system view's two charts took 0.23 s of the server's CPU, with objects under 0.1 s.

ERAS = (
    (date(2014, 10, 11), "new file format"),
    (date(2019, 5, 31), "OMNY begins"),
    (date(2020, 3, 15), "pandemic"),
    (date(2023, 1, 1), "exits > entries"),
)
"""Days where what the counters mean changed, marked on the system chart: the MTA's file format (station
names from the week of 2014-10-11), OMNY's first gates (riders who tap pass no turnstile entry register),
the pandemic (the mart's era bands start on 2020-03-15), and the era in which exits run well above entries
(the mart's exit/entry band from 2023)."""

COLORS = {"entries": "#1f77b4", "exits": "#ff7f0e", "MTA published": "#2ca02c"}


def counter_colors(counters: list[str]) -> alt.Scale:
    """The same color for a counter on every chart; the legend lists only the counters drawn."""
    shown = [counter for counter in COLORS if counter in counters]
    return alt.Scale(domain=shown, range=[COLORS[counter] for counter in shown])


def time_axis(periods: pd.Series) -> alt.Axis:
    """The date axis for ``periods``: Vega's own ticks put noons between the days of a short range and,
    over a few years of weeks, fell every four months from March and so never showed a year."""
    span_days = (pd.to_datetime(periods).max() - pd.to_datetime(periods).min()).days if len(periods) else 0
    if span_days <= 16:
        return alt.Axis(tickCount="day")
    if span_days > 3 * 365:
        return alt.Axis(tickCount="year", format="%Y")
    return alt.Axis()


def with_runs(frame: pd.DataFrame, column: str, step_days: int) -> pd.DataFrame:
    """``frame`` with ``run``: rows of consecutive periods (``step_days`` apart) share a run, and a chart
    draws one path per run (``detail``), so a line breaks where weeks are missing instead of joining 2017
    to 2023 with a straight line."""
    periods = pd.Series(sorted(pd.to_datetime(frame[column]).unique()))
    runs = (periods.diff() != pd.Timedelta(days=step_days)).cumsum()
    return frame.assign(run=pd.to_datetime(frame[column]).map(dict(zip(periods, runs, strict=True))))


def _eras(start: date, end: date) -> alt.LayerChart | None:
    shown = pd.DataFrame(
        [
            {"day": pd.Timestamp(day), "era": label, "row": 8 + 13 * (index % 2)}
            for index, (day, label) in enumerate(ERAS)
            if start <= day <= end
        ]
    )
    if shown.empty:
        return None
    rule = alt.Chart(shown).mark_rule(strokeDash=[4, 4], color="#888").encode(x=alt.X("day:T"))
    text = (
        alt.Chart(shown)
        .mark_text(align="left", dx=3, dy=-6, color="#555", fontSize=11)
        .encode(x=alt.X("day:T"), y=alt.Y("row:Q", scale=None), text=alt.Text("era:N"))
    )
    return rule + text


def system_chart(
    series: pd.DataFrame, mta: pd.DataFrame, start: date, end: date, weekly: bool, height: int = 360
) -> alt.Chart:
    """One mode's entries and exits per day (or average day of each week), the MTA's published figure
    beside them (``mta``: the subway's, or empty)."""
    long = series.melt(["period", "mode"], ["entries", "exits"], var_name="counter", value_name="riders")
    if not mta.empty:
        mta_long = mta.rename(columns={"mta_subway": "riders"}).assign(counter="MTA published", mode="subway")
        long = pd.concat([long, mta_long[["period", "mode", "counter", "riders"]]], ignore_index=True)
    label = "average day of the week" if weekly else "service day"
    long = with_runs(long, "period", 7 if weekly else 1)
    lines = (
        alt.Chart(long)
        .mark_line(strokeWidth=1.2, point=long["period"].nunique() <= 60)
        .encode(
            detail=alt.Detail("run:N"),
            x=alt.X("period:T", title=label, axis=time_axis(series["period"])),
            y=alt.Y("riders:Q", title="riders", axis=alt.Axis(format="~s")),
            color=alt.Color("counter:N", scale=counter_colors(list(long["counter"].unique())), title=None),
            tooltip=[
                alt.Tooltip("period:T", title=label),
                alt.Tooltip("mode:N"),
                alt.Tooltip("counter:N"),
                alt.Tooltip("riders:Q", format=",.0f"),
            ],
        )
    )
    eras = _eras(start, end)
    chart = lines + eras if eras is not None else lines
    return chart.properties(height=height)


def ratio_chart(ratios: pd.DataFrame) -> alt.Chart:
    """Our subway entries and exits as a share of the MTA's published figure, per day or week
    (``queries.ratio_series``)."""
    long = ratios.melt(["period"], ["entries", "exits"], var_name="counter", value_name="ratio")
    weekly = len(ratios) > 1 and ratios["period"].diff().min().days >= 7
    long = with_runs(long, "period", 7 if weekly else 1)
    return (
        alt.Chart(long)
        .mark_line(strokeWidth=1.2, point=len(ratios) <= 60)
        .encode(
            detail=alt.Detail("run:N"),
            x=alt.X("period:T", title=None, axis=time_axis(ratios["period"])),
            y=alt.Y("ratio:Q", title="ours / MTA published"),
            color=alt.Color("counter:N", scale=counter_colors(["entries", "exits"]), title=None),
            tooltip=[alt.Tooltip("period:T"), alt.Tooltip("counter:N"), alt.Tooltip("ratio:Q", format=".3f")],
        )
        .properties(height=200)
    )


def station_chart(days: pd.DataFrame, weekly: bool) -> alt.Chart:
    """A station's entries and exits per day (or average day of each week)."""
    long = days.melt(["service_date"], ["entries", "exits"], var_name="counter", value_name="riders")
    long = with_runs(long, "service_date", 7 if weekly else 1)
    return (
        alt.Chart(long)
        .mark_line(strokeWidth=1.2, point=len(days) <= 60)
        .encode(
            detail=alt.Detail("run:N"),
            x=alt.X(
                "service_date:T",
                title="average day of the week" if weekly else "service day",
                axis=time_axis(days["service_date"]),
            ),
            y=alt.Y("riders:Q", title="riders", axis=alt.Axis(format="~s")),
            color=alt.Color("counter:N", scale=counter_colors(["entries", "exits"]), title=None),
            tooltip=[
                alt.Tooltip("service_date:T"),
                alt.Tooltip("counter:N"),
                alt.Tooltip("riders:Q", format=",.0f"),
            ],
        )
        .properties(height=320)
    )


def coverage_chart(coverage: pd.DataFrame) -> alt.Chart:
    # Lines, not bars: 720 weeks of bars are thousands of SVG shapes, slow to draw. Broken where weeks
    # are missing from the warehouse (with_runs); points when there are few weeks.
    return (
        alt.Chart(with_runs(coverage, "week", 7))
        .mark_line(point=len(coverage) <= 60)
        .encode(
            x=alt.X("week:T", title="week"),
            y=alt.Y(
                "coverage:Q", title="coverage", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            detail=alt.Detail("run:N"),
            tooltip=[
                alt.Tooltip("week:T"),
                alt.Tooltip("coverage:Q", format=".1%"),
                alt.Tooltip("stations:Q"),
            ],
        )
        .properties(height=200)
    )


def rejections_chart(rejections: pd.DataFrame) -> alt.Chart:
    """Rejected intervals per week, one line per reason (``queries.rejections_weekly``: 0 in a week
    without one), broken where weeks are missing. Lines, not stacked areas: a lone week's area has no
    width, and an area joins 2017 to 2023 across the weeks not in the warehouse."""
    return (
        alt.Chart(with_runs(rejections, "week", 7))
        .mark_line(point=rejections["week"].nunique() <= 60, strokeWidth=1.2)
        .encode(
            x=alt.X("week:T", title="week"),
            y=alt.Y("intervals:Q", title="rejected intervals"),
            color=alt.Color("reason:N", title="reason"),
            detail=alt.Detail("run:N"),
            tooltip=[alt.Tooltip("week:T"), alt.Tooltip("reason:N"), alt.Tooltip("intervals:Q", format=",")],
        )
        .properties(height=220)
    )


def _inline_rows(data: object) -> dict:
    """Altair's data transformer for server-drawn charts: a DataFrame's rows written by pandas (its JSON
    writer, in C), dates as ISO text as Altair writes them. Altair's own (sanitize, then a dict per row,
    then a deep copy) took 0.15 s of the 0.25 s the whole-history system chart cost before drawing."""
    if not isinstance(data, pd.DataFrame):
        return alt.data_transformers.get("default")(data)
    return {"values": json.loads(data.to_json(orient="records", date_format="iso"))}


alt.data_transformers.register("mta_lake_inline", _inline_rows)
ALTAIR_DATA_LOCK = threading.Lock()
"""Altair's data transformer is one setting for the process, and Streamlit serves each page in its own
thread: ``svg_spec`` and the interactive charts (``app.draw``) take this lock while they use it."""


def svg_spec(make: Callable[..., alt.TopLevelMixin], *args: object, width: int = SVG_WIDTH) -> str:
    """The Vega-Lite specification (JSON, data inline) of the chart ``make(*args)``, laid out ``width``
    pixels wide, for ``to_svg``. Not validated against Vega-Lite's schema (0.06 s a chart): the same
    specifications are validated when drawn interactively, and the dashboard's tests draw every view."""
    with ALTAIR_DATA_LOCK, alt.data_transformers.enable("mta_lake_inline"):
        return make(*args).properties(width=width).to_json(indent=None, validate=False)


@functools.lru_cache(maxsize=32)
def to_svg(spec: str) -> str:
    """A Vega-Lite specification (``svg_spec``) drawn as SVG that scales to its container (no fixed
    size: the viewBox keeps the proportions). Only the data inside the specification is used:
    vl-convert may fetch from no address. Kept per specification: what ``views.warm_up`` draws when the
    dashboard starts is what the first visit gets (the pages keep their own pictures: ``app.chart_svg``)."""
    svg = vl_convert.vegalite_to_svg(spec, vl_version=VEGA_LITE_VERSION, allowed_base_urls=[])
    return _SVG_SIZE.sub(r'\1 style="width: 100%; height: auto"', svg, count=1)


def warm_up() -> None:
    """Start vl-convert's JavaScript engine and load Altair's chart code (about 1.5 s, once per process)
    before the first page needs them: a chart like the pages' (lines over dates, the eras layered)."""
    days = pd.DataFrame({"period": pd.date_range("2019-05-01", periods=60), "mode": "subway"})
    series = days.assign(entries=1, exits=1)
    to_svg(
        svg_spec(system_chart, series, pd.DataFrame(), date(2019, 5, 1), date(2019, 6, 29), False, width=200)
    )
