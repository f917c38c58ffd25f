"""Benchmark 3: a 52-week asset backfill through GraphQL on ``dagster dev``, policy vs one run a week.

    .venv/bin/python -m benchmarks.backfill            # 52 weeks, takes several minutes
    .venv/bin/python -m benchmarks.backfill --weeks 8  # a smaller smoke size

The full-week sample (``turnstile_240113.txt``, 33.4 MB) is served by the MTA mirror (its own
process) under the names of N consecutive new-format weeks (files 2023-01-14 onwards, listed on
the mirror's index page). For each mode, a fresh ``dagster dev`` (fresh DAGSTER_HOME with the
repo-root dagster.yaml: 8 concurrent runs, mta_source pool of 4) lands them into a fresh
fake-gcs-server bucket through an asset backfill launched with ``launchPartitionBackfill``
(``mta_lake.tools.graphql``); the reconciliation sensor is stopped (MTA_RECONCILE_SENSOR) so
that it does not launch a backfill of the same weeks. Timed from the launch to the moment the backfill and all its runs
have finished (polled every second); ``dagster dev`` start-up is not included.

Modes, in this order in one benchmark run:
- policy: the project's ``BackfillPolicy.multi_run(MTA_WEEKS_PER_RUN)``, default 8 weeks a run;
- one run per week: ``MTA_WEEKS_PER_RUN=1``.

Target: the policy's wall time at most 0.5x that of one run per week.
"""

import argparse
import os
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks import common

FIRST_WEEK = date(2023, 1, 7)
"""Saturday starting the first benchmark week; its file is turnstile_230114.txt (new format)."""
DEFAULT_SOURCE = common.FULL_WEEKS[1]
TARGET_RATIO = 0.5
MODES = {"policy (default 8 weeks/run)": None, "one run per week": "1"}


def week_keys(count: int) -> list[str]:
    return [(FIRST_WEEK + timedelta(days=7 * i)).isoformat() for i in range(count)]


def publish_weeks(site_root: Path, source: Path, keys: Sequence[str]) -> None:
    """The same bytes under every week's file name (hard links: one copy on disk)."""
    original = common.write_week(site_root / "original" / "turnstile_240113.txt", [source])
    for key in keys:
        file_date = date.fromisoformat(key) + timedelta(days=7)
        target = site_root / f"turnstile_{file_date:%y%m%d}.txt"
        os.link(original, target)


def run_mode(
    weeks_per_run: str | None, keys: Sequence[str], site_url: str, gcs: Any, work: Path, timeout: float
) -> dict[str, Any]:
    from mta_lake.tools.graphql import DagsterGraphQL
    from mta_lake_harness.dagster_processes import running_dagster_dev

    bucket = common.new_bucket(gcs)
    env = {
        **os.environ,
        "MTA_SITE_URL": site_url,
        "MTA_LAKE_URL": f"gs://{bucket}/mta",
        "STORAGE_EMULATOR_HOST": gcs.url,
        "GOOGLE_CLOUD_PROJECT": "bench",
        # The reconciliation sensor would request its own backfill of the same missing weeks
        # within seconds of start-up: off, so only the benchmark's backfill runs.
        "MTA_RECONCILE_SENSOR": "stopped",
    }
    env.pop("MTA_WEEKS_PER_RUN", None)
    if weeks_per_run is not None:
        env["MTA_WEEKS_PER_RUN"] = weeks_per_run
    home = work / f"dagster-home-{weeks_per_run or 'policy'}"
    with running_dagster_dev(env, home) as dev, DagsterGraphQL(dev.url) as client:
        started = time.perf_counter()
        backfill_id = client.launch_asset_backfill(keys, title="benchmark")
        final = client.wait_for_backfill(backfill_id, timeout=timeout, poll_interval=1.0)
        seconds = time.perf_counter() - started
    landed = {blob.name for blob in gcs.client().list_blobs(bucket, prefix="mta/raw/turnstile/")}
    if not final.succeeded or len(landed) != len(keys):
        raise RuntimeError(
            f"backfill did not land every week: {final.summary()}; {len(landed)} objects; "
            f"failed weeks {final.failed_weeks}; log {dev.log_path}"
        )
    return {
        "seconds": seconds,
        "runs": len(final.runs),
        "weeks": final.materialized,
        "objects": len(landed),
        "log": str(dev.log_path),
    }


def measure(weeks: int, source: Path, work: Path, timeout: float) -> dict[str, dict[str, Any]]:
    keys = week_keys(weeks)
    site_root = work / "site"
    site_root.mkdir()
    publish_weeks(site_root, source, keys)
    results = {}
    with common.mirror_process(site_root) as site_url, common.fake_gcs_process(work) as gcs:
        for mode, weeks_per_run in MODES.items():
            results[mode] = run_mode(weeks_per_run, keys, site_url, gcs, work, timeout)
    return results


def summarise(results: dict[str, dict[str, Any]]) -> tuple[list[list[object]], list[list[object]]]:
    table = [
        [mode, r["runs"], r["weeks"], r["seconds"], r["weeks"] / (r["seconds"] / 60)]
        for mode, r in results.items()
    ]
    policy, per_week = (results[mode]["seconds"] for mode in MODES)
    ratio = policy / per_week
    checks = [
        [
            "policy / one run per week (wall time)",
            ratio,
            f"<= {TARGET_RATIO}",
            "yes" if ratio <= TARGET_RATIO else "NO",
        ]
    ]
    return table, checks


def main(argv: Sequence[str] | None = None) -> tuple[list[list[object]], list[list[object]]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weeks", type=int, default=52, help="weeks to backfill (default 52)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="week file served for every week")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one backfill")
    args = parser.parse_args(argv)
    print(f"machine: {common.machine_summary()}")
    print(f"{args.weeks} weeks from {FIRST_WEEK}, each {args.source}; one backfill per mode")
    with common.work_dir() as work:
        results = measure(args.weeks, args.source, work, args.timeout)
    table, checks = summarise(results)
    print(common.format_table(["mode", "runs launched", "weeks landed", "wall s", "weeks/min"], table))
    print()
    print(common.format_table(["ratio", "measured", "target", "met"], checks))
    return table, checks


if __name__ == "__main__":
    main()
