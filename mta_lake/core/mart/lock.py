"""One writer at a time on the warehouse's DuckDB file, readers alongside each other, every wait bounded.

DuckDB lets one process open a file for writing, and no other process open it at all meanwhile (not even
read-only: ``Conflicting lock is held``). So every process that touches the warehouse first takes an
advisory lock on ``<warehouse>.lock``: exclusive to write (a mart run's dbt build), shared to read (the
week's figures after a run, the annual check, ``mta-lake ridership``). A reader waits for a writer and a
writer for the readers, each at most ``timeout`` seconds (``MTA_MART_LOCK_TIMEOUT_SECONDS``); the holder
of the exclusive lock writes who it is into the file, so a wait can say whom it waits for and a timeout
names them. A writer killed (even SIGKILL) releases the lock with its process: the kernel drops it.
"""

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

POLL_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)
"""Waits between two tries (the last repeated): a short wait costs little, a long one polls rarely."""


class WarehouseLockTimeout(TimeoutError):
    """The lock was not obtained within the timeout; the message says who held it and since when."""


def lock_path(warehouse_path: Path) -> Path:
    return warehouse_path.with_name(warehouse_path.name + ".lock")


def holder(warehouse_path: Path) -> str:
    """Who holds (or last held) the exclusive lock, as its holder wrote it: "pid 123 on host since ..."."""
    try:
        text = lock_path(warehouse_path).read_text()
        info = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return "another process"
    if not info:
        return "another process (readers, or a writer that has not said who it is)"
    return f"{info.get('what', 'a writer')} (pid {info.get('pid')} on {info.get('host')}, since {info.get('since')})"


@contextmanager
def hold(
    warehouse_path: Path,
    *,
    exclusive: bool,
    timeout: float,
    what: str = "",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the warehouse: ``exclusive`` to write, shared to read, waiting at most ``timeout`` seconds.

    ``on_wait(message)`` is called once if the lock is not free at once (the message names the holder).
    ``what``: written into the lock file by an exclusive holder ("mart run 1a2b3c4d", "make mart-rebuild").
    Raises ``WarehouseLockTimeout``.
    """
    path = lock_path(warehouse_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "a+": never truncate on open; only the exclusive holder rewrites the file, once it holds the lock.
    with open(path, "a+") as handle:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        waited = False
        attempt = 0
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait(f"the warehouse {warehouse_path} is busy: {holder(warehouse_path)}; waiting")
                waited = True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WarehouseLockTimeout(
                        f"waited {timeout:g} s for the warehouse {warehouse_path} "
                        f"({'to write' if exclusive else 'to read'}; MTA_MART_LOCK_TIMEOUT_SECONDS) and it is "
                        f"still held by {holder(warehouse_path)}"
                    ) from None
                time.sleep(min(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)], remaining))
                attempt += 1
        try:
            if exclusive:
                handle.seek(0)
                handle.truncate()
                handle.write(
                    json.dumps(
                        {
                            "what": what or "a mart writer",
                            "pid": os.getpid(),
                            "host": socket.gethostname(),
                            "since": datetime.now(UTC).isoformat(timespec="seconds"),
                        }
                    )
                )
                handle.flush()
            yield
        finally:
            if exclusive:
                handle.seek(0)
                handle.truncate()
                handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect_read_only(warehouse_path: Path) -> "duckdb.DuckDBPyConnection":
    """The warehouse opened for reading. Spelled as dbt-duckdb opens it read-only (``access_mode``
    ``READ_ONLY`` in the config, not ``read_only=True``): DuckDB refuses a second connection to a file "with
    a different configuration" in one process, so a dbt adapter reading the same file in this process (as
    dagster-dbt's own ``fetch_row_counts()`` sets one up) never makes this fail."""
    import duckdb

    return duckdb.connect(str(warehouse_path), read_only=False, config={"access_mode": "READ_ONLY"})


def wait_for_other_writers(
    warehouse_path: Path, timeout: float, on_wait: Callable[[str], None] | None = None
) -> None:
    """Return once no other process has the DuckDB file open for writing, waiting at most ``timeout``.

    The lock above orders the platform's own writers; a writer that does not take it still has DuckDB's
    own lock: dbt run by hand, or the dbt process of a mart run whose run worker was killed (dagster-dbt
    starts dbt as a child that outlives it, and the dead worker's lock is gone with it). Such a writer is
    waited for here, on DuckDB's lock, by the readers and by the next run, instead of failing on
    "Conflicting lock is held". Raises ``WarehouseLockTimeout``."""
    import duckdb

    if not warehouse_path.exists():
        return
    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            connect_read_only(warehouse_path).close()
            return
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() > deadline:
                raise WarehouseLockTimeout(
                    f"waited {timeout:g} s for the warehouse {warehouse_path} (MTA_MART_LOCK_TIMEOUT_SECONDS): "
                    "another process still has it open for writing (dbt run by hand, or the dbt of a run "
                    "whose worker was killed)"
                ) from None
            if not said and on_wait is not None:
                on_wait(
                    f"the warehouse {warehouse_path} is being written by a process outside the mart's lock; waiting"
                )
            said = True
            time.sleep(0.5)
