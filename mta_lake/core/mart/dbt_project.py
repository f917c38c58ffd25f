"""How to run the mart's dbt project (``mta_lake/warehouse``): one week incrementally, or everything.

The Dagster layer (dagster-dbt) and the benchmark call these, so the command lines, the vars and the
environment the profile reads are defined once. Plain Python: no Dagster, no dbt import.
"""

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mta_lake.core.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2] / "warehouse"
"""The dbt project (dbt_project.yml, profiles.yml, models, macros, tests)."""

DEFAULT_MEMORY_LIMIT = "4GB"


@dataclass(frozen=True)
class Warehouse:
    """Where the mart reads and writes, as the profile (``profiles.yml``) reads it from the environment.

    ``lake_url``: the lake's root (a folder, ``file:///path`` or ``gs://bucket/prefix``, like MTA_LAKE_URL).
    ``path``: the DuckDB file. ``work_dir``: dbt's target/ and logs/ (DuckDB spills to ``<path>.tmp/``).
    """

    lake_url: str
    path: Path
    work_dir: Path
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    target: str | None = None

    @property
    def dbt_target(self) -> str:
        """``duckdb`` for a lake in a folder, ``duckdb_gcs`` for one in GCS, unless set explicitly."""
        if self.target:
            return self.target
        return "duckdb_gcs" if self.lake_url.startswith(("gs://", "gcs://")) else "duckdb"

    def environment(self) -> dict[str, str]:
        """The variables the profile reads (add them to the dbt process's environment)."""
        return {
            "MTA_LAKE_URL": self.lake_url,
            "MTA_WAREHOUSE_PATH": str(self.path),
            "MTA_DUCKDB_MEMORY_LIMIT": self.memory_limit,
            "MTA_WAREHOUSE_TARGET": self.dbt_target,
            # A run that builds only some models (an asset backfill plans the mart's models as their
            # upstream weeks are done) runs only the tests whose models are all built in it: a test
            # of a model not built yet would fail on a missing table.
            "DBT_INDIRECT_SELECTION": "cautious",
            # gcsfs (duckdb_gcs) otherwise asks GCS's gRPC control plane for each bucket's layout (zonal,
            # hierarchical namespace) before its first read: an emulator cannot answer, and every new
            # connection waited 60 s for that call to time out (the mart over fake-gcs-server seemed to
            # hang). The lake is a plain bucket (deploy/terraform), and the pipeline's storage.objectUser
            # role does not cover that API anyway.
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }

    def prepare(self) -> None:
        """Create the folders DuckDB and dbt write into (DuckDB does not create a file's parent)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)


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


def _common_args(warehouse: Warehouse) -> list[str]:
    return [
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target", warehouse.dbt_target,
        "--target-path", str(warehouse.work_dir / "target"),
        "--log-path", str(warehouse.work_dir / "logs"),
    ]  # fmt: skip


def incremental_build_args(
    warehouse: Warehouse, weeks: Iterable[date | str], command: str = "build"
) -> list[str]:
    """``dbt build`` of the weeks: their intervals (and the next loaded week's), the service days they
    touch, and the data tests restricted to them. Every week must already be in the warehouse's history
    or be the newest; a week landed out of order is fine (its successor is recomputed too)."""
    return [command, *_common_args(warehouse), "--vars", json.dumps(weeks_vars(weeks))]


def full_rebuild_args(
    warehouse: Warehouse, command: str = "build", extra_vars: Mapping[str, object] | None = None
) -> list[str]:
    """``dbt build --full-refresh``: every week in the lake, every model rebuilt, every test on all of it.
    ``extra_vars``: e.g. ``{"mart_rebuild_batch_weeks": 26}`` (weeks per window batch)."""
    args = [command, *_common_args(warehouse), "--full-refresh"]
    if extra_vars:
        args += ["--vars", json.dumps(dict(extra_vars))]
    return args


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter (the venv's), else the one on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    warehouse: Warehouse, args: Sequence[str], extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run dbt in its own process (dbt start-up is seconds; a separate process also releases the DuckDB
    file when it ends). Returns the completed process; raises nothing: check ``returncode``."""
    warehouse.prepare()
    env = {**os.environ, **warehouse.environment(), **(extra_env or {})}
    return subprocess.run(
        [dbt_executable(), *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )


def missing_weeks(lake_weeks: Iterable[date], warehouse_weeks: Iterable[date]) -> list[date]:
    """Weeks in the lake's clean layer not yet in the warehouse (what a catch-up run applies)."""
    return sorted(set(lake_weeks) - set(warehouse_weeks))


def local_lake_weeks(lake_root: Path) -> list[date]:
    """The clean weeks present in a lake folder (``clean/turnstile_readings/week=YYYY-MM-DD/readings.parquet``)."""
    root = lake_root / "clean" / "turnstile_readings"
    weeks = []
    for path in root.glob("week=*/readings.parquet"):
        weeks.append(date.fromisoformat(path.parent.name.removeprefix("week=")))
    return sorted(weeks)


def warehouse_weeks(connection: object) -> list[date]:
    """The weeks already in the warehouse (a DuckDB connection)."""
    rows = connection.execute(  # type: ignore[attr-defined]
        "select distinct week from turnstile_week_last_readings order by week"
    ).fetchall()
    return [row[0] for row in rows]


def parse_args(warehouse: Warehouse) -> list[str]:
    """``dbt parse``: writes ``manifest.json`` into ``warehouse.work_dir / "target"``."""
    return ["parse", *_common_args(warehouse)]


def parse_project(warehouse: Warehouse) -> Path:
    """The project's ``manifest.json``, parsed now unless one newer than every project file exists.

    The Dagster layer needs the manifest to define the mart's assets; parsing takes a few seconds and
    is done once per checkout (and again when a model, macro, test or setting changes).
    """
    manifest = warehouse.work_dir / "target" / "manifest.json"
    newest = max(path.stat().st_mtime for path in PROJECT_DIR.rglob("*") if path.is_file())
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    result = run_dbt(warehouse, parse_args(warehouse))
    if result.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse of {PROJECT_DIR} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return manifest


def warehouse_from_settings(settings: "Settings") -> Warehouse:
    """The warehouse the settings describe (the lake and the mart's settings in docs/SETTINGS.md)."""
    path = Path(settings.warehouse_path).resolve()
    return Warehouse(
        lake_url=settings.lake_url,
        path=path,
        work_dir=path.parent / "dbt",
        memory_limit=settings.duckdb_memory_limit,
        target=settings.warehouse_target,
    )


def rebuild(settings: "Settings | None" = None) -> int:
    """Rebuild the whole mart from the clean layer in the lake (``make mart-rebuild``); dbt's exit code."""
    from mta_lake.core.settings import Settings

    warehouse = warehouse_from_settings(settings or Settings.from_env())
    process = subprocess.run(
        [dbt_executable(), *full_rebuild_args(warehouse)],
        cwd=PROJECT_DIR,
        env={**os.environ, **warehouse.environment()},
        check=False,
    )
    return process.returncode


if __name__ == "__main__":
    # `--parse-only`: write the manifest (the Docker image does this at build time).
    if sys.argv[1:] == ["--parse-only"]:
        from mta_lake.core.settings import Settings

        print(parse_project(warehouse_from_settings(Settings.from_env())))
        sys.exit(0)
    sys.exit(rebuild())


@contextmanager
def exclusive(warehouse: Warehouse) -> Iterator[None]:
    """Hold the warehouse for one writer at a time (an advisory lock on ``<path>.lock``, blocking).

    DuckDB allows one process to open a file for writing; two runs of the mart at once (two
    backfills, the schedule and a backfill) would otherwise fail with a lock error. Readers that open
    the file after dbt (the week's totals, the annual check) hold it too, so no run writes under them.
    """
    warehouse.prepare()
    with open(warehouse.path.with_name(warehouse.path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
