"""The BigQuery emulator ``bqemulator`` (REST API, DuckDB underneath), started from the BigQuery venv.

``.ci/bigquery-venv`` builds ``.venv-bigquery/`` (dbt-bigquery and bqemulator, apart from the project's
lock). Without it the BigQuery tests skip, saying how to build it; under CI=true they fail instead.

The emulator runs as a real process on a free port of 127.0.0.1, with ``HOME`` in the venv's DuckDB home
(DuckDB finds the spatial extension bqemulator needs there: it cannot be downloaded here) and its
``gs://`` URIs resolved under ``gcs_root`` (fake-gcs-server's storage folder, so load jobs read the
objects written through the GCS API).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.paths import REPO_ROOT
from mta_lake_harness.postgres import in_ci

REPO = REPO_ROOT
VENV = REPO / ".venv-bigquery"
DBT = VENV / "bin" / "dbt"
BQEMULATOR = VENV / "bin" / "bqemulator"
DUCKDB_HOME = VENV / "duckdb-home"
PROJECT = "mta-lake-test"


def require_venv() -> None:
    """Skip the test when the BigQuery venv is missing; under CI=true fail instead."""
    missing = [path for path in (DBT, BQEMULATOR, DUCKDB_HOME) if not path.exists()]
    if not missing:
        return
    reason = f"the BigQuery venv is missing ({missing[0]}): build it with .ci/bigquery-venv"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the BigQuery tests must run)")
    pytest.skip(reason)


class BigQueryEmulator:
    """One bqemulator process. ``url`` is what ``BIGQUERY_EMULATOR_HOST`` takes."""

    def __init__(self, log_path: Path, gcs_root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.gcs_root = gcs_root
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BigQueryEmulator:
        env = {
            **os.environ,
            "HOME": str(DUCKDB_HOME),
            "BQEMU_GCS_LOCAL_ROOT": str(self.gcs_root),
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BQEMULATOR), "start",
                    "--rest-port", str(self.port),
                    "--grpc-port", str(free_port()),
                    "--project", PROJECT,
                    "--log-level", "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"{self.url}/bigquery/v2/projects/{PROJECT}/datasets", timeout=1)
                if answer.status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"bqemulator exited; see {self.log_path}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bqemulator did not answer in 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
