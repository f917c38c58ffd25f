"""The Partitions tab of ``raw_turnstile`` in headless Chromium, with a source that lacks some weeks.

    .venv/bin/python docs/partitions_screenshot.py [--out docs/img/partitions-tab.png] [--chromium PATH]

What it shows is what a newcomer sees (docs/img/partitions-tab.png is its output):

- an MTA mirror on 127.0.0.1 serving the last twelve ended weeks but three (never published), each file a
  real sample (``mta_lake_tests/fixtures/mta``);
- the real ``dagster dev`` on the repo's ``dagster.yaml`` (a fresh DAGSTER_HOME, a fresh lake folder),
  with ``watch_mta_index`` ticking every 5 s;
- once the sensor has written its snapshot and the code location reloaded, four weeks landed through
  ``mta-lake backfill`` (the CLI, over GraphQL);
- then Chromium (Debian's ``chromium`` package; ``apt-get install chromium``) renders
  ``/assets/raw_turnstile?view=partitions`` headless and saves a PNG.

The partition list holds the published weeks only (and a week still within its publication grace): the
three weeks the MTA never published are neither listed nor counted as missing.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mta_lake.core import weeks  # noqa: E402
from mta_lake_tests.support.dagster_processes import running_dagster_dev  # noqa: E402
from mta_lake_tests.support.fake_gcs import free_port  # noqa: E402
from mta_lake_tests.support.mirror import MtaMirror  # noqa: E402

SAMPLE = REPO / "mta_lake_tests" / "fixtures" / "mta" / "raw" / "turnstile_170603.txt"
PARTITIONS_QUERY = (
    'query { assetNodeOrError(assetKey: {path: ["raw_turnstile"]}) { ... on AssetNode {'
    " partitionKeysByDimension { partitionKeys } } } }"
)


def partition_keys(url: str) -> list[str]:
    import requests

    response = requests.post(f"{url}/graphql", json={"query": PARTITIONS_QUERY}, timeout=30)
    return response.json()["data"]["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "partitions-tab.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    options = parser.parse_args()

    latest = weeks.latest_ended_week(datetime.now(weeks.NEW_YORK))
    served = [latest - timedelta(days=7 * i) for i in range(12)][::-1]
    never = {served[2], served[5], served[6]}
    data = SAMPLE.read_bytes() if SAMPLE.exists() else None
    if data is None:
        raise SystemExit(f"{SAMPLE} is missing")
    with tempfile.TemporaryDirectory(prefix="mta-partitions-") as scratch, MtaMirror() as mirror:
        for week in served:
            if week not in never:
                mirror.add(weeks.file_name(weeks.week_end(week)), data)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MTA_")}
        env.update(
            MTA_SITE_URL=mirror.url,
            MTA_LAKE_URL=str(Path(scratch) / "lake"),
            MTA_DAGSTER_UI_URL=f"http://127.0.0.1:{port}",
            MTA_INDEX_WATCH_INTERVAL_SECONDS="5",
            MTA_RECONCILE_SENSOR="stopped",
        )
        with running_dagster_dev(env, Path(scratch) / "home", port=port) as dev:
            deadline = time.monotonic() + 120
            keys: list[str] = []
            while time.monotonic() < deadline:
                try:
                    keys = partition_keys(dev.url)
                    if len(keys) < 100:
                        break
                except Exception:
                    pass  # the code location is reloading
                time.sleep(1)
            print(f"partitions: {len(keys)} ({keys[0]} .. {keys[-1]}); never published: "
                  f"{sorted(w.isoformat() for w in never)}")  # fmt: skip
            published = [w for w in served if w not in never]
            first, last = published[-4], published[-1]
            subprocess.run(
                [str(Path(sys.executable).with_name("mta-lake")), "backfill", first.isoformat(), last.isoformat(),
                 "--wait", "--url", dev.url],
                env={**env, "PATH": os.environ["PATH"]}, check=True, timeout=600,
            )  # fmt: skip
            options.out.parent.mkdir(parents=True, exist_ok=True)
            options.out.write_bytes(
                screenshot(options.chromium, f"{dev.url}/assets/raw_turnstile?view=partitions", Path(scratch))
            )
    print(f"saved {options.out}")


def screenshot(chromium: str, url: str, scratch: Path) -> bytes:
    """``url`` rendered by headless Chromium, driven over the DevTools protocol: the UI's first-visit
    "Join the Dagster community" dialog is dismissed (its Skip button) before the picture is taken."""
    import base64
    import json

    import requests
    from websockets.sync.client import connect

    port = free_port()
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1500,900",
         f"--remote-debugging-port={port}", f"--user-data-dir={scratch / 'chromium'}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
                page = next(p for p in pages if p.get("type") == "page")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            counter = iter(range(1, 1_000_000))

            def call(method: str, **params: object) -> dict:
                message_id = next(counter)
                socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
                while True:
                    answer = json.loads(socket.recv())
                    if answer.get("id") == message_id:
                        return answer.get("result", {})

            call("Page.enable")
            call("Page.navigate", url=url)
            time.sleep(8)  # the UI's scripts, then its GraphQL queries
            skip = "[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Skip')"
            call(
                "Runtime.evaluate",
                expression=f"(() => {{ const b = {skip}; if (b) b.click(); return !!b; }})()",
            )
            time.sleep(3)
            return base64.b64decode(call("Page.captureScreenshot", format="png")["data"])
    finally:
        browser.terminate()
        browser.wait(timeout=30)


if __name__ == "__main__":
    main()
