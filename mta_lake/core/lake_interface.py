"""What every lake offers, whatever it is kept in: the ``Lake`` interface, its objects and errors.

Plain Python, no Dagster. ``mta_lake.core.lake`` (a folder, and ``open_lake``) and
``mta_lake.core.gcs_lake`` (a GCS bucket) implement it; both pass the same tests.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol

# The variables that hold the GCS credentials: named in errors, never their values.
KEY_VARIABLE = "MTA_GCS_SERVICE_ACCOUNT_JSON"
CREDENTIALS_FILE_VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"

GZIP = "application/gzip"
PARQUET = "application/vnd.apache.parquet"


class LakeError(Exception):
    """The lake cannot be used as configured. Messages name the setting, never a secret."""


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    updated: datetime | None = None


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


class PendingObject:
    """What ``Lake.writer`` yields: a sink for the bytes, and the metadata to store with them.

    ``metadata`` may be filled in until the ``with`` block ends (counts are only known then).
    """

    def __init__(self, sink: Writable) -> None:
        self._sink = sink
        self.metadata: dict[str, str] = {}
        self.bytes_written = 0

    def write(self, data: bytes, /) -> int | None:
        self.bytes_written += len(data)
        return self._sink.write(data)


class Lake(ABC):
    """A store of immutable-looking objects addressed by ``/``-separated keys.

    A key with a path part starting with ``.`` is hidden: written and read like any other, never
    listed (staging objects, re-land candidates, local metadata sidecars).
    """

    url: str

    @abstractmethod
    def uri(self, key: str) -> str:
        """The address a person or another tool would use for ``key``."""

    @abstractmethod
    def stat(self, key: str) -> LakeObject | None:
        """The object at ``key`` with its metadata, or None."""

    @abstractmethod
    def list(self, prefix: str) -> list[LakeObject]:
        """Every object whose key starts with ``prefix`` (read from the store, not remembered)."""

    @abstractmethod
    def writer(self, key: str, content_type: str = GZIP) -> AbstractContextManager[PendingObject]:
        """A context manager yielding a ``PendingObject``; the object appears only on clean exit,
        with the metadata filled in by then.

        ``content_type`` is what GCS serves the object as (raw files are gzip, the clean layer Parquet).
        """

    @abstractmethod
    def open_read(self, key: str) -> IO[bytes]:
        """The stored bytes of ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""

    @abstractmethod
    def promote(self, staged_key: str, key: str) -> None:
        """Make the object at ``staged_key`` (bytes and metadata) the object at ``key``, in one step,
        then remove ``staged_key``. Readers of ``key`` see the old object or the new one, never a mix."""

    @abstractmethod
    def check_access(self) -> None:
        """Fail early, with a clear ``LakeError``, if the lake cannot be listed."""


def is_hidden(key: str) -> bool:
    return any(part.startswith(".") for part in key.split("/"))
