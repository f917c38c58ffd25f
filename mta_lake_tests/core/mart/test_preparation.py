"""dagster-dbt's preparation of the mart's project (``mta_lake/defs/mart/project.py``): under ``dagster
dev`` the code server's load parses the project again and moves the new manifest in whole (a rename, so a
process loading meanwhile never reads half of one); a run worker loads what its code server prepared."""

import json
import os
import subprocess
import sys
from pathlib import Path

import mta_lake.defs.mart.project  # noqa: F401  (a checkout with no manifest is prepared here)
from mta_lake.core.mart.dbt_project import PROJECT_DIR

MANIFEST = PROJECT_DIR / "target" / "manifest.json"
LOAD = "import sys; sys.argv[1:] = sys.argv[2:]; import mta_lake.defs.mart.project"


def load(tmp_path: Path, *argv: str) -> int:
    """Load the project module in a child process as ``argv`` says; return the child's pid."""
    env = {**os.environ, "DAGSTER_IS_DEV_CLI": "1", "DAGSTER_HOME": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-c", LOAD, "-", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr[-2000:]
    return child.pid


def test_a_dev_load_prepares_and_swaps_the_manifest_whole_and_a_run_worker_does_not(tmp_path: Path) -> None:
    assert MANIFEST.exists()  # prepared when this session imported the definitions
    first = MANIFEST.stat()
    pid = load(tmp_path)  # the code server loading under `dagster dev`: a new parse, renamed into place
    second = MANIFEST.stat()
    assert second.st_ino != first.st_ino and second.st_mtime > first.st_mtime
    assert json.loads(MANIFEST.read_text())["metadata"]["adapter_type"] == "duckdb"
    # Its staging folder is gone (another process of the suite may be preparing beside it meanwhile).
    assert not (PROJECT_DIR / f"target.staging-{pid}").exists()
    load(tmp_path, "api", "execute_run", "{}")  # a run worker of that code server
    assert MANIFEST.stat().st_ino == second.st_ino
