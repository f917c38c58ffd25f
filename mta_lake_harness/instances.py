"""Ephemeral Dagster instances for in-process tests, with the partitions a deployment would have."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance

from mta_lake.core import weeks
from mta_lake.core.published_weeks import PARTITIONS_NAME


def every_ended_week() -> list[str]:
    """Every week since 2010-05-01 that has ended: the partitions if the MTA had published them all."""
    return [week.isoformat() for week in weeks.weeks_between(weeks.FIRST_WEEK, weeks.latest_ended_week())]


@contextmanager
def instance_with_every_week() -> Iterator[DagsterInstance]:
    """An ephemeral instance whose ``turnstile_weeks`` are every ended week (in a deployment the index
    sensor adds the published ones)."""
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, every_ended_week())
        yield instance


def add_partitions(dagster_home: Path, keys: Sequence[str]) -> None:
    """Add ``keys`` to the partitions of the instance in ``dagster_home`` (what the index sensor does
    for published weeks), before its processes start: tests that are not about which weeks are
    published start with their weeks already partitions."""
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, list(keys))
