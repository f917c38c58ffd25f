"""The Dagster UI as a newcomer sees it, in headless Chromium: the asset graph, the partitions, the mart's pages.

    .venv/bin/python docs/ui_screenshots.py [--out docs/img]

What it runs (everything real, offline):

- an MTA mirror on 127.0.0.1 serving the ten weeks up to 2024-01-06 but three, which it withholds
  (never published): the repo's two full weeks (2023-12-30 and 2024-01-06, ``mta_lake_tests/fixtures/mta``)
  as themselves, the five others as copies of them;
- the real ``dagster dev`` on the repo's ``dagster.yaml`` (a fresh DAGSTER_HOME and lake folder), its
  ``watch_mta_index`` sensor making the seven published weeks partitions on its first tick;
- ``mta-lake backfill FROM TO --published-only --wait`` for the newest four of them: raw, clean and the
  mart (the CLI, over GraphQL);
- Debian's ``chromium`` through Playwright (never ``playwright install``), which saves:
  ``asset-graph.png`` (the lineage of every layer), ``partitions-tab.png`` (raw_turnstile's partitions:
  seven published weeks, four landed, the three withheld absent), ``mart-asset.png``
  (``system_daily_ridership``: its row count, column types and each week's ridership per mode) and
  ``mart-checks.png`` (``station_daily_ridership``'s checks, each with its description).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mta_lake.core import weeks  # noqa: E402
from mta_lake.tools.graphql import DagsterGraphQL  # noqa: E402
from mta_lake_harness.dagster_processes import running_dagster_dev  # noqa: E402
from mta_lake_harness.dashboard import CHROMIUM_ARGS, chromium_executable  # noqa: E402
from mta_lake_harness.fake_gcs import free_port  # noqa: E402
from mta_lake_harness.graphql import wait_for_partitions  # noqa: E402
from mta_lake_harness.mirror import MtaMirror  # noqa: E402

FULL_WEEKS = REPO / "mta_lake_tests" / "fixtures" / "mta" / "weeks"
REAL_WEEKS = [date(2023, 12, 30), date(2024, 1, 6)]
"""The weeks of the two full files there (turnstile_240106 and turnstile_240113), in file-name order."""

PAGES = {
    # file: (address, what must be on the page before the picture is taken)
    # The lineage of the mart's last model, every layer upstream of it expanded (the global graph
    # shows the three groups collapsed).
    "asset-graph.png": (
        "/assets/subway_vs_mta_daily?view=lineage&lineageScope=upstream&lineageDepth=6",
        "raw_turnstile",
    ),
    "partitions-tab.png": ("/assets/raw_turnstile?view=partitions", "Materialized"),
    "mart-asset.png": ("/assets/system_daily_ridership", "subway_entries"),
    "mart-checks.png": ("/assets/station_daily_ridership?view=checks", "assert_unique_station_day"),
}


def week_bytes() -> list[bytes]:
    import gzip

    return [gzip.decompress(path.read_bytes()) for path in sorted(FULL_WEEKS.glob("turnstile_*.txt.gz"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    options = parser.parse_args()
    executable = chromium_executable()
    if executable is None:
        raise SystemExit("needs Debian's chromium: apt-get install -y chromium")

    # The ten weeks up to the repo's last full week, so that the two full weeks are served as
    # themselves and the mart's figures on the pages are real (its days come from the readings).
    latest = REAL_WEEKS[-1]
    served = [latest - timedelta(days=7 * i) for i in range(10)][::-1]
    withheld = {served[1], served[3], served[5]}
    published = [week for week in served if week not in withheld]
    contents = week_bytes()
    with tempfile.TemporaryDirectory(prefix="mta-ui-") as scratch, MtaMirror() as mirror:
        for number, week in enumerate(published):
            data = (
                contents[REAL_WEEKS.index(week)] if week in REAL_WEEKS else contents[number % len(contents)]
            )
            mirror.add(weeks.file_name(weeks.week_end(week)), data)
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("MTA_")}
        env.update(
            MTA_SITE_URL=mirror.url,
            MTA_LAKE_URL=str(Path(scratch) / "lake"),
            MTA_INDEX_WATCH_INTERVAL_SECONDS="5",
            MTA_RECONCILE_SENSOR="stopped",
        )
        with running_dagster_dev(env, Path(scratch) / "home", port=port) as dev:
            with DagsterGraphQL(dev.url) as client:
                keys = wait_for_partitions(client, [w.isoformat() for w in published])
            print(f"partitions: {keys}; withheld: {sorted(w.isoformat() for w in withheld)}")
            first, last = published[-4], published[-1]
            subprocess.run(
                [str(Path(sys.executable).with_name("mta-lake")), "backfill", first.isoformat(), last.isoformat(),
                 "--published-only", "--wait", "--url", dev.url],
                env={**env, "PATH": os.environ["PATH"]}, check=True, timeout=900,
            )  # fmt: skip
            options.out.mkdir(parents=True, exist_ok=True)
            shoot(executable, dev.url, options.out)
    print(f"saved {', '.join(PAGES)} in {options.out}")


def shoot(executable: str, url: str, out: Path) -> None:
    """Each page, once its content is there; the UI's first-visit community dialog dismissed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        for name, (address, wanted) in PAGES.items():
            page.goto(f"{url}{address}", wait_until="domcontentloaded")
            skip = page.get_by_role("button", name="Skip")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if skip.count():
                    skip.first.click()
                if page.get_by_text(wanted).count():
                    break
                time.sleep(1)
            else:
                page.screenshot(path=f"/tmp/ui-missing-{name}")
                raise SystemExit(
                    f"{address}: {wanted!r} never appeared (the page as it was: /tmp/ui-missing-{name})"
                )
            time.sleep(2)  # charts and the graph's layout settle
            if skip.count():  # the dialog can open late, over a page already drawn
                skip.first.click()
                time.sleep(0.5)
            page.screenshot(path=str(out / name))
        browser.close()


if __name__ == "__main__":
    main()
