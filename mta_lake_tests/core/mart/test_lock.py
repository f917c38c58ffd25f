"""The warehouse's lock (``mta_lake.core.mart.lock``): one writer, readers together, every wait bounded
and said, a killed writer's lock gone with it. A real holder in another process, killed with SIGKILL."""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mta_lake.core.mart.lock import WarehouseLockTimeout, hold, wait_for_other_writers

HOLDER = """
import sys, time
from pathlib import Path
from mta_lake.core.mart.lock import hold
with hold(Path(sys.argv[1]), exclusive=sys.argv[2] == "write", timeout=5, what="the test's writer"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """Another process holding the warehouse to write, until killed."""
    path = tmp_path / "mta.duckdb"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "write"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield path, process
    process.kill()
    process.wait()


def test_a_reader_waits_for_a_writer_at_most_the_timeout_and_says_who_holds_it(writer) -> None:
    path, process = writer
    said: list[str] = []
    started = time.monotonic()
    with (
        pytest.raises(WarehouseLockTimeout) as caught,
        hold(path, exclusive=False, timeout=0.5, on_wait=said.append),
    ):
        pass
    assert 0.5 <= time.monotonic() - started < 3
    message = str(caught.value)
    assert "waited 0.5 s" in message and "MTA_MART_LOCK_TIMEOUT_SECONDS" in message
    assert f"the test's writer (pid {process.pid}" in message
    assert len(said) == 1 and "busy" in said[0] and f"pid {process.pid}" in said[0]


def test_a_writer_killed_with_sigkill_releases_the_warehouse(writer) -> None:
    path, process = writer
    process.send_signal(signal.SIGKILL)
    process.wait()
    started = time.monotonic()
    with hold(path, exclusive=True, timeout=5, what="the next run"):
        assert time.monotonic() - started < 1
        assert "the next run" in (path.parent / "mta.duckdb.lock").read_text()
    assert (path.parent / "mta.duckdb.lock").read_text() == ""  # released: no holder named


def test_readers_share_the_warehouse_and_a_writer_waits_for_them(tmp_path: Path) -> None:
    path = tmp_path / "mta.duckdb"
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "read"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "held"
        with hold(path, exclusive=False, timeout=1):
            pass  # a second reader at once
        with pytest.raises(WarehouseLockTimeout), hold(path, exclusive=True, timeout=0.3):
            pass
    finally:
        reader.kill()
        reader.wait()


DUCKDB_WRITER = """
import sys, time
import duckdb
connection = duckdb.connect(sys.argv[1])  # read-write, no mart lock: dbt run by hand, or an orphaned run's dbt
print("held", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def test_a_writer_outside_the_lock_is_waited_for_on_duckdbs_own_lock(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "mta.duckdb"
    duckdb.connect(str(path)).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", DUCKDB_WRITER, str(path), "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        said: list[str] = []
        with pytest.raises(WarehouseLockTimeout) as caught:
            wait_for_other_writers(path, 0.3, on_wait=said.append)
        assert "still has it open for writing" in str(caught.value)
        wait_for_other_writers(path, 20, on_wait=said.append)
        assert writer.poll() is not None  # returned once the writer was gone
        assert len(said) == 2 and all("outside the mart's lock" in message for message in said)
    finally:
        writer.kill()
        writer.wait()
