"""The dashboard's own copy of what it shows: a small DuckDB file beside the warehouse.

Why a copy. DuckDB lets one process write a file, and a reader cannot open a file another process
holds for writing (nor can a writer open one a reader holds). A dashboard reading the warehouse itself
would fail while a mart run writes, and, worse, a mart run starting while a page is being answered would
fail on the dashboard's lock. So the dashboard reads only its extract (``<warehouse>.dashboard.duckdb``)
and touches the warehouse only to refresh it:

- when the warehouse file has changed since the extract was built (its size and modification time),
  the next page starts a refresh in the background and answers from the extract it has meanwhile;
- a refresh takes a *shared* advisory lock on ``<warehouse>.lock``, the lock the mart's runs take
  exclusively (``mta_lake.core.mart.dbt_project.exclusive``): while a run writes, the refresh does not
  start (the page says the warehouse is being written and shows the last extract), and a run that
  starts during a refresh waits seconds for it instead of failing. A writer that takes no advisory lock
  (``make mart-rebuild``, dbt by hand) is detected by DuckDB's own lock, with the same outcome;
- the new extract is written to a temporary file and renamed over the old one, so a page never sees a
  half-written extract, and a reader that had the old one open keeps reading it.

The extract also holds what is not in the warehouse: each week's state in the lake against the MTA's
index (``mta_lake.core.reconcile``), from a listing of the lake and the index snapshot the
``watch_mta_index`` sensor keeps there (``state/published_files.json``); nothing is fetched from the MTA.
"""

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import duckdb

from mta_lake.core import reconcile, weeks
from mta_lake.core.lake import Lake, LakeError, open_lake
from mta_lake.core.layout import CLEAN_READINGS_PREFIX, clean_week_of_key
from mta_lake.core.settings import Settings
from mta_lake.core.source_state import read_snapshot
from mta_lake.dashboard import queries

EXTRACT_SUFFIX = ".dashboard.duckdb"
BUSY_RETRY_SECONDS = 2.0


def extract_path_for(warehouse_path: Path) -> Path:
    """``data/warehouse/mta.duckdb`` -> ``data/warehouse/mta.dashboard.duckdb``."""
    return warehouse_path.with_name(warehouse_path.stem + EXTRACT_SUFFIX)


def advisory_lock_path(warehouse_path: Path) -> Path:
    """The lock the mart's runs hold while they write (``dbt_project.exclusive``: ``<path>.lock``)."""
    return warehouse_path.with_name(warehouse_path.name + ".lock")


class WarehouseBusy(RuntimeError):
    """A process is writing the warehouse: the extract was left as it was."""


class Outcome(StrEnum):
    BUILT = "built"
    FRESH = "fresh"
    """The extract already reflects the warehouse file as it is."""
    BUSY = "busy"
    NO_WAREHOUSE = "no_warehouse"
    NOT_A_MART = "not_a_mart"
    """The warehouse lacks the mart's tables, or was built before modes (``queries.NotAMart``)."""


@dataclass(frozen=True)
class Refresh:
    outcome: Outcome
    seconds: float = 0.0
    message: str = ""


def warehouse_stamp(warehouse_path: Path) -> str:
    """What identifies the warehouse's content for the extract: the size and modification time (ns) of
    the file and of its write-ahead log (a writer's changes sit in ``<path>.wal`` until a checkpoint)."""
    parts = []
    for path in (warehouse_path, warehouse_path.with_name(warehouse_path.name + ".wal")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return "/".join(parts)


def being_written(warehouse_path: Path) -> bool:
    """A mart run holds the warehouse's advisory lock now (a writer that takes none is not seen here)."""
    try:
        with shared_warehouse_lock(warehouse_path):
            return False
    except WarehouseBusy:
        return True
    except OSError:
        return False


def extract_stamp(extract_path: Path) -> str | None:
    """The warehouse stamp the extract was built from (None: no readable extract)."""
    if not extract_path.exists():
        return None
    try:
        with duckdb.connect(str(extract_path), read_only=True) as connection:
            return queries.info(connection).get("warehouse_stamp")
    except duckdb.Error:
        return None


@contextmanager
def shared_warehouse_lock(warehouse_path: Path) -> Iterator[None]:
    """Hold ``<warehouse>.lock`` shared, without waiting; WarehouseBusy while a mart run holds it."""
    lock_path = advisory_lock_path(warehouse_path)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusy(f"a mart run holds {lock_path}: the warehouse is being written") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lake_at(lake_url: str) -> Lake:
    """The lake ``lake_url`` names, opened as everything opens it (``open_lake``: credentials chosen there)."""
    import os

    return open_lake(Settings.from_env({**os.environ, "MTA_LAKE_URL": lake_url}))


def lake_week_rows(lake: Lake | None, now: datetime | None = None) -> tuple[list[tuple], str]:
    """(week, state, file name, cleaned) for every week since 2010, and a line saying where it came from.

    Published weeks come from the index snapshot in the lake; without one, a week absent from the lake
    is ``unknown`` (missing cannot be told from not published).
    """
    if lake is None:
        return [], "no lake given"
    try:
        objects = reconcile.read_lake(lake)
        cleaned = {clean_week_of_key(obj.key) for obj in lake.list(CLEAN_READINGS_PREFIX)}
        snapshot = read_snapshot(lake)
    except LakeError as error:
        return [], f"the lake could not be read: {error}"
    published = weeks.map_published_weeks(snapshot.file_dates) if snapshot else None
    in_lake = {week.isoformat() for week in reconcile.lake_weeks(objects)}
    result = reconcile.reconcile(published, objects, in_lake, now=now)
    rows = [(s.week, s.state.value, s.file_name, s.key in cleaned) for s in result.weeks]
    where = lake.uri(reconcile.RAW_PREFIX)
    source = (
        f"the lake ({where}) and the MTA index as the watch_mta_index sensor last saw it"
        if snapshot
        else f"the lake ({where}); no snapshot of the MTA index in it yet (the watch_mta_index sensor "
        "writes one), so weeks not in the lake are 'unknown'"
    )
    return rows, source


def build_extract(
    warehouse_path: Path, extract_path: Path, lake: Lake | None = None, now: datetime | None = None
) -> Refresh:
    """Build the extract from the warehouse, whatever its stamp; WarehouseBusy while it is written."""
    started = time.perf_counter()
    if not warehouse_path.exists():
        return Refresh(
            Outcome.NO_WAREHOUSE, message=f"no warehouse at {warehouse_path}: build the mart first"
        )
    extract_path.parent.mkdir(parents=True, exist_ok=True)
    partial = extract_path.with_name(f".{extract_path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    week_rows, lake_source = lake_week_rows(lake, now)
    try:
        with shared_warehouse_lock(warehouse_path):
            stamp = warehouse_stamp(warehouse_path)
            with duckdb.connect(str(partial)) as connection:
                try:
                    connection.execute(f"attach '{warehouse_path}' as wh (read_only)")
                except duckdb.IOException as error:
                    if "lock" in str(error).lower():
                        raise WarehouseBusy(f"another process is writing {warehouse_path}") from None
                    raise
                shape = queries.warehouse_shape(connection)
                for _, statement in queries.build_statements(shape):
                    connection.execute(statement)
                connection.execute("detach wh")
                connection.execute(queries.LAKE_WEEKS_TABLE)
                if week_rows:
                    connection.executemany("insert into lake_weeks values (?, ?, ?, ?)", week_rows)
                connection.execute(queries.INFO_TABLE)
                built_at = datetime.now(UTC).isoformat(timespec="seconds")
                connection.executemany(
                    "insert into extract_info values (?, ?)",
                    [
                        ("warehouse_path", str(warehouse_path)),
                        ("warehouse_stamp", stamp),
                        ("built_at", built_at),
                        ("mta_published", str(shape.mta_published)),
                        ("comparison", str(shape.comparison)),
                        ("intervals", str(shape.intervals)),
                        ("lake_source", lake_source),
                    ],
                )
                connection.execute("checkpoint")
        os.replace(partial, extract_path)
    finally:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
    return Refresh(Outcome.BUILT, time.perf_counter() - started, f"extract built at {built_at}")


def refresh(
    warehouse_path: Path,
    extract_path: Path,
    lake: Lake | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> Refresh:
    """Rebuild the extract if the warehouse changed since it was built (or ``force``); never raises for a
    busy warehouse: it answers BUSY and leaves the extract as it was."""
    if not warehouse_path.exists():
        return Refresh(
            Outcome.NO_WAREHOUSE, message=f"no warehouse at {warehouse_path}: build the mart first"
        )
    if not force and extract_stamp(extract_path) == warehouse_stamp(warehouse_path):
        return Refresh(Outcome.FRESH)
    try:
        return build_extract(warehouse_path, extract_path, lake, now)
    except WarehouseBusy as busy:
        return Refresh(Outcome.BUSY, message=str(busy))
    except queries.NotAMart as error:
        return Refresh(Outcome.NOT_A_MART, message=str(error))


class Refresher:
    """Keeps the extract in step with the warehouse, in a background thread, one refresh at a time."""

    def __init__(self, warehouse_path: Path, lake_url: str) -> None:
        self.warehouse_path = warehouse_path
        self.extract_path = extract_path_for(warehouse_path)
        self.lake_url = lake_url
        self.last: Refresh | None = None
        self.seen_stamp: str | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_attempt = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, force: bool) -> None:
        try:
            lake = lake_at(self.lake_url)
        except Exception:
            lake = None  # the lake's weeks are shown as unreadable; the ridership still refreshes
        result = refresh(self.warehouse_path, self.extract_path, lake, force=force)
        with self._lock:
            self.last = result
            if result.outcome in (Outcome.BUILT, Outcome.FRESH):
                self.seen_stamp = warehouse_stamp(self.warehouse_path)

    def poke(self, force: bool = False, wait: float | None = 0.3) -> None:
        """Start a refresh if the warehouse changed since the last one (cheap: one stat), and give it
        ``wait`` seconds (None: until it ends), so that a quick answer (busy, a small warehouse) shows on
        the page that asked. A busy warehouse is tried again at most every ``BUSY_RETRY_SECONDS``."""
        if not self.warehouse_path.exists():
            self.last = Refresh(Outcome.NO_WAREHOUSE, message=f"no warehouse at {self.warehouse_path}")
            return
        with self._lock:
            stamp = warehouse_stamp(self.warehouse_path)
            busy_lately = (
                self.last is not None
                and self.last.outcome == Outcome.BUSY
                and time.monotonic() - self._last_attempt < BUSY_RETRY_SECONDS
            )
            if self.running or (not force and (self.seen_stamp == stamp or busy_lately)):
                return
            if not force and self.seen_stamp is None and extract_stamp(self.extract_path) == stamp:
                # The first page since the server started, on an extract already fresh (the command
                # refreshes it before Streamlit starts): nothing to do, and no thread for the page to
                # wait for (a fresh check through a thread cost that page up to ``wait`` seconds).
                self.seen_stamp, self.last = stamp, Refresh(Outcome.FRESH)
                return
            self._last_attempt = time.monotonic()
            self._thread = threading.Thread(target=self._run, args=(force,), daemon=True)
            self._thread.start()
            thread = self._thread
        thread.join(wait)
