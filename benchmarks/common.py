"""Shared machinery for the benchmarks: inputs, servers, measured child processes, tables.

Every measurement runs in a fresh child process (``python -m benchmarks.common JOB_JSON``) so
that its peak memory is its own: the child imports what it needs, resets its high-water mark
(``/proc/self/clear_refs``), does the one job, and prints wall time and peak RSS growth over the
RSS it had after the imports. Servers (the MTA mirror, fake-gcs-server) run in processes of
their own too, so their memory never counts.
"""

import gzip
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "mta_lake_tests" / "fixtures" / "mta"
FULL_WEEKS = [FIXTURES / "weeks" / "turnstile_240106.txt.gz", FIXTURES / "weeks" / "turnstile_240113.txt.gz"]
TINY_SAMPLE = FIXTURES / "raw" / "turnstile_170603.txt"
"""13,818 real rows (1.8 MB): what the smoke test feeds the benchmarks instead of a full week."""
GZIP_LEVEL = 6
MB = 1e6
MIB = 1 << 20


# -- inputs ---------------------------------------------------------------------------------
def read_source(path: Path) -> bytes:
    """A turnstile file's raw bytes, from a ``.txt`` or a ``.txt.gz`` fixture."""
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def write_week(target: Path, sources: Sequence[Path], copies: int = 1) -> Path:
    """Write one new-format week file: the first source's header, then every source's data rows,
    ``copies`` times over. ``copies=1`` with one source reproduces that source byte for byte."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as sink:
        header_written = False
        for _ in range(copies):
            for source in sources:
                data = read_source(source)
                newline = data.index(b"\n") + 1
                if not header_written:
                    sink.write(data[:newline])
                    header_written = True
                sink.write(data[newline:])
    return target


# -- servers --------------------------------------------------------------------------------
def free_port() -> int:
    from mta_lake_harness.fake_gcs import free_port as fake_gcs_free_port

    return fake_gcs_free_port()


@contextmanager
def mirror_process(root: Path) -> Iterator[str]:
    """The MTA mirror serving ``root``'s files, in its own process. Yields the site URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mta_lake_harness.mirror", "--root", str(root), "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/developers"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/turnstile.html", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the MTA mirror did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def fake_gcs_process(work: Path) -> Iterator[Any]:
    """fake-gcs-server (the Go binary), in its own process. Yields the ``FakeGCS`` handle."""
    from mta_lake_harness.fake_gcs import FakeGCS

    server = FakeGCS(work / "fake-gcs.log").start()
    try:
        yield server
    finally:
        server.stop()


# -- measured children ----------------------------------------------------------------------
def run_child(job: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one job in a fresh interpreter; return what it measured."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.common", json.dumps(job)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark job {job['kind']} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


class PeakMemory:
    """Peak RSS growth of this process from ``start()`` on, in bytes."""

    def start(self) -> None:
        import gc

        gc.collect()
        try:
            # "5" resets VmHWM to the current RSS (Linux >= 4.0): the peak is the job's alone.
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            self.reset = True
        except OSError:
            self.reset = False
        self.baseline_kib = _proc_status_kib("VmRSS")
        self.hwm_before_kib = _proc_status_kib("VmHWM")

    def growth(self) -> int:
        hwm = _proc_status_kib("VmHWM")
        if not self.reset and hwm <= self.hwm_before_kib:
            raise RuntimeError("cannot reset VmHWM and the job never exceeded the import peak")
        return max(hwm - self.baseline_kib, 0) * 1024


def _gcs_client(emulator: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="bench", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator}
    )


def _job_floor(job: dict[str, Any], memory: PeakMemory) -> dict[str, Any]:
    """Read the local file and gzip it (level 6) to a local file; nothing else."""
    import zlib

    source, target = job["source"], job["target"]
    memory.start()
    started = time.perf_counter()
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    source_bytes = 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while chunk := reader.read(MIB):
            source_bytes += len(chunk)
            writer.write(compressor.compress(chunk))
        writer.write(compressor.flush())
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "source_bytes": source_bytes, "stored_bytes": os.path.getsize(target)}


def _job_land(job: dict[str, Any], memory: PeakMemory) -> dict[str, Any]:
    """``mta_lake.core.landing.land_week`` from the mirror into a local folder or a fake-gcs bucket."""
    from datetime import date

    from mta_lake.core.gcs_lake import GCSLake
    from mta_lake.core.lake import LocalLake
    from mta_lake.core.landing import land_week
    from mta_lake.core.source import MtaSite
    from mta_lake.core.weeks import WeekFile

    week = date.fromisoformat(job["week"])
    file_date = date.fromisoformat(job["file_date"])
    week_file = WeekFile(week=week, file_date=file_date, from_index=False)
    site = MtaSite(job["site_url"])
    if job["lake"] == "gcs":
        lake: Any = GCSLake(_gcs_client(job["emulator"]), job["bucket"], "mta")
    else:
        lake = LocalLake(job["lake_path"])
    memory.start()
    started = time.perf_counter()
    report = land_week(week_file, site, lake)
    seconds = time.perf_counter() - started
    site.close()
    if report.status != "landed":
        raise RuntimeError(f"expected a fresh landing, got {report.status}")
    return {
        "seconds": seconds,
        "source_bytes": report.stats.source_bytes,
        "stored_bytes": report.stats.stored_bytes,
        "data_rows": report.stats.data_rows,
    }


def _job_baseline(job: dict[str, Any], memory: PeakMemory) -> dict[str, Any]:
    """The replaced Prefect flow (re-created in benchmarks/baselines/prefect_flow.py)."""
    import pandas  # noqa: F401  (imported before the baseline RSS, like the landing's imports)

    from benchmarks.baselines.prefect_flow import land_week_like_prefect_flow

    client = _gcs_client(job["emulator"])
    memory.start()
    started = time.perf_counter()
    result = land_week_like_prefect_flow(job["url"], job["work_dir"], client, job["bucket"])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "source_bytes": job["source_bytes"], **result}


JOBS = {"floor": _job_floor, "land": _job_land, "baseline": _job_baseline}


def child_main(argv: Sequence[str]) -> None:
    job = json.loads(argv[0])
    memory = PeakMemory()
    result = JOBS[job["kind"]](job, memory)
    result["peak_growth_bytes"] = memory.growth()
    result["baseline_rss_bytes"] = memory.baseline_kib * 1024
    print(json.dumps(result))


# -- reporting ------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable in a terminal and pasteable into RESULTS.md)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def machine_summary() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {ram_gib:.1f} GiB RAM, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


@contextmanager
def work_dir(keep: Path | None = None) -> Iterator[Path]:
    """A scratch folder for one benchmark invocation (removed afterwards unless ``keep``)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="mta-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def new_bucket(server: Any) -> str:
    return server.create_bucket(f"bench-{uuid.uuid4().hex[:10]}")


if __name__ == "__main__":
    child_main(sys.argv[1:])
