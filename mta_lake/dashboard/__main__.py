"""``python -m mta_lake.dashboard [--port N] [--refresh-only] [--no-warm-up]``: the dashboard on http://127.0.0.1:PORT.

Refreshes the extract first if the warehouse changed and draws the landing page's charts
(``views.warm_up``), so that the first page is quick; prints the address, then runs Streamlit in this
process with everything that would reach the internet turned off (usage statistics) and the server
bound to 127.0.0.1. The warehouse and the lake are the settings'
(``MTA_WAREHOUSE_PATH``, ``MTA_LAKE_URL``).
"""

import argparse
import sys
from pathlib import Path

from mta_lake.core.lake import open_lake
from mta_lake.core.settings import Settings
from mta_lake.dashboard import views
from mta_lake.dashboard.extract import Outcome, extract_path_for, refresh

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501

STREAMLIT_OPTIONS = {
    # Nothing leaves the machine: no usage statistics (Streamlit's default would load a tracker).
    "browser.gatherUsageStats": "false",
    "server.headless": "true",
    "server.address": "127.0.0.1",
    # The app's code does not change under a running dashboard; no watcher threads.
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "client.toolbarMode": "minimal",
    # A bare string in the script is text, not something to draw on the page.
    "runner.magicEnabled": "false",
    "client.showErrorDetails": "full",
    "theme.base": "light",
    "global.developmentMode": "false",
}


def streamlit_args(port: int) -> list[str]:
    """The ``streamlit run`` command line of the dashboard."""
    options = [f"--{name}={value}" for name, value in {**STREAMLIT_OPTIONS, "server.port": port}.items()]
    return ["streamlit", "run", str(APP), *options]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mta_lake.dashboard", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--refresh-only", action="store_true", help="refresh the extract, then exit")
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="serve at once, without drawing the landing page's charts first (its first visit then draws them)",
    )
    options = parser.parse_args(argv)
    settings = Settings.from_env()
    if settings.warehouse_target == "bigquery":
        # Not built yet: the extract's statements are DuckDB SQL over the DuckDB file (see queries.py).
        print(
            "dashboard: MTA_WAREHOUSE_TARGET=bigquery: the dashboard reads the DuckDB warehouse only",
            flush=True,
        )
        return 2
    warehouse = Path(settings.warehouse_path).resolve()
    result = refresh(warehouse, extract_path_for(warehouse), open_lake(settings))
    if result.outcome == Outcome.BUILT:
        print(f"dashboard: copied what it shows from {warehouse} in {result.seconds:.1f} s", flush=True)
    elif result.outcome != Outcome.FRESH:
        print(f"dashboard: {result.message}", flush=True)
    if options.refresh_only:
        return 0 if result.outcome in (Outcome.BUILT, Outcome.FRESH) else 1
    if not options.no_warm_up:
        # Streamlit runs in this process: the first visit finds vl-convert started and its charts drawn.
        views.warm_up(extract_path_for(warehouse))
    print(f"dashboard: open http://127.0.0.1:{options.port} (Ctrl-C stops it)", flush=True)
    from streamlit.web import cli

    sys.argv = streamlit_args(options.port)
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
