"""Benchmark 1: one full week, landed by mta_lake vs the floor vs the replaced pipeline.

    .venv/bin/python -m benchmarks.one_week --runs 5

The week (``turnstile_240113.txt``, 33.4 MB) is served by the MTA mirror in its own process.
Each measurement is a fresh child process (see ``benchmarks.common``), in this order every run:

- floor: read the local file and gzip it (level 6) to a local file, nothing else;
- local lake: ``mta_lake.core.landing.land_week`` from the mirror into a fresh local lake folder;
- fake-gcs: the same into a fresh bucket of fake-gcs-server (the Go emulator, its own process);
- replaced pipeline: ``benchmarks/baselines/prefect_flow.py`` (pandas, chunked gzip appends,
  then an upload to the same fake-gcs-server).

Times exclude interpreter start-up and imports (benchmark 4 measures those); peak memory is the
growth of the child's RSS high-water mark over its RSS after the imports.
"""

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import common

WEEK = "2024-01-06"
FILE_DATE = "2024-01-13"
FILE_NAME = "turnstile_240113.txt"
DEFAULT_SOURCE = common.FULL_WEEKS[1]

ROWS = ["floor", "local lake", "fake-gcs", "replaced pipeline"]
TARGETS = [
    # (name, how it is computed, target text, check)
    ("local lake / floor (time)", "le", 1.5),
    ("fake-gcs / floor (time)", "le", 2.0),
    ("replaced / fake-gcs (time, x faster)", "ge", 5.0),
    ("fake-gcs / replaced (peak memory)", "le", 0.25),
]


def measure(runs: int, source: Path, work: Path) -> dict[str, list[dict[str, Any]]]:
    site_root = work / "site"
    site_root.mkdir()
    week_path = common.write_week(site_root / FILE_NAME, [source])
    source_bytes = week_path.stat().st_size
    results: dict[str, list[dict[str, Any]]] = {row: [] for row in ROWS}
    with common.mirror_process(site_root) as site_url, common.fake_gcs_process(work) as gcs:
        for run in range(runs):
            run_dir = work / f"run-{run}"
            run_dir.mkdir()
            results["floor"].append(
                common.run_child(
                    {"kind": "floor", "source": str(week_path), "target": str(run_dir / "floor.txt.gz")}
                )
            )
            land = {"kind": "land", "site_url": site_url, "week": WEEK, "file_date": FILE_DATE}
            results["local lake"].append(
                common.run_child({**land, "lake": "local", "lake_path": str(run_dir / "lake")})
            )
            results["fake-gcs"].append(
                common.run_child(
                    {**land, "lake": "gcs", "emulator": gcs.url, "bucket": common.new_bucket(gcs)}
                )
            )
            results["replaced pipeline"].append(
                common.run_child(
                    {
                        "kind": "baseline",
                        "url": f"{site_url}/data/nyct/turnstile/{FILE_NAME}",
                        "work_dir": str(run_dir),
                        "emulator": gcs.url,
                        "bucket": common.new_bucket(gcs),
                        "source_bytes": source_bytes,
                    }
                )
            )
            shutil.rmtree(run_dir, ignore_errors=True)
    for row, measured in results.items():
        for result in measured:
            if result["source_bytes"] != source_bytes:
                raise RuntimeError(f"{row} read {result['source_bytes']} bytes, expected {source_bytes}")
    return results


def summarise(results: dict[str, list[dict[str, Any]]]) -> tuple[list[list[object]], list[list[object]]]:
    """(rows of the main table, rows of the ratio table) from the measurements."""
    medians = {}
    table = []
    for row in ROWS:
        measured = results[row]
        seconds = common.median([m["seconds"] for m in measured])
        peak = common.median([m["peak_growth_bytes"] for m in measured])
        source_bytes = measured[0]["source_bytes"]
        medians[row] = (seconds, peak)
        table.append(
            [
                row,
                seconds,
                source_bytes / common.MB / seconds,
                peak / common.MIB,
                measured[0]["stored_bytes"] / common.MB,
                len(measured),
            ]
        )
    values = [
        medians["local lake"][0] / medians["floor"][0],
        medians["fake-gcs"][0] / medians["floor"][0],
        medians["replaced pipeline"][0] / medians["fake-gcs"][0],
        medians["fake-gcs"][1] / medians["replaced pipeline"][1],
    ]
    ratios = []
    for (name, how, target), value in zip(TARGETS, values, strict=True):
        met = value <= target if how == "le" else value >= target
        ratios.append([name, value, f"{'<=' if how == 'le' else '>='} {target}", "yes" if met else "NO"])
    return table, ratios


def main(argv: Sequence[str] | None = None) -> tuple[list[list[object]], list[list[object]]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="week file (.txt or .txt.gz) to serve"
    )
    args = parser.parse_args(argv)
    print(f"machine: {common.machine_summary()}")
    print(f"source: {args.source} served as {FILE_NAME}; median of {args.runs} runs")
    with common.work_dir() as work:
        results = measure(args.runs, args.source, work)
    table, ratios = summarise(results)
    print(common.format_table(["pipeline", "wall s", "MB/s", "peak growth MiB", "stored MB", "runs"], table))
    print()
    print(common.format_table(["ratio", "measured", "target", "met"], ratios))
    sys.stdout.flush()
    return table, ratios


if __name__ == "__main__":
    main()
