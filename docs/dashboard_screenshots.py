"""Screenshots of each view of the ridership dashboard, in headless Chromium (docs/img/dashboard-*.png).

    .venv/bin/python docs/dashboard_screenshots.py [--out docs/img]

The warehouse is the one the dashboard's browser tests use (``mta_lake_harness/dashboard.py``):
three real MTA weeks (2017-05-27, 2023-12-30, 2024-01-06) landed, cleaned and counted by the real
``dbt build``; the lake's index snapshot names one more published week that was never landed. The
dashboard is ``python -m mta_lake.dashboard`` (what ``make dashboard`` runs), Chromium is Debian's.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mta_lake_harness.dashboard import (  # noqa: E402
    CHROMIUM_ARGS,
    DashboardServer,
    build_fixture_warehouse,
    chromium_executable,
    open_view,
)

VIEWS = {
    # name: (address, tables, charts, metrics, window height: the whole view, Streamlit scrolls inside
    # its page, so a full-page shot is the window)
    "system": ("/?from=2023-12-30&to=2024-01-12&day=2024-01-03&modes=subway,PATH", 1, 3, 4, 2000),
    "station": ("/station?station=complex:397&from=2023-12-30&to=2024-01-12", 0, 1, 8, 1150),
    "ranking": (
        "/ranking?from=2023-12-30&to=2024-01-12&before_from=2017-05-27&before_to=2017-06-02"
        "&after_from=2023-12-30&after_to=2024-01-12",
        2,
        0,
        0,
        2950,
    ),
    "quality": ("/quality", 1, 2, 4, 1600),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        raise SystemExit("needs Debian's chromium: apt-get install -y chromium")
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mta-dashboard-") as scratch:
        warehouse = build_fixture_warehouse(Path(scratch))
        server = DashboardServer(warehouse.path, warehouse.lake, Path(scratch) / "dashboard.log")
        try:
            server.wait_ready()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1700})
                for name, (address, tables, charts, metrics, height) in VIEWS.items():
                    page.set_viewport_size({"width": 1400, "height": height})
                    open_view(page, server.url + address, tables, charts, metrics)
                    time.sleep(1)  # charts finish their transitions
                    target = options.out / f"dashboard-{name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(f"saved {target}")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
