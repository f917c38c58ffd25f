"""Benchmark 4: what importing ``mta_lake.definitions`` costs on top of dagster + dagster_gcp.

    .venv/bin/python -m benchmarks.startup --runs 7

Every Dagster run process (and the code server) imports the definitions, so this is paid per run.
Each measurement is a fresh interpreter; the variants alternate within every run so that load
from other processes falls on all of them alike. "import s" is measured inside the child around
the import statement; "process s" is the whole child, interpreter start-up and exit included.
The last variant imports dagster and dagster_gcp, then ``mta_lake.definitions`` in the same
child, timing the second step alone: the most direct measure of what the project adds, and far
less exposed to load from other processes than a difference between two separate children.

Target: ``mta_lake.definitions`` adds at most 0.2 s to ``import dagster, dagster_gcp``.
For a breakdown: ``.venv/bin/python -X importtime -c 'import mta_lake.definitions'``.
"""

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks import common

TARGET_SECONDS = 0.2
VARIANTS = {
    "python (nothing)": "pass",
    "import dagster": "import dagster",
    "import dagster, dagster_gcp": "import dagster, dagster_gcp",
    "import mta_lake.definitions": "import mta_lake.definitions",
    "then mta_lake.definitions": "import dagster, dagster_gcp\nstarted = time.perf_counter()\nimport mta_lake.definitions",
}
INCREMENT = "then mta_lake.definitions"
CHILD = (
    "import json, time\n"
    "started = time.perf_counter()\n"
    "{statement}\n"
    "print(json.dumps(time.perf_counter() - started))\n"
)


def time_import(statement: str) -> tuple[float, float]:
    """(seconds inside the child for the statement, seconds for the whole child process)."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD.format(statement=statement)],
        cwd=common.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        # No DAGSTER_HOME: importing the definitions never needs an instance.
        env={**_clean_env(), "DAGSTER_HOME": "", "PYTHONWARNINGS": "ignore"},
    )
    process_seconds = time.perf_counter() - started
    return json.loads(completed.stdout.strip().splitlines()[-1]), process_seconds


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPROFILEIMPORTTIME",)}


def measure(runs: int, warm_up: bool = True) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    if warm_up:  # the page cache and .pyc files, once, before anything is timed
        for statement in VARIANTS.values():
            time_import(statement)
    for _ in range(runs):
        for name, statement in VARIANTS.items():
            results[name].append(time_import(statement))
    return results


def summarise(results: dict[str, list[tuple[float, float]]]) -> tuple[list[list[object]], list[list[object]]]:
    table = []
    medians = {}
    for name, measured in results.items():
        inside = common.median([m[0] for m in measured])
        process = common.median([m[1] for m in measured])
        medians[name] = (inside, process)
        table.append([name, inside, process, len(measured)])
    base = medians["import dagster, dagster_gcp"]
    ours = medians["import mta_lake.definitions"]
    increment = medians[INCREMENT][0]
    added_process = ours[1] - base[1]
    checks = [
        ["mta_lake.definitions after dagster + dagster_gcp (same process), s", increment,
         f"<= {TARGET_SECONDS}", "yes" if increment <= TARGET_SECONDS else "NO"],
        ["definitions process - dagster + dagster_gcp process, s (noisy)", added_process,
         f"<= {TARGET_SECONDS}", "yes" if added_process <= TARGET_SECONDS else "NO"],
    ]  # fmt: skip
    return table, checks


def main(argv: Sequence[str] | None = None) -> tuple[list[list[object]], list[list[object]]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per median (default 7)")
    parser.add_argument(
        "--no-warm-up", action="store_true", help="skip the untimed first import of each variant (smoke test)"
    )
    args = parser.parse_args(argv)
    print(f"machine: {common.machine_summary()}")
    print(f"median of {args.runs} fresh interpreters per row")
    table, checks = summarise(measure(args.runs, warm_up=not args.no_warm_up))
    print(common.format_table(["variant", "import s", "process s", "runs"], table))
    print()
    print(common.format_table(["check", "measured", "target", "met"], checks))
    return table, checks


if __name__ == "__main__":
    main()
