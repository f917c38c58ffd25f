"""Benchmark: the ridership mart over the whole history (issue 12).

    .venv/bin/python -m benchmarks.mart_history [--keep DIR] [--weeks N] [--memory-limit 4GB]

1. Builds a clean layer of every week from 2010-05-01 to 2024-02-10 (719 weeks, ~178 million readings)
   from the full-week fixture ``turnstile_240106.txt.gz`` (250,816 rows): each week is the fixture
   shifted by whole weeks, its counters moved on by what each turnstile counts in a week (so they keep
   increasing across files), ~1 % of readings dropped by a hash of turnstile, time and week (so weeks
   differ a little), RECOVR AUD duplicates flagged as the clean layer would. Written with DuckDB as one
   Parquet file per week, the clean layer's layout and columns.
2. Times, each dbt invocation in its own process (wall time and that process's peak RSS, from wait4):
   (a) ``dbt build --full-refresh`` (models and every data test over the whole history), DuckDB's memory
   capped (default 4 GB); (b) one new week (2024-02-17) landed and applied incrementally.

   (b) is measured four ways, interleaved, ``--repeat`` times each (medians): the weeks in ``--vars`` (as
   before: dbt parses the whole project again), the weeks in the warehouse's run-weeks table (the --vars
   of the prepared project: dbt reuses its partial parse), the same with ``--threads 2``, and the whole
   Dagster asset (dagster-dbt, row counts, column types, the week's figures) in a child process.

Targets: (a) <= 300 s, (b) <= 15 s (the whole pipeline's week: <= 10 s). ``--weeks N`` builds only the
first N weeks (a fraction, for a quick look; the report says so). ``--keep DIR --reuse-lake
--reuse-warehouse`` measures the incremental week again on a warehouse already built.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import FULL_WEEKS, format_table, machine_summary, median, work_dir
from mta_lake.core.mart.dbt_project import (
    Warehouse,
    dbt_command,
    full_rebuild_args,
    incremental_build_args,
    run_weeks_build_args,
)
from mta_lake.core.settings import DEFAULT_DUCKDB_MEMORY_LIMIT

FIXTURE = FULL_WEEKS[0]  # turnstile_240106.txt.gz: the week starting Saturday 2023-12-30
FIXTURE_WEEK = date(2023, 12, 30)
FIRST_WEEK = date(2010, 5, 1)
LAST_WEEK = date(2024, 2, 10)
NEW_WEEK = LAST_WEEK + timedelta(days=7)
TARGET_FULL_S = 300.0
TARGET_WEEK_S = 15.0


def history_weeks(count: int | None = None) -> list[date]:
    weeks = []
    week = FIRST_WEEK
    while week <= LAST_WEEK:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks[:count] if count else weeks


def _base_readings_sql() -> str:
    """The fixture as clean readings relative to its week: offset in days, counters, duplicate flags,
    and each turnstile's weekly movement (last - first, plus one average interval, so the interval across
    two shifted copies looks like any other)."""
    return f"""
    create or replace table base as
    with raw as (
        select "C/A" as control_area, UNIT as unit, SCP as scp, STATION as station, LINENAME as line_names,
               DIVISION as division, DATE as day, TIME as clock, "DESC" as description,
               cast(ENTRIES as bigint) + 100000000 as entries, cast(EXITS as bigint) + 100000000 as exits,
               row_number() over () + 1 as source_line
        from read_csv('{FIXTURE}', header = true, types = {{'DATE': 'VARCHAR', 'TIME': 'VARCHAR'}})
    ),
    timed as (
        select *, strptime(day || ' ' || clock, '%m/%d/%Y %H:%M:%S') as observed_at from raw
    ),
    ranked as (
        select *,
            row_number() over (partition by control_area, unit, scp, observed_at
                               order by (description = 'REGULAR') desc, source_line) as duplicate_rank,
            count(*) over (partition by control_area, unit, scp, observed_at) as same_time
        from timed
    ),
    spans as (
        select control_area, unit, scp,
            arg_max(entries, observed_at) - arg_min(entries, observed_at) as entries_span,
            arg_max(exits, observed_at) - arg_min(exits, observed_at) as exits_span,
            greatest(count(distinct observed_at) - 1, 1) as intervals
        from timed group by all
    )
    select ranked.*,
        ranked.observed_at - timestamp '{FIXTURE_WEEK}' as offset_in_week,
        cast(spans.entries_span + spans.entries_span / spans.intervals as bigint) as entries_per_week,
        cast(spans.exits_span + spans.exits_span / spans.intervals as bigint) as exits_per_week,
        upper(regexp_replace(station, '[^A-Za-z0-9]+', ' ', 'g')) as station_key
    from ranked join spans using (control_area, unit, scp)
    """


def generate_lake(lake: Path, weeks: list[date]) -> dict[str, Any]:
    """Write the clean layer of ``weeks``; returns readings written and seconds."""
    import duckdb

    started = time.perf_counter()
    root = lake / "clean" / "turnstile_readings"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    # An in-memory database spills to ./.tmp by default: keep its spill files in the scratch folder.
    connection = duckdb.connect(
        config={
            "memory_limit": "6GB",
            "preserve_insertion_order": False,
            "temp_directory": str(lake / ".tmp"),
        }
    )
    connection.execute("set TimeZone = 'UTC'")
    connection.execute(_base_readings_sql())
    # One COPY per week (each ~250,000 rows, a fraction of a second): one partitioned COPY of the whole
    # history holds most of it in memory before writing anything.
    readings = 0
    for week in weeks:
        number = (week - FIRST_WEEK).days // 7  # counters move on by one week's worth per week since 2010
        target = root / f"week={week.isoformat()}"
        target.mkdir(parents=True)
        connection.execute(
            f"""
            copy (
                select
                    control_area, unit, scp, station, station_key, line_names, division,
                    'file' as station_source,
                    observed_at,
                    timezone('America/New_York', observed_at) as observed_at_utc,
                    false as ambiguous_local_time,
                    description,
                    entries + {number} * entries_per_week as entries,
                    exits + {number} * exits_per_week as exits,
                    'turnstile_{(week + timedelta(days=7)).strftime("%y%m%d")}.txt' as source_file,
                    source_line,
                    cast(null as bigint) as reading_group,
                    case when same_time > 1 then 'audit_pair' end as duplicate_kind,
                    duplicate_rank = 1 as is_reading_of_record,
                    observed_at >= date '{week}' and observed_at < date '{week + timedelta(days=7)}' as in_week
                from (select * exclude (observed_at), date '{week}' + offset_in_week as observed_at from base)
                -- ~1 % of readings missing, a different 1 % each week: the weeks are not identical copies.
                where hash(control_area, unit, scp, source_line, {number}) % 100 <> 0
            ) to '{target / "readings.parquet"}' (format parquet, compression zstd)
            """
        )
        readings += connection.execute(
            f"select count(*) from read_parquet('{target / 'readings.parquet'}')"
        ).fetchone()[0]
    connection.close()
    size = sum(p.stat().st_size for p in root.glob("*/readings.parquet"))
    return {
        "readings": readings,
        "weeks": len(weeks),
        "seconds": time.perf_counter() - started,
        "bytes": size,
    }


def timed_dbt(warehouse: Warehouse, args: list[str], target: Path | None = None) -> dict[str, Any]:
    """Run dbt in a child process; wall seconds and the child's peak RSS (wait4's ru_maxrss)."""
    warehouse.prepare()
    target = target or warehouse.work_dir / "target"
    started = time.perf_counter()
    log = open(warehouse.work_dir / f"dbt-{args[0]}-{int(started)}.out", "w")
    process = subprocess.Popen(dbt_command(warehouse, args, target), stdout=log, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    log.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"dbt {' '.join(args[:1])} failed; see {log.name}")
    results = json.loads((target / "run_results.json").read_text())
    nodes = {
        r["unique_id"].split(".")[-1]: (r["status"], round(r["execution_time"], 2))
        for r in results["results"]
    }
    text = Path(log.name).read_text()
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "nodes": nodes,
        "nodes_seconds": sum(r["execution_time"] for r in results["results"]),
        "dbt_elapsed": results["elapsed_time"],
        "parsed": "Unable to do partial parsing" in text or "saved manifest not found" in text,
        "log": log.name,
    }


DAGSTER_CHILD = """
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
from dagster import DagsterInstance, materialize
from mta_lake.defs.mart.project import MART_PROJECT, _preparer
_preparer.prepare(MART_PROJECT)  # as the image's prepare-and-package does, with these settings
from mta_lake.defs.mart.assets import dbt_resource, ridership_mart
def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
with DagsterInstance.ephemeral() as instance:
    started, started_cpu = time.perf_counter(), cpu()
    dbt = dbt_resource()
    if sys.argv[2] == "stock":  # dagster-dbt's own resource: `dbt --version` and an adapter in this process
        from dagster_dbt import DbtCliResource
        dbt = DbtCliResource(project_dir=MART_PROJECT, dbt_executable=dbt.dbt_executable, target=dbt.target)
    result = materialize([ridership_mart], resources={"dbt": dbt}, instance=instance, partition_key=sys.argv[1])
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu_seconds": cpu() - started_cpu, "success": result.success}))
"""


def timed_dagster(warehouse: Warehouse, week: date, resource: str = "mart") -> dict[str, Any]:
    """The mart asset for one week through Dagster (dagster-dbt, row counts, column types, the week's
    figures), in a child process pointed at this warehouse; seconds of ``materialize`` (imports apart)."""
    env = {
        **os.environ,
        "MTA_LAKE_URL": warehouse.lake_url,
        "MTA_WAREHOUSE_PATH": str(warehouse.path),
        "MTA_DUCKDB_MEMORY_LIMIT": warehouse.memory_limit,
        "DAGSTER_HOME": str(warehouse.work_dir),
    }
    result = subprocess.run(
        [sys.executable, "-c", DAGSTER_CHILD, week.isoformat(), resource],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines or not json.loads(lines[-1])["success"]:
        raise RuntimeError(f"the Dagster run failed: {result.stderr[-2000:]}")
    return json.loads(lines[-1])


def incremental_variants(warehouse: Warehouse, week: date, repeat: int) -> dict[str, list[dict[str, Any]]]:
    """One new week applied incrementally, each way ``repeat`` times, interleaved (load falls on all alike).
    Each variant keeps its own target folder, seeded with the full build's partial parse as a deployment's
    prepared project would be."""
    variants = {
        "weeks in --vars (dbt parses the project)": lambda t: timed_dbt(
            warehouse, incremental_build_args(warehouse, [week]), t
        ),
        "weeks table (partial parse)": lambda t: timed_dbt(
            warehouse, run_weeks_build_args(warehouse, [week]), t
        ),
        "weeks table, --threads 2": lambda t: timed_dbt(
            warehouse, [*run_weeks_build_args(warehouse, [week]), "--threads", "2"], t
        ),
        "through Dagster (dagster-dbt + row counts + column types + figures)": lambda t: timed_dagster(
            warehouse, week
        ),
        "through Dagster, dagster-dbt's stock DbtCliResource": lambda t: timed_dagster(
            warehouse, week, "stock"
        ),
    }
    prepared = warehouse.work_dir / "target" / "partial_parse.msgpack"
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for round_number in range(repeat):
        for index, (name, run) in enumerate(variants.items()):
            target = warehouse.work_dir / f"variant-{index}"
            target.mkdir(exist_ok=True)
            if index == 0:
                # Each real run brings other weeks, so other --vars: nothing of an earlier parse is reused.
                (target / "partial_parse.msgpack").unlink(missing_ok=True)
            elif round_number == 0 and prepared.exists():
                shutil.copy(prepared, target / "partial_parse.msgpack")
            measured[name].append(run(target))
            last = measured[name][-1]
            print(f"  {name}: {last['seconds']:.1f} s, {last['cpu_seconds']:.1f} s CPU", flush=True)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--weeks", type=int, help="only the first N weeks (a fraction of the history)")
    parser.add_argument("--memory-limit", default=DEFAULT_DUCKDB_MEMORY_LIMIT)
    parser.add_argument("--reuse-lake", action="store_true", help="keep an already generated lake in --keep")
    parser.add_argument(
        "--reuse-warehouse",
        action="store_true",
        help="keep a warehouse already built in --keep (no full rebuild)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="incremental runs of each variant (default 3)")
    parser.add_argument("--generate-only", action="store_true", help="write the lake and stop")
    options = parser.parse_args()

    print(machine_summary())
    with work_dir(options.keep) as scratch:
        scratch = scratch.resolve()  # dbt runs from the project's folder: every path absolute
        lake = scratch / "lake"
        weeks = history_weeks(options.weeks)
        if options.reuse_lake and (lake / "clean" / "turnstile_readings").exists():
            generated = {"readings": "reused", "weeks": len(weeks), "seconds": 0.0, "bytes": 0}
            shutil.rmtree(lake / "clean" / "turnstile_readings" / f"week={NEW_WEEK}", ignore_errors=True)
        else:
            generated = generate_lake(lake, weeks)
        print(f"generated {generated['readings']} readings in {generated['weeks']} weeks, "
              f"{generated['bytes'] / 1e9:.2f} GB, {generated['seconds']:.1f} s")  # fmt: skip
        if options.generate_only:
            return
        warehouse = Warehouse(
            lake_url=str(lake),
            path=scratch / "warehouse" / "mta.duckdb",
            work_dir=scratch / "dbt",
            memory_limit=options.memory_limit,
        )
        full: dict[str, Any] | None = None
        if not (options.reuse_warehouse and warehouse.path.exists()):
            if warehouse.path.exists():
                warehouse.path.unlink()
            full = timed_dbt(warehouse, full_rebuild_args(warehouse))
            print(f"full rebuild: {full['seconds']:.1f} s, peak RSS {full['peak_rss_mib']:.0f} MiB")
            print(json.dumps(full["nodes"], indent=1))

        # One new week lands: the fixture shifted once more, its counters continuing the series.
        if not (lake / "clean" / "turnstile_readings" / f"week={NEW_WEEK}").exists():
            _write_next_week(lake, NEW_WEEK)
        measured = incremental_variants(warehouse, NEW_WEEK, options.repeat)
        size = warehouse.path.stat().st_size
        fraction = (
            "" if options.weeks is None else f" (a fraction: {len(weeks)} of {len(history_weeks())} weeks)"
        )
        print()
        print(f"Mart benchmark{fraction}, DuckDB memory_limit {options.memory_limit}, warehouse {size / 1e9:.2f} GB, "
              f"{machine_summary()}")  # fmt: skip
        rows: list[list[Any]] = [["generate clean layer", generated["seconds"], "-", "-", "-", "-", "-"]]
        if full is not None:
            rows.append(["full rebuild (dbt build --full-refresh)", full["seconds"], full["cpu_seconds"],
                         full["peak_rss_mib"], "-", TARGET_FULL_S, "yes" if full["seconds"] <= TARGET_FULL_S else "no"])  # fmt: skip
        for name, runs in measured.items():
            seconds = median([run["seconds"] for run in runs])
            cpu = median([run["cpu_seconds"] for run in runs])
            nodes = median([run["nodes_seconds"] for run in runs]) if "nodes_seconds" in runs[0] else None
            rss = max(run["peak_rss_mib"] for run in runs) if "peak_rss_mib" in runs[0] else "-"
            rows.append([f"one new week: {name}", seconds, cpu, rss, "-" if nodes is None else round(nodes, 2),
                         TARGET_WEEK_S, "yes" if seconds <= TARGET_WEEK_S else "no"])  # fmt: skip
        headers = [
            "step",
            "wall s (median)",
            "CPU s (median)",
            "peak RSS MiB",
            "dbt nodes s",
            "target s",
            "met",
        ]
        print(format_table(headers, rows))
        slowest = max(measured["weeks table (partial parse)"], key=lambda run: run["seconds"])
        print("nodes of the slowest partial-parse run:", json.dumps(slowest["nodes"]))


def _write_next_week(lake: Path, new_week: date) -> None:
    """Land ``new_week`` in the lake as the next week of the series (its counters continue the history)."""
    scratch = lake.parent / "next-week"
    generate_lake(scratch, [new_week])
    source = scratch / "clean" / "turnstile_readings" / f"week={new_week}"
    target = lake / "clean" / "turnstile_readings" / f"week={new_week}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(str(source), str(target))
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
