"""Where lake objects live: a local folder or a GCS bucket, written whole or not at all.

Plain Python, no Dagster. Both lakes offer the same small interface (``Lake``) and pass the same
tests. A write goes through ``Lake.writer``: bytes are streamed to a place no reader sees (a
hidden temporary file; an unfinished GCS resumable upload) and become the object only when the
``with`` block ends cleanly. Any exception discards them and leaves an older object untouched.
"""

import json
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlparse

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
    """A store of immutable-looking objects addressed by ``/``-separated keys."""

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
        """A context manager yielding a ``PendingObject``; the object appears only on clean exit.

        ``content_type`` is what GCS serves the object as (raw files are gzip, the clean layer Parquet).
        """

    @abstractmethod
    def open_read(self, key: str) -> IO[bytes]:
        """The stored bytes of ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""

    @abstractmethod
    def check_access(self) -> None:
        """Fail early, with a clear ``LakeError``, if the lake cannot be listed."""


class LocalLake(Lake):
    """A folder on this machine. Metadata lives in a hidden JSON file beside each object."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"lake key {key!r} escapes the lake root {self.root}")
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.json")

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def stat(self, key: str) -> LakeObject | None:
        path = self._path(key)
        try:
            size = path.stat().st_size
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            return None
        return LakeObject(key=key, size=size, metadata=self._read_meta(path), updated=mtime)

    def _read_meta(self, path: Path) -> dict[str, str]:
        try:
            return json.loads(self._meta_path(path).read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def list(self, prefix: str) -> list[LakeObject]:
        # Like a bucket listing: every key that starts with ``prefix``, at any depth.
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self.root
        if not base.is_dir():
            return []
        found = []
        for entry in sorted(base.rglob("*")):
            relative = entry.relative_to(self.root)
            if any(part.startswith(".") for part in relative.parts) or not entry.is_file():
                continue  # hidden: metadata sidecars and writes in progress
            key = relative.as_posix()
            if key.startswith(prefix):
                stat = entry.stat()
                found.append(
                    LakeObject(
                        key=key,
                        size=stat.st_size,
                        metadata=self._read_meta(entry),
                        updated=datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
        return found

    @contextmanager
    def writer(self, key: str, content_type: str = GZIP) -> Iterator[PendingObject]:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LakeError(f"cannot create lake folder {path.parent} (MTA_LAKE_URL): {error}") from None
        token = uuid.uuid4().hex[:12]
        staging = path.with_name(f".{path.name}.{token}.part")
        staging_meta = path.with_name(f".{path.name}.{token}.json.part")
        try:
            with open(staging, "wb") as sink:
                pending = PendingObject(sink)
                yield pending
                sink.flush()
                os.fsync(sink.fileno())
            staging_meta.write_text(json.dumps(pending.metadata, sort_keys=True))
            # The object first, then its metadata: a crash in between leaves metadata that
            # is older than the object, which at worst causes one needless re-land.
            os.replace(staging, path)
            os.replace(staging_meta, self._meta_path(path))
            _fsync_dir(path.parent)
        finally:
            staging.unlink(missing_ok=True)
            staging_meta.unlink(missing_ok=True)

    def open_read(self, key: str) -> IO[bytes]:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        self._meta_path(path).unlink(missing_ok=True)

    def check_access(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LakeError(
                f"cannot create the lake folder {self.root} (MTA_LAKE_URL): {error.strerror}"
            ) from None
        if not os.access(self.root, os.W_OK):
            raise LakeError(f"the lake folder {self.root} is not writable (MTA_LAKE_URL)")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


GCS_UPLOAD_CHUNK = 2 << 20
"""Resumable-upload chunk size: at most this much compressed data is buffered in memory. 2 MiB
keeps peak memory the same for a 33 MB week and a file four times larger (benchmarks/RESULTS.md);
8 MiB buffered a whole chunk more for the larger one."""


class _GCSPendingObject(PendingObject):
    """Hands the metadata known so far to the upload session when it starts (the first chunk)."""

    def __init__(self, sink: Writable, blob: Any) -> None:
        super().__init__(sink)
        self._blob = blob

    def write(self, data: bytes, /) -> int | None:
        if self.bytes_written == 0:
            self._blob.metadata = dict(self.metadata)
        return super().write(data)


class GCSLake(Lake):
    """A bucket (and optional prefix) in Google Cloud Storage, through google-cloud-storage.

    ``client`` is a ``google.cloud.storage.Client``; it is passed in so that credentials are
    chosen in one place (``mta_lake.defs.resources``).
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.url = f"gs://{bucket}/{self.prefix}".rstrip("/")
        self._bucket = client.bucket(bucket)

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{self._name(key)}"

    def _translate(self, error: Exception, doing: str) -> Exception:
        import google.auth.exceptions
        from google.api_core import exceptions as gexc

        if isinstance(error, google.auth.exceptions.GoogleAuthError):
            # Never the error's text: a token endpoint's answer is nobody's business in a log.
            return LakeError(
                f"{doing}: the configured GCS credentials were refused ({type(error).__name__}); "
                "check MTA_GCS_SERVICE_ACCOUNT_JSON or GOOGLE_APPLICATION_CREDENTIALS"
            )

        # Uploads report HTTP errors as google.cloud.storage.exceptions.InvalidResponse (from
        # the resumable-media layer), other calls as google.api_core exceptions.
        status = getattr(getattr(error, "response", None), "status_code", None)
        if isinstance(error, gexc.NotFound) or status == 404:
            lost = ", or the upload session was lost" if doing.startswith("writing") else ""
            return LakeError(
                f"{doing}: bucket {self.bucket_name!r} does not exist or is not visible{lost} "
                f"(MTA_LAKE_URL={self.url})"
            )
        if isinstance(error, (gexc.Forbidden, gexc.Unauthorized)) or status in (401, 403):
            return LakeError(
                f"{doing}: access to gs://{self.bucket_name} was denied for the configured "
                "credentials (MTA_GCS_SERVICE_ACCOUNT_JSON or GOOGLE_APPLICATION_CREDENTIALS)"
            )
        if _is_storage_error(error):
            # Google's and requests' errors name URLs and status codes, never key material.
            text = str(error)
            text = text if len(text) <= 200 else text[:197] + "..."
            return LakeError(f"{doing}: {type(error).__name__}: {text} (MTA_LAKE_URL={self.url})")
        return error

    def stat(self, key: str) -> LakeObject | None:
        try:
            blob = self._bucket.get_blob(self._name(key))
        except Exception as error:
            raise self._translate(error, f"reading {self.uri(key)}") from None
        if blob is None:
            return None
        return LakeObject(key=key, size=blob.size, metadata=dict(blob.metadata or {}), updated=blob.updated)

    def list(self, prefix: str) -> list[LakeObject]:
        try:
            blobs = list(self.client.list_blobs(self.bucket_name, prefix=self._name(prefix)))
        except Exception as error:
            raise self._translate(error, f"listing {self.uri(prefix)}") from None
        return [
            LakeObject(key=self._key(b.name), size=b.size, metadata=dict(b.metadata or {}), updated=b.updated)
            for b in blobs
        ]

    @contextmanager
    def writer(self, key: str, content_type: str = GZIP) -> Iterator[PendingObject]:
        blob = self._bucket.blob(self._name(key), chunk_size=GCS_UPLOAD_CHUNK)
        blob.content_type = content_type
        try:
            # BlobWriter is a resumable upload: the object exists only once close() finalises it.
            sink = blob.open("wb", ignore_flush=True)
            try:
                pending = _GCSPendingObject(sink, blob)
                yield pending
                # The upload session starts with the first full chunk, or at close for objects
                # under one chunk. For small objects all metadata travels with the upload.
                blob.metadata = dict(pending.metadata)
                sent_early = pending.bytes_written >= GCS_UPLOAD_CHUNK
                sink.close()
            except BaseException:
                _abandon(sink)
                raise
            if sent_early:
                # A larger object (a real week: ~2.6 MB) started its upload with the source's
                # metadata (URL, ETag, Last-Modified: what change detection needs) before its
                # counts were known; add the counts now. The bytes are complete either way.
                blob.patch()
        except LakeError:
            raise
        except Exception as error:
            translated = self._translate(error, f"writing {self.uri(key)}")
            if translated is error:
                raise
            raise translated from None

    def open_read(self, key: str) -> IO[bytes]:
        return self._bucket.blob(self._name(key)).open("rb", raw_download=True)

    def delete(self, key: str) -> None:
        from google.api_core import exceptions as gexc

        with suppress(gexc.NotFound):
            self._bucket.blob(self._name(key)).delete()

    def check_access(self) -> None:
        try:
            next(iter(self.client.list_blobs(self.bucket_name, prefix=self._name(""), max_results=1)), None)
        except Exception as error:
            translated = self._translate(error, "checking the lake")
            if translated is error:
                raise LakeError(
                    f"checking the lake: cannot list gs://{self.bucket_name} "
                    f"(MTA_LAKE_URL={self.url}): {type(error).__name__}"
                ) from None
            raise translated from None


def _abandon(sink: Any) -> None:
    """Cancel a ``BlobWriter``'s upload and drop its buffer, whatever state it is in.

    Not ``BlobWriter.__exit__``: when close() itself fails (a missing bucket, a lost session) the
    writer stays open, and the garbage collector's close() would then retry the upload -- for
    minutes, from whichever thread happens to collect it, and possibly creating the object after
    the failure was reported.
    """
    with suppress(Exception):
        sink.terminate()  # deletes the resumable session, if one was started
    buffer = getattr(sink, "_buffer", None)  # terminate() skips this when the delete fails
    if buffer is not None:
        with suppress(Exception):
            buffer.close()


def _is_storage_error(error: BaseException) -> bool:
    """True for errors of the storage client's stack (not, say, a source error raised mid-write)."""
    import requests
    from google.api_core.exceptions import GoogleAPIError
    from google.cloud.storage.exceptions import InvalidResponse

    return isinstance(error, (GoogleAPIError, InvalidResponse, requests.RequestException))


def parse_lake_url(url: str) -> tuple[str, str, str]:
    """Split ``MTA_LAKE_URL`` into (scheme, location, prefix): ('file', path, '') or ('gs', bucket, prefix)."""
    parsed = urlparse(url)
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise LakeError(f"MTA_LAKE_URL={url!r} names no bucket: use gs://BUCKET[/PREFIX]")
        return "gs", parsed.netloc, parsed.path.strip("/")
    if parsed.scheme == "file":
        return "file", parsed.path, ""
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # a path (or a Windows drive)
        return "file", url, ""
    raise LakeError(f"MTA_LAKE_URL={url!r}: use a folder path, file:///path or gs://bucket[/prefix]")
