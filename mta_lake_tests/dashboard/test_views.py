"""What the dashboard draws before anyone asks (``mta_lake.dashboard.views.warm_up``), on the session's
warehouse (the real ``dbt build`` over three real MTA weeks). No browser: that the landing page shows
exactly these pictures is ``test_pages.py::test_the_landing_page_shows_the_charts_drawn_when_the_server_started``."""

from pathlib import Path

import duckdb

from mta_lake.core.lake import LocalLake
from mta_lake.dashboard import charts, views
from mta_lake.dashboard.extract import Outcome, build_extract
from mta_lake_harness.dashboard import NOW, FixtureWarehouse


def test_the_warm_up_draws_the_landing_pages_charts_so_the_first_visit_draws_none(
    fixture_warehouse: FixtureWarehouse, tmp_path: Path
) -> None:
    extract = tmp_path / "mta.dashboard.duckdb"
    built = build_extract(fixture_warehouse.path, extract, LocalLake(str(fixture_warehouse.lake)), now=NOW)
    assert built.outcome == Outcome.BUILT
    charts.to_svg.cache_clear()
    assert views.warm_up(extract) == 2  # the subway beside the MTA's figure, and our share of it
    with duckdb.connect(str(extract), read_only=True) as connection:
        landing = views.landing_charts(connection)
    assert [chart.make for chart in landing] == [charts.system_chart, charts.ratio_chart]
    for chart in landing:
        charts.to_svg(charts.svg_spec(chart.make, *chart.args))
    drawn = charts.to_svg.cache_info()
    assert (drawn.misses, drawn.hits) == (2, 2)


def test_without_an_extract_the_warm_up_draws_nothing_and_still_starts_the_chart_engine(
    tmp_path: Path,
) -> None:
    charts.to_svg.cache_clear()
    assert views.warm_up(tmp_path / "no.dashboard.duckdb") == 0
    assert charts.to_svg.cache_info().misses == 1  # charts.warm_up's small chart
