"""Real Dagster processes for tests and benchmarks: ``dagster dev``, or code server + daemon + webserver.

Each process runs in its own session (``start_new_session=True``), so it and every child it
spawns (``dagster dev`` starts a webserver, a daemon and a code server; the daemon starts run
workers) form one process group that ``ProcessGroup.stop`` ends with SIGTERM, then SIGKILL.
Output goes to a log file, never to a pipe nobody reads (a full pipe blocks the process).

    with running_dagster_dev(env, tmp_path / "dagster_home") as dev:
        DagsterGraphQL(dev.url).launch_asset_backfill([...])

For the production trio, start the pieces yourself:

    code = ProcessGroup.start(["dagster", "code-server", "start", ...], env=..., log_path=...)
    wait_for_port("127.0.0.1", grpc_port)
    ...
    wait_for_graphql(url)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests

from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.paths import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
DAGSTER = str(VENV_BIN / "dagster")


class ProcessStartError(RuntimeError):
    """A Dagster process died or did not become ready; the message ends with its log's tail."""


@dataclass
class ProcessGroup:
    """A process started as the leader of its own process group, with its output in a log file."""

    args: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls,
        args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path | str | None = None,
    ) -> ProcessGroup:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                list(args),
                env=dict(env),
                cwd=str(cwd) if cwd else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: killpg reaches every child it starts
            )
        return cls(list(args), process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self, what: str = "") -> None:
        if not self.alive():
            raise ProcessStartError(
                f"{what or self.args[:3]} exited with code {self.process.returncode}; "
                f"log {self.log_path}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the whole group, wait up to ``timeout``, then SIGKILL whatever is left of it."""
        pgid = self.process.pid  # the leader of a new session: its pid is the group id
        for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            if _wait_group_gone(self.process, pgid, grace):
                break
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _wait_group_gone(process: subprocess.Popen[bytes], pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, or the group never empties
        if not _group_exists(pgid):
            return True
        time.sleep(0.1)
    return False


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_port(host: str, port: int, timeout: float = 60.0, process: ProcessGroup | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive()
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise ProcessStartError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def wait_for_graphql(
    url: str, timeout: float = 120.0, process: ProcessGroup | None = None, need_location: bool = True
) -> None:
    """Wait until the webserver at ``url`` answers GraphQL (and its code location has loaded)."""
    query = "query { version workspaceOrError { __typename ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive("the Dagster webserver")
        try:
            response = requests.post(f"{url}/graphql", json={"query": query}, timeout=5)
            if response.status_code == 200:
                data = response.json().get("data") or {}
                workspace = data.get("workspaceOrError") or {}
                entries = workspace.get("locationEntries") or []
                kinds = [(entry.get("locationOrLoadError") or {}).get("__typename") for entry in entries]
                if not need_location or (kinds and all(kind == "RepositoryLocation" for kind in kinds)):
                    return
                if "PythonError" in kinds:
                    raise ProcessStartError(
                        f"the code location failed to load at {url}: {response.text[:2000]}"
                    )
                last = f"locations {kinds}"
            else:
                last = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last = type(error).__name__
        time.sleep(0.5)
    tail = f"\nlog {process.log_path}:\n{process.log_tail()}" if process else ""
    raise ProcessStartError(f"Dagster GraphQL at {url} not ready after {timeout:.0f} s ({last}){tail}")


def prepare_dagster_home(dagster_home: Path, config: Path | str | None = None) -> Path:
    """A fresh DAGSTER_HOME holding ``config`` (default: the repo-root dagster.yaml) as dagster.yaml."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config or REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    return dagster_home


def dagster_env(env: Mapping[str, str], dagster_home: Path) -> dict[str, str]:
    """``env`` plus what every Dagster process here needs: DAGSTER_HOME and the venv on PATH."""
    merged = dict(env)
    merged["DAGSTER_HOME"] = str(dagster_home)
    # Each stack its own mart: never the checkout's data/warehouse, which other tests may be using.
    merged.setdefault("MTA_WAREHOUSE_PATH", str(dagster_home / "warehouse" / "mta.duckdb"))
    merged["PATH"] = f"{VENV_BIN}{os.pathsep}{merged.get('PATH', os.environ.get('PATH', ''))}"
    merged.setdefault("PYTHONUNBUFFERED", "1")
    return merged


@dataclass
class DagsterDev:
    url: str
    dagster_home: Path
    process: ProcessGroup

    @property
    def log_path(self) -> Path:
        return self.process.log_path


@contextmanager
def running_dagster_dev(
    env: Mapping[str, str],
    dagster_home: Path,
    module: str = "mta_lake.definitions",
    port: int | None = None,
    cwd: Path | str = REPO_ROOT,
    config: Path | str | None = None,
    ready_timeout: float = 120.0,
    partitions: Sequence[str] = (),
) -> Iterator[DagsterDev]:
    """``dagster dev -m module`` on 127.0.0.1:port with a fresh DAGSTER_HOME; stopped on exit.

    ``env`` is the whole environment of the processes (start from ``os.environ`` if you want it).
    ``partitions``: weeks made partitions before it starts (the index sensor's job, for tests that
    are not about it).
    """
    prepare_dagster_home(dagster_home, config)
    if partitions:
        from mta_lake_harness.instances import add_partitions

        add_partitions(dagster_home, partitions)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    group = ProcessGroup.start(
        [DAGSTER, "dev", "-m", module, "--host", "127.0.0.1", "--port", str(port)],
        env=dagster_env(env, dagster_home),
        log_path=dagster_home / "dagster-dev.log",
        cwd=cwd,
    )
    try:
        wait_for_graphql(url, timeout=ready_timeout, process=group)
        yield DagsterDev(url=url, dagster_home=dagster_home, process=group)
    finally:
        group.stop()
