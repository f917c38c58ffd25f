"""Benchmark 2: peak memory while landing does not grow with the file.

    .venv/bin/python -m benchmarks.memory_growth --runs 3

The same landing as benchmark 1 (``mta_lake.core.landing.land_week``, a fresh child process per
measurement, the mirror and fake-gcs-server in processes of their own) on a full week (1x) and
on a week four times larger (4x: the header, then the data rows of both full-week samples, twice:
about 133 MB), into the local lake and into fake-gcs-server.

Target: peak memory growth under 32 MiB, and the same for 1x and 4x (within ``SAME_WITHIN``).
"""

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import common

LIMIT_MIB = 32.0
SAME_WITHIN_MIB = 4.0
"""How close the 1x and 4x peaks must be to count as the same: a few MiB of allocator noise."""
SIZES = {
    # size label: (week, file date, file name)
    "1x": ("2024-01-06", "2024-01-13", "turnstile_240113.txt"),
    "4x": ("2024-01-13", "2024-01-20", "turnstile_240120.txt"),
}
LAKES = ["local lake", "fake-gcs"]


def measure(
    runs: int, one_x: Path, four_x_sources: Sequence[Path], work: Path
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    site_root = work / "site"
    common.write_week(site_root / SIZES["1x"][2], [one_x])
    # Four times a week: every data row of the sources, twice (four weeks with two sources).
    copies = max(1, 4 // len(four_x_sources))
    common.write_week(site_root / SIZES["4x"][2], four_x_sources, copies=copies)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {(s, lake): [] for s in SIZES for lake in LAKES}
    with common.mirror_process(site_root) as site_url, common.fake_gcs_process(work) as gcs:
        for run in range(runs):
            run_dir = work / f"run-{run}"
            for size, (week, file_date, _) in SIZES.items():
                land = {"kind": "land", "site_url": site_url, "week": week, "file_date": file_date}
                results[(size, "local lake")].append(
                    common.run_child({**land, "lake": "local", "lake_path": str(run_dir / size)})
                )
                results[(size, "fake-gcs")].append(
                    common.run_child(
                        {**land, "lake": "gcs", "emulator": gcs.url, "bucket": common.new_bucket(gcs)}
                    )
                )
            shutil.rmtree(run_dir, ignore_errors=True)
    return results


def summarise(
    results: dict[tuple[str, str], list[dict[str, Any]]],
) -> tuple[list[list[object]], list[list[object]]]:
    table = []
    peaks: dict[tuple[str, str], float] = {}
    for (size, lake), measured in results.items():
        seconds = common.median([m["seconds"] for m in measured])
        peak = common.median([m["peak_growth_bytes"] for m in measured]) / common.MIB
        worst = max(m["peak_growth_bytes"] for m in measured) / common.MIB
        peaks[(size, lake)] = worst
        source_mb = measured[0]["source_bytes"] / common.MB
        table.append([size, lake, source_mb, seconds, source_mb / seconds, peak, worst, len(measured)])
    checks = []
    for lake in LAKES:
        one, four = peaks[("1x", lake)], peaks[("4x", lake)]
        checks.append(
            [
                f"{lake}: worst peak growth 1x / 4x MiB",
                f"{one:.1f} / {four:.1f}",
                f"< {LIMIT_MIB:g}",
                _yes(max(one, four) < LIMIT_MIB),
            ]
        )
        checks.append(
            [
                f"{lake}: 4x minus 1x MiB",
                four - one,
                f"<= {SAME_WITHIN_MIB:g}",
                _yes(four - one <= SAME_WITHIN_MIB),
            ]
        )
    return table, checks


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(argv: Sequence[str] | None = None) -> tuple[list[list[object]], list[list[object]]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        help="week file(s) (.txt or .txt.gz); the first is the 1x week, all of them build the 4x one "
        "(default: the two full-week samples)",
    )
    args = parser.parse_args(argv)
    sources = args.source or common.FULL_WEEKS
    one_x = common.FULL_WEEKS[1] if not args.source else sources[0]
    print(f"machine: {common.machine_summary()}")
    print(
        f"1x: {one_x}; 4x: data rows of {', '.join(str(s) for s in sources)} repeated; median of {args.runs} runs"
    )
    with common.work_dir() as work:
        results = measure(args.runs, one_x, sources, work)
    table, checks = summarise(results)
    print(
        common.format_table(
            ["size", "lake", "source MB", "wall s", "MB/s", "peak growth MiB", "worst MiB", "runs"], table
        )
    )
    print()
    print(common.format_table(["check", "measured", "target", "met"], checks))
    return table, checks


if __name__ == "__main__":
    main()
