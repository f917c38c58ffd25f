"""How to run the mart's dbt project (``mta_lake/warehouse``): its settings, its command lines, its lock.

The Dagster layer (dagster-dbt), ``make mart-rebuild``, the tests and the benchmark use these, so the
command lines and the settings dbt sees are defined once. Plain Python: no Dagster, no dbt import.

The settings reach dbt as ``--vars`` built from ``Settings`` (``Warehouse.dbt_vars``), never through the
environment: ``profiles.yml`` and the models read ``var(...)``, and the defaults are written once, in
``mta_lake/core/settings.py``. (dagster-dbt 0.29's ``DbtCliResource.cli`` gives the dbt process a copy of
``os.environ`` and takes no environment of its own; its in-process adapter, which fetches row counts and
column types, reads the same ``--vars`` from the arguments.) The manifest the code location loads is
prepared by dagster-dbt (``mta_lake/defs/mart/project.py``); every dbt invocation here writes its artifacts
to a target path of its own, so nothing rewrites that manifest while processes load it.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from mta_lake.core.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, Settings

PROJECT_DIR = Path(__file__).resolve().parents[2] / "warehouse"
"""The dbt project (dbt_project.yml, profiles.yml, models, macros, tests)."""

ADAPTERS = {
    "duckdb": ("dbt.adapters.duckdb", "dbt-duckdb"),
    "duckdb_gcs": ("dbt.adapters.duckdb", "dbt-duckdb"),
    "bigquery": ("dbt.adapters.bigquery", "dbt-bigquery"),
}
"""Each target's dbt adapter: the module dbt imports, and the package that provides it."""

DUCKDB_TARGETS = ("duckdb", "duckdb_gcs")

RUN_WEEKS_TABLE = "mart_run_weeks"
"""The table of the DuckDB warehouse holding the weeks the current (or last) incremental run applies."""

RUNS_KEPT = 20
"""Per-run target folders kept beside the warehouse (``dbt/runs/``): the latest runs' logs and artifacts."""

# gcsfs decides at import, from this variable, whether to ask GCS's control plane for a bucket's layout
# (zonal, hierarchical namespace) before its first read: an emulator cannot answer, and every new
# connection of the duckdb_gcs target waited 60 s for that call to time out. The lake is a plain bucket
# (deploy/terraform) and the pipeline's storage.objectUser role does not cover that API. A library switch,
# not a setting: set once when this module is imported, inherited by every dbt process started from here.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


class AdapterNotInstalled(RuntimeError):
    """The configured warehouse target needs a dbt adapter package that is not installed."""


@dataclass(frozen=True)
class Warehouse:
    """Where the mart reads and writes, and how (the mart's settings in docs/SETTINGS.md).

    ``lake_url``: the lake's root (a folder, ``file:///path`` or ``gs://bucket/prefix``, like MTA_LAKE_URL).
    ``path``: the DuckDB file. ``work_dir``: dbt's per-run target folders and logs (DuckDB spills to
    ``<path>.tmp/``). ``profile_vars``: the other values profiles.yml reads (the bigquery target's).
    """

    lake_url: str
    path: Path
    work_dir: Path
    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    target: str | None = None
    lock_timeout_seconds: float = field(default_factory=lambda: Settings().mart_lock_timeout_seconds)
    profile_vars: Mapping[str, str] = field(default_factory=lambda: bigquery_vars(Settings()))
    bigquery_dbt: str | None = None
    """The dbt of the bigquery target when it is not this venv's (``MTA_BIGQUERY_DBT_EXECUTABLE``)."""

    def dbt_executable(self) -> str:
        """The dbt that runs this warehouse's target: ``bigquery_dbt`` for the bigquery target when set."""
        if self.dbt_target == "bigquery" and self.bigquery_dbt:
            return self.bigquery_dbt
        return dbt_executable()

    @property
    def dbt_target(self) -> str:
        """``duckdb`` for a lake in a folder, ``duckdb_gcs`` for one in GCS, unless set explicitly."""
        if self.target:
            return self.target
        return "duckdb_gcs" if self.lake_url.startswith(("gs://", "gcs://")) else "duckdb"

    def dbt_vars(self) -> dict[str, str]:
        """The settings as dbt vars (profiles.yml and the models read them)."""
        return {
            "lake_url": self.lake_url,
            "warehouse_path": str(self.path),
            "duckdb_memory_limit": self.memory_limit,
            **self.profile_vars,
        }

    @property
    def parse_target(self) -> str:
        """The target the manifest is parsed with: this one when it is a DuckDB target, else ``duckdb``. The
        model graph is every target's (the SQL that differs is dispatched at run time), the DuckDB adapter
        is always installed, so a target whose adapter is missing never stops the code location from
        loading; and a run whose target and vars are the parse's reuses its partial parse."""
        return self.dbt_target if self.dbt_target in DUCKDB_TARGETS else "duckdb"

    def check_adapter(self) -> None:
        """Raise ``AdapterNotInstalled``, in one line naming the package, if the target's adapter is missing
        (for the bigquery target with ``bigquery_dbt`` set: if that dbt is not an executable file)."""
        if self.dbt_target == "bigquery" and self.bigquery_dbt:
            if not os.access(self.bigquery_dbt, os.X_OK) or not Path(self.bigquery_dbt).is_file():
                raise AdapterNotInstalled(
                    f"the mart's warehouse target 'bigquery' runs {self.bigquery_dbt} "
                    "(MTA_BIGQUERY_DBT_EXECUTABLE), which is not an executable file: build it with "
                    ".ci/bigquery-venv, or unset the variable to use dbt-bigquery installed beside the platform"
                )
            return
        module, package = ADAPTERS.get(
            self.dbt_target, (f"dbt.adapters.{self.dbt_target}", f"dbt-{self.dbt_target}")
        )
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise AdapterNotInstalled(
                f"the mart's warehouse target {self.dbt_target!r} (MTA_WAREHOUSE_TARGET) needs the dbt adapter "
                f"{package}, which is not installed: add {package} to the environment (pyproject.toml and "
                "constraints.txt, then rebuild the image)"
            )

    def prepare(self) -> None:
        """Create the folders DuckDB and dbt write into (DuckDB does not create a file's parent)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def run_target_path(self, name: str) -> Path:
        """A target folder of its own for one dbt invocation (``dbt/runs/<name>``), older ones pruned."""
        runs = self.work_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        previous = sorted(runs.iterdir(), key=lambda path: path.stat().st_mtime)
        for old in previous[: max(0, len(previous) - RUNS_KEPT + 1)]:
            shutil.rmtree(old, ignore_errors=True)
        return runs / name


def bigquery_vars(settings: Settings) -> dict[str, str]:
    return {
        "bigquery_method": settings.bigquery_method,
        "bigquery_keyfile": settings.bigquery_keyfile,
        "bigquery_project": settings.bigquery_project,
        "bigquery_dataset": settings.bigquery_dataset,
        "bigquery_location": settings.bigquery_location,
        "bigquery_clean_layer": settings.bigquery_clean_layer,
    }


def warehouse_from_settings(settings: Settings) -> Warehouse:
    """The warehouse the settings describe. A lake in a folder is made absolute here, against this
    process's working directory, as the lake itself resolves it (dbt runs in the project's folder)."""
    path = Path(settings.warehouse_path).resolve()
    lake_url = settings.lake_url
    if "://" not in lake_url:
        lake_url = str(Path(lake_url).resolve())
    elif lake_url.startswith("file://"):
        lake_url = str(Path(lake_url.removeprefix("file://")).resolve())
    return Warehouse(
        lake_url=lake_url,
        path=path,
        work_dir=path.parent / "dbt",
        memory_limit=settings.duckdb_memory_limit,
        target=settings.warehouse_target,
        lock_timeout_seconds=settings.mart_lock_timeout_seconds,
        profile_vars=bigquery_vars(settings),
        bigquery_dbt=settings.bigquery_dbt_executable,
    )


def week_key(week: date | str) -> str:
    text = week.isoformat() if isinstance(week, date) else str(week)
    date.fromisoformat(text)  # raises on anything that is not YYYY-MM-DD
    return text


def weeks_vars(weeks: Iterable[date | str]) -> dict[str, list[str]]:
    """The ``--vars`` of an incremental run applying ``weeks`` (week keys, Saturdays)."""
    keys = sorted({week_key(w) for w in weeks})
    if not keys:
        raise ValueError("an incremental run of the mart needs at least one week")
    return {"weeks": keys}


def _vars(warehouse: Warehouse, extra_vars: Mapping[str, object] | None = None) -> str:
    """--vars: the settings, the run's weeks table, and ``extra_vars``. Without extra vars they are the
    vars the manifest was prepared with, so dbt reuses its partial parse (a change of --vars re-parses
    the whole project: about 2.5 s of CPU)."""
    return json.dumps(
        {**warehouse.dbt_vars(), "weeks_table": RUN_WEEKS_TABLE, **(extra_vars or {})}, sort_keys=True
    )


def _project_args(warehouse: Warehouse, extra_vars: Mapping[str, object] | None = None) -> list[str]:
    return [
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target", warehouse.dbt_target,
        "--vars", _vars(warehouse, extra_vars),
    ]  # fmt: skip


def incremental_build_args(
    warehouse: Warehouse, weeks: Iterable[date | str], command: str = "build"
) -> list[str]:
    """``dbt build`` of the weeks: their intervals (and the next loaded week's), the service days they
    touch, and the data tests restricted to them. Every week must already be in the warehouse's history
    or be the newest; a week landed out of order is fine (its successor is recomputed too)."""
    return [command, *_project_args(warehouse, weeks_vars(weeks))]


def run_weeks_build_args(
    warehouse: Warehouse, weeks: Iterable[date | str], command: str = "build"
) -> list[str]:
    """``dbt build`` of the weeks, as the Dagster runs do it. On DuckDB the weeks go into the run's weeks
    table (``record_run_weeks``, which this calls: the caller holds the warehouse) and the --vars are the
    prepared manifest's; on BigQuery they go in --vars (``incremental_build_args``)."""
    if warehouse.dbt_target not in DUCKDB_TARGETS:
        return incremental_build_args(warehouse, weeks, command)
    record_run_weeks(warehouse, weeks)
    return [command, *_project_args(warehouse)]


def record_run_weeks(warehouse: Warehouse, weeks: Iterable[date | str]) -> None:
    """Write the run's weeks into ``RUN_WEEKS_TABLE`` of the DuckDB file (read by macros/weeks.sql)."""
    import duckdb

    keys = weeks_vars(weeks)["weeks"]
    warehouse.prepare()
    with duckdb.connect(str(warehouse.path)) as connection:
        connection.execute("begin transaction")
        connection.execute(f"create table if not exists main.{RUN_WEEKS_TABLE} (week date not null)")
        connection.execute(f"delete from main.{RUN_WEEKS_TABLE}")
        connection.executemany(f"insert into main.{RUN_WEEKS_TABLE} values (?)", [[key] for key in keys])
        connection.execute("commit")


def full_rebuild_args(
    warehouse: Warehouse, command: str = "build", extra_vars: Mapping[str, object] | None = None
) -> list[str]:
    """``dbt build --full-refresh``: every week in the lake, every model rebuilt, every test on all of it.
    ``extra_vars``: e.g. ``{"mart_rebuild_batch_weeks": 26}`` (weeks per window batch)."""
    return [command, *_project_args(warehouse, extra_vars), "--full-refresh"]


def parse_args(warehouse: Warehouse) -> list[str]:
    """The arguments of ``dbt parse`` for dagster-dbt's project preparation (``DbtProject`` gives the
    project and profiles folders and the parse target): the vars of the runs, so that they reuse its
    parse (the ``partial_parse.msgpack`` it writes). A whole parse each time: dbt 1.11's partial parsing
    drops the ``tests/schema.yml`` description of a data test whose SQL changed, and the manifest this
    writes is where the asset checks get their descriptions."""
    return ["parse", "--quiet", "--no-partial-parse", "--vars", _vars(warehouse)]


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter (the venv's), else the one on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def dbt_command(warehouse: Warehouse, args: Sequence[str], target_path: Path) -> list[str]:
    """The whole command line of a dbt process writing its artifacts and logs to ``target_path``."""
    # Absolute: dbt resolves a relative target path against the project's folder, not the working one.
    target = str(target_path.resolve())
    return [warehouse.dbt_executable(), *args, "--target-path", target, "--log-path", target]


def run_dbt(warehouse: Warehouse, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run dbt in its own process (a separate process releases the DuckDB file when it ends), its
    artifacts in ``work_dir/target`` (``run_results.json``, the compiled SQL). Returns the completed
    process; raises nothing: check ``returncode``. Callers that may meet another writer hold ``lock.hold``."""
    warehouse.prepare()
    target = warehouse.work_dir / "target"
    return subprocess.run(
        dbt_command(warehouse, args, target), cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )


def warehouse_weeks(connection: object) -> list[date]:
    """The weeks already in the warehouse (a DuckDB connection)."""
    rows = connection.execute(  # type: ignore[attr-defined]
        "select distinct week from turnstile_week_last_readings order by week"
    ).fetchall()
    return [row[0] for row in rows]


def rebuild(settings: Settings | None = None) -> int:
    """Rebuild the whole mart from the clean layer in the lake (``make mart-rebuild``); dbt's exit code.
    Holds the warehouse like a mart run (a run writing meanwhile is waited for)."""
    from mta_lake.core.mart.lock import hold, wait_for_other_writers

    warehouse = warehouse_from_settings(settings or Settings.from_env())
    warehouse.check_adapter()
    warehouse.prepare()
    with hold(
        warehouse.path,
        exclusive=True,
        timeout=warehouse.lock_timeout_seconds,
        what="make mart-rebuild",
        on_wait=lambda message: print(message, flush=True),
    ):
        wait_for_other_writers(
            warehouse.path, warehouse.lock_timeout_seconds, on_wait=lambda m: print(m, flush=True)
        )
        target = warehouse.run_target_path("rebuild")
        process = subprocess.run(
            dbt_command(warehouse, full_rebuild_args(warehouse), target), cwd=PROJECT_DIR, check=False
        )
    return process.returncode


def main(argv: Sequence[str]) -> int:
    """``python -m mta_lake.core.mart.dbt_project [--print-vars]``: rebuild the mart, or print the
    ``--vars`` the settings give dbt (to run dbt by hand)."""
    if list(argv) == ["--print-vars"]:
        print(json.dumps(warehouse_from_settings(Settings.from_env()).dbt_vars(), sort_keys=True))
        return 0
    if argv:
        print("usage: python -m mta_lake.core.mart.dbt_project [--print-vars]", file=sys.stderr)
        return 2
    return rebuild()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
