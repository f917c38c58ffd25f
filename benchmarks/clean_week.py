"""Benchmark 5 (issue 11): clean one full week, new and old format, side by side.

    .venv/bin/python -m benchmarks.clean_week --runs 5

Inputs: the full new-format week ``turnstile_240106.txt.gz`` (250,816 readings, 33.1 MB of text) and
the same readings written in the old format by ``mta_lake_harness/old_format.py`` (eight per
line, 34,836 lines, gzip level 6), both read from local gzip files.

Engines, each measured in a fresh child process per run (imports excluded, as in ``benchmarks.common``;
peak memory = growth of the child's RSS high-water mark over its RSS after the imports):

- ``mta_lake``: ``mta_lake.core.clean.clean_week`` + Parquet bytes of readings and quarantine +
  ``check_accounting`` (the reference tables are read inside the timed part);
- ``duckdb candidate``: the same pipeline written as DuckDB SQL (``read_csv`` of the gzip file, window
  functions, ICU time zones, ``COPY ... TO parquet``); a candidate engine, without exact line numbers
  or a quarantine (DuckDB's CSV reader skips blank lines and numbers rows, not lines);
- ``pandas baseline``: ``benchmarks/baselines/pandas_clean.py``.

Runs are interleaved (every engine and format, then again), so load from elsewhere falls on all alike.

Targets (issue 11): each format at most 1.0 s, peak growth under 300 MiB, at least 3x faster than the
pandas baseline. A second table shows how often an old-format row gets the station, lines, division
and station key that the new-format file gives that booth (the held-out acceptance check).
"""

import argparse
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import common

WEEK = "2023-12-30"
"""The week of ``turnstile_240106.txt`` (12/30/2023 - 01/05/2024)."""
DEFAULT_SOURCE = common.FULL_WEEKS[0]
ENGINES = ["mta_lake", "duckdb candidate", "pandas baseline"]
FORMATS = ["new", "old"]
LIMIT_SECONDS = 1.0
LIMIT_MIB = 300.0
MIN_SPEEDUP = 3.0
AGREEMENT_COLUMNS = ["station", "line_names", "division", "station_key"]


# -- the inputs -----------------------------------------------------------------------------
def write_inputs(source: Path, work: Path) -> dict[str, Path]:
    """The new-format week as given (gzip) and the same readings in the old format (gzip -6)."""
    text = common.read_source(source)
    new_path = work / "new_format.txt.gz"
    new_path.write_bytes(
        source.read_bytes() if source.suffix == ".gz" else gzip.compress(text, common.GZIP_LEVEL)
    )
    from mta_lake_harness.old_format import to_old_format

    old_path = work / "old_format.txt.gz"
    old_path.write_bytes(gzip.compress(to_old_format(text), common.GZIP_LEVEL))
    return {"new": new_path, "old": old_path}


# -- the child ------------------------------------------------------------------------------
def _clean_with_mta_lake(path: str, week: date, file_name: str, old_format: bool) -> dict[str, Any]:
    from mta_lake.core.clean import clean_week

    result = clean_week(Path(path), week=week, file_name=file_name, old_format=old_format)
    result.check_accounting()
    readings, quarantine = result.readings_parquet, result.quarantine_parquet
    return {"rows": result.counts.readings_written, "parquet_bytes": len(readings) + len(quarantine)}


def _clean_with_pandas(path: str, week: date, file_name: str, old_format: bool) -> dict[str, Any]:
    from benchmarks.baselines.pandas_clean import clean_week_pandas

    data = clean_week_pandas(Path(path).read_bytes(), week=week, file_name=file_name, old_format=old_format)
    return {"rows": _parquet_rows(data), "parquet_bytes": len(data)}


def _clean_with_duckdb(path: str, week: date, file_name: str, old_format: bool) -> dict[str, Any]:
    data = duckdb_candidate(Path(path), week=week, file_name=file_name, old_format=old_format)
    return {"rows": _parquet_rows(data), "parquet_bytes": len(data)}


def _parquet_rows(data: bytes) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows


CLEANERS = {
    "mta_lake": _clean_with_mta_lake,
    "duckdb candidate": _clean_with_duckdb,
    "pandas baseline": _clean_with_pandas,
}


def _import_engine(engine: str) -> None:
    """Import what the engine needs before the memory baseline (imports are not measured)."""
    import numpy  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if engine == "mta_lake":
        import mta_lake.core.clean  # noqa: F401
    elif engine == "duckdb candidate":
        import duckdb  # noqa: F401
    else:
        import pandas  # noqa: F401

        import benchmarks.baselines.pandas_clean  # noqa: F401


def child_main(job: dict[str, Any]) -> dict[str, Any]:
    _import_engine(job["engine"])
    memory = common.PeakMemory()
    memory.start()
    started = time.perf_counter()
    result = CLEANERS[job["engine"]](
        job["path"], date.fromisoformat(job["week"]), job["file_name"], job["old_format"]
    )
    result["seconds"] = time.perf_counter() - started
    result["peak_growth_bytes"] = memory.growth()
    return result


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """One measurement in a fresh interpreter (``common.run_child`` runs only ``common``'s own jobs)."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.clean_week", "--child", json.dumps(job)],
        cwd=common.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{job['engine']} ({job['format']}) failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- the DuckDB candidate -------------------------------------------------------------------
def duckdb_candidate(path: Path, *, week: date, file_name: str, old_format: bool) -> bytes:
    """The clean layer's columns computed by DuckDB SQL, as Parquet bytes (benchmark candidate)."""
    import tempfile

    import duckdb

    from mta_lake.core.clean.stations import ENRICHED_FILE, REFERENCE_DIR

    reading = ["date", "time", "description", "entries", "exits"]
    with tempfile.TemporaryDirectory(prefix="clean-duckdb-") as scratch:
        con = duckdb.connect()
        csv_options = "delim=',', quote='', escape='', auto_detect=false"
        if old_format:
            columns = {f"c{i}": "VARCHAR" for i in range(43)}
            con.execute(
                f"create table wide as select *, row_number() over () as source_line from read_csv('{path}', "
                f"header=false, columns={columns}, null_padding=true, {csv_options})"
            )
            groups = " union all ".join(
                "select c0 as control_area, c1 as unit, c2 as scp, null::varchar as station, "
                "null::varchar as line_names, null::varchar as division, "
                + ", ".join(f"c{3 + 5 * g + i} as {name}" for i, name in enumerate(reading))
                + f", source_line, {g + 1}::tinyint as reading_group from wide where c{3 + 5 * g} is not null"
                for g in range(8)
            )
            date_format = "%m-%d-%y"
        else:
            names = ["control_area", "unit", "scp", "station", "line_names", "division", *reading]
            columns = {name: "VARCHAR" for name in names}
            groups = (
                f"select *, row_number() over () + 1 as source_line, 1::tinyint as reading_group "
                f"from read_csv('{path}', header=true, columns={columns}, {csv_options})"
            )
            date_format = "%m/%d/%Y"
        con.execute(f"create table readings as {groups}")
        con.execute(
            f"""create table booths as select booth, remote, station, line_name, division,
                'complex:' || complex_id as station_key, coalesce(complex_name, station_name) as station_complex
            from read_csv('{REFERENCE_DIR / ENRICHED_FILE}', header=true, all_varchar=true)"""
        )
        con.execute(
            "create table remotes as select remote, any_value(station) as station, "
            "any_value(station_key) as station_key, any_value(station_complex) as station_complex "
            "from booths group by remote"
        )
        target = Path(scratch) / "readings.parquet"
        con.execute(
            f"""copy (
            with typed as (
                select r.control_area, r.unit, r.scp,
                    coalesce(r.station, b.station, m.station) as station,
                    coalesce(r.line_names, b.line_name) as line_names,
                    coalesce(r.division, b.division) as division,
                    strptime(trim(r.date) || ' ' || trim(r.time), '{date_format} %H:%M:%S') as observed_at,
                    trim(r.description) as description,
                    cast(trim(r.entries) as bigint) as entries, cast(trim(r.exits) as bigint) as exits,
                    '{file_name}' as source_file, cast(r.source_line as integer) as source_line, r.reading_group,
                    case when r.station is not null then 'file'
                         when b.station is not null then 'mapping_enriched'
                         when m.station is not null then 'mapping_enriched_by_unit' else 'unmapped' end
                        as station_source,
                    coalesce(b.station_key, m.station_key, 'remote:' || r.unit) as station_key,
                    coalesce(b.station_complex, m.station_complex) as station_complex
                from readings r
                left join booths b on b.booth = r.control_area and b.remote = r.unit
                left join remotes m on m.remote = r.unit
            ), flagged as (
                select *,
                    timezone('America/New_York', observed_at) as observed_at_utc,
                    count(*) over w as group_size,
                    min(description) over w <> max(description) over w as descriptions_differ,
                    min(entries) over w = max(entries) over w and min(exits) over w = max(exits) over w
                        as same_counters,
                    row_number() over (partition by control_area, unit, scp, observed_at
                        order by description <> 'REGULAR', source_line, reading_group) = 1 as is_reading_of_record
                from typed
                window w as (partition by control_area, unit, scp, observed_at)
            )
            select control_area, unit, scp, station, line_names, division, observed_at, observed_at_utc,
                description, entries, exits, source_file, source_line, reading_group, station_source,
                station_key, station_complex,
                timezone('America/New_York', observed_at + interval 1 hour) - observed_at_utc
                    > interval 1 hour as ambiguous_local_time,
                strftime(timezone('America/New_York', observed_at_utc), '%Y-%m-%d %H:%M:%S')
                    <> strftime(observed_at, '%Y-%m-%d %H:%M:%S') as nonexistent_local_time,
                case when group_size = 1 then null
                     when not descriptions_differ and same_counters then 'exact_repeat'
                     when descriptions_differ then 'audit_pair' else 'conflicting_counters' end
                    as duplicate_kind,
                is_reading_of_record,
                observed_at >= DATE '{week.isoformat()}' and observed_at < DATE '{week.isoformat()}' + 7 as in_week,
                DATE '{week.isoformat()}' as week
            from flagged order by source_line, reading_group
            ) to '{target}' (format parquet, compression zstd)"""
        )
        con.close()
        return target.read_bytes()


# -- measuring and reporting ------------------------------------------------------------------
def measure(
    runs: int, inputs: dict[str, Path], engines: Sequence[str]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    results: dict[tuple[str, str], list[dict[str, Any]]] = {(e, f): [] for e in engines for f in FORMATS}
    for _ in range(runs):
        for fmt in FORMATS:
            for engine in engines:
                job = {
                    "engine": engine,
                    "format": fmt,
                    "path": str(inputs[fmt]),
                    "week": WEEK,
                    "file_name": f"turnstile_240106{'_old' if fmt == 'old' else ''}.txt",
                    "old_format": fmt == "old",
                }
                results[(engine, fmt)].append(run_child(job))
    return results


def summarise(
    results: dict[tuple[str, str], list[dict[str, Any]]],
) -> tuple[list[list[object]], list[list[object]]]:
    medians = {
        key: (
            common.median([m["seconds"] for m in measured]),
            common.median([m["peak_growth_bytes"] for m in measured]) / common.MIB,
        )
        for key, measured in results.items()
    }
    table = []
    for (engine, fmt), measured in results.items():
        seconds, peak = medians[(engine, fmt)]
        baseline = medians.get(("pandas baseline", fmt))
        ratio = baseline[0] / seconds if baseline else float("nan")
        rows = {m["rows"] for m in measured}
        table.append(
            [
                engine,
                fmt,
                seconds,
                peak,
                ratio,
                ",".join(str(r) for r in sorted(rows)),
                measured[0]["parquet_bytes"] / common.MB,
                len(measured),
            ]
        )
    checks = []
    for fmt in FORMATS:
        seconds, peak = medians[("mta_lake", fmt)]
        checks.append(
            [f"mta_lake {fmt} format: wall s", seconds, f"<= {LIMIT_SECONDS}", _yes(seconds <= LIMIT_SECONDS)]
        )
        checks.append(
            [f"mta_lake {fmt} format: peak growth MiB", peak, f"< {LIMIT_MIB:g}", _yes(peak < LIMIT_MIB)]
        )
        if ("pandas baseline", fmt) in medians:
            ratio = medians[("pandas baseline", fmt)][0] / seconds
            checks.append(
                [
                    f"pandas baseline / mta_lake, {fmt} format",
                    ratio,
                    f">= {MIN_SPEEDUP}",
                    _yes(ratio >= MIN_SPEEDUP),
                ]
            )
    return table, checks


def station_agreement(inputs: dict[str, Path]) -> list[list[object]]:
    """Per column: share of old-format rows equal to the new-format row of the same reading."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mta_lake.core.clean import READINGS_SCHEMA, clean_week

    week = date.fromisoformat(WEEK)
    tables = {}
    for fmt, path in inputs.items():
        result = clean_week(path, week=week, file_name=path.name, old_format=fmt == "old")
        result.check_accounting()
        tables[fmt] = result.readings.cast(READINGS_SCHEMA)
    key = ["control_area", "unit", "scp", "observed_at", "description", "entries", "exits"]
    new, old = (tables[f].sort_by([(k, "ascending") for k in key]) for f in ("new", "old"))
    for column in key:
        if not new.column(column).equals(old.column(column)):
            raise RuntimeError(f"the two formats do not hold the same readings (column {column})")
    rows = []
    for column in AGREEMENT_COLUMNS:
        same = pc.sum(pc.fill_null(pc.equal(new.column(column), old.column(column)), False)).as_py()
        rows.append([column, same, old.num_rows, same / old.num_rows if old.num_rows else 0.0])
    sources = pc.value_counts(old.column("station_source")).to_pylist()
    rows.append(
        [
            "(old-format station sources)",
            ", ".join(f"{s['values']} {s['counts']}" for s in sources),
            old.num_rows,
            "",
        ]
    )
    del pa  # imported for the cast's types only
    return rows


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(
    argv: Sequence[str] | None = None,
) -> tuple[list[list[object]], list[list[object]], list[list[object]]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="new-format week (.txt or .txt.gz)"
    )
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma-separated subset of: {', '.join(ENGINES)}"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_main(json.loads(args.child))))
        return [], [], []
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    print(f"machine: {common.machine_summary()}")
    print(f"source: {args.source} (new format) and its old-format rewrite; median of {args.runs} runs")
    with common.work_dir() as work:
        inputs = write_inputs(args.source, work)
        sizes = ", ".join(
            f"{fmt} {path.stat().st_size / common.MB:.2f} MB gzip" for fmt, path in inputs.items()
        )
        print(f"inputs: {sizes}")
        results = measure(args.runs, inputs, engines)
        agreement = station_agreement(inputs)
    table, checks = summarise(results)
    print(
        common.format_table(
            [
                "engine",
                "format",
                "wall s (median)",
                "peak growth MiB",
                "pandas / this (time)",
                "rows",
                "parquet MB",
                "runs",
            ],
            table,
        )
    )
    print()
    print(common.format_table(["check", "measured", "target", "met"], checks))
    print()
    print(common.format_table(["old-format rows: same as new-format", "same", "of", "share"], agreement))
    sys.stdout.flush()
    return table, checks, agreement


if __name__ == "__main__":
    main()
