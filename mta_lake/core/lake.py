"""Where lake objects live: a local folder or a GCS bucket, written whole or not at all.

Plain Python, no Dagster. Both lakes offer the same small interface (``Lake``) and pass the same
tests. A write goes through ``Lake.writer``: bytes are streamed to a place no reader sees (a
hidden temporary file; a hidden GCS staging object) and become the object, together with their
metadata, only when the ``with`` block ends cleanly. Any exception discards them and leaves an
older object untouched.

``open_lake(settings)`` is the one way any layer, tool or the warehouse opens the lake, and where
the GCS credentials are chosen (``gcs_credentials``). The interface both lakes offer is
``mta_lake.core.lake_interface`` (re-exported here); the local lake is here; the GCS lake is
``mta_lake.core.gcs_lake``.
"""

import fcntl
import json
import os
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlparse

from mta_lake.core.lake_interface import (
    CREDENTIALS_FILE_VARIABLE,
    GZIP,
    KEY_VARIABLE,
    PARQUET,
    Lake,
    LakeError,
    LakeObject,
    PendingObject,
    Writable,
    is_hidden,
)

# What the platform imports from here: the interface, and the two ways to get a lake.
__all__ = [
    "CREDENTIALS_FILE_VARIABLE",
    "GZIP",
    "KEY_VARIABLE",
    "PARQUET",
    "Lake",
    "LakeError",
    "LakeObject",
    "LocalLake",
    "PendingObject",
    "Writable",
    "gcs_credentials",
    "is_hidden",
    "open_lake",
    "parse_lake_url",
]

if TYPE_CHECKING:
    from mta_lake.core.settings import Settings


class LocalLake(Lake):
    """A folder on this machine. Metadata lives in a hidden JSON file beside each object.

    An object and its metadata are two files, replaced one after the other. Writers take a lock
    on the folder (``flock`` on the directory) around the two renames and readers a shared one
    around reading both, so that two writers of one key (two runs landing the same week) can never leave
    the bytes of one with the metadata of the other, and no reader sees such a pair.
    """

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

    @contextmanager
    def _locked(self, folder: Path, *, exclusive: bool) -> Iterator[None]:
        """The folder's own lock (``flock`` on the directory: no lock file to leave behind)."""
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(handle)  # closing releases the lock

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def stat(self, key: str) -> LakeObject | None:
        path = self._path(key)
        if not path.parent.is_dir():
            return None
        with self._locked(path.parent, exclusive=False):
            try:
                stat = path.stat()
            except FileNotFoundError:
                return None
            metadata = self._read_meta(path)
        return LakeObject(
            key=key, size=stat.st_size, metadata=metadata, updated=datetime.fromtimestamp(stat.st_mtime, UTC)
        )

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
                obj = self.stat(key)
                if obj is not None:  # not deleted since the folder was read
                    found.append(obj)
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
            self._replace(staging, staging_meta, path)
        finally:
            staging.unlink(missing_ok=True)
            staging_meta.unlink(missing_ok=True)

    def _replace(self, source: Path, source_meta: Path, path: Path) -> None:
        """``source`` and its metadata file become ``path`` and its metadata, under the folder's lock."""
        with self._locked(path.parent, exclusive=True):
            # The object first, then its metadata: a crash in between leaves metadata that is
            # older than the object, which at worst causes one needless re-land.
            os.replace(source, path)
            if source_meta.exists():
                os.replace(source_meta, self._meta_path(path))
            else:
                self._meta_path(path).unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def promote(self, staged_key: str, key: str) -> None:
        staged, path = self._path(staged_key), self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._replace(staged, self._meta_path(staged), path)

    def open_read(self, key: str) -> IO[bytes]:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not path.parent.is_dir():
            return
        with self._locked(path.parent, exclusive=True):
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


# -- opening the lake: the one place credentials are chosen ------------------------------------

EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
PROJECT_VARIABLE = "GOOGLE_CLOUD_PROJECT"
READ_WRITE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
READ_ONLY_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
EMULATOR_PROJECT = "mta-lake-emulator"


@dataclass(frozen=True)
class GCSCredentials:
    """The credentials chosen for GCS, the project, and which way they were given (a name, never a value)."""

    credentials: Any
    """A ``google.auth.credentials.Credentials``."""
    project: str | None
    source: str


def gcs_credentials(
    *,
    service_account_json: str | None = None,
    project: str | None = None,
    scopes: tuple[str, ...] = (READ_WRITE_SCOPE,),
    environ: Mapping[str, str] | None = None,
) -> GCSCredentials:
    """The GCS credentials the environment gives, in this order:

    1. a service-account key as JSON text: ``service_account_json`` (what Dagster resolved from the
       ``EnvVar``), else ``MTA_GCS_SERVICE_ACCOUNT_JSON`` read now;
    2. a key file named by ``GOOGLE_APPLICATION_CREDENTIALS``;
    3. anonymous, when ``STORAGE_EMULATOR_HOST`` points at an emulator (fake-gcs-server);
    4. Application Default Credentials (gcloud, the VM's or the workload's service account).

    An explicit key or key file wins over the emulator's anonymous access, so a key can be tested
    against an emulator (which then receives the requests: the storage client sends every request
    to ``STORAGE_EMULATOR_HOST`` whatever the credentials). Errors are ``LakeError`` naming the
    variable, never quoting the key or a parser's message about it.
    """
    env = os.environ if environ is None else environ
    key = service_account_json or env.get(KEY_VARIABLE) or None
    project = project or env.get(PROJECT_VARIABLE) or None
    if key:
        from google.oauth2 import service_account

        try:
            info = json.loads(key)
            if not isinstance(info, dict):
                raise ValueError("not a JSON object")
            credentials = service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
        except (ValueError, KeyError, TypeError, AttributeError):
            # Never echo the value or the parser's message: either could quote the key.
            raise LakeError(
                f"{KEY_VARIABLE} is not a valid service-account key (expected the JSON of a "
                "key file with client_email, private_key and token_uri)"
            ) from None
        return GCSCredentials(credentials, project or info.get("project_id"), KEY_VARIABLE)

    import google.auth
    import google.auth.exceptions

    key_file = env.get(CREDENTIALS_FILE_VARIABLE)
    if key_file:
        try:
            # As google.auth.default reads this variable (its warning is about files from strangers;
            # this one is the operator's own setting).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                credentials, file_project = google.auth.load_credentials_from_file(
                    key_file, scopes=list(scopes)
                )
        except (google.auth.exceptions.GoogleAuthError, ValueError, OSError) as error:
            raise LakeError(
                f"{CREDENTIALS_FILE_VARIABLE}={key_file} is not a usable key file ({type(error).__name__})"
            ) from None
        return GCSCredentials(credentials, project or file_project, CREDENTIALS_FILE_VARIABLE)
    if env.get(EMULATOR_VARIABLE):
        from google.auth.credentials import AnonymousCredentials

        return GCSCredentials(
            AnonymousCredentials(), project or EMULATOR_PROJECT, f"{EMULATOR_VARIABLE} (anonymous)"
        )
    try:
        credentials, default_project = google.auth.default(scopes=list(scopes))
    except google.auth.exceptions.DefaultCredentialsError:
        raise LakeError(
            f"no GCS credentials: set {CREDENTIALS_FILE_VARIABLE} to a key file, {KEY_VARIABLE} to a "
            "key, or run where Application Default Credentials exist"
        ) from None
    return GCSCredentials(credentials, project or default_project, "Application Default Credentials")


def open_lake(
    settings: "Settings",
    *,
    service_account_json: str | None = None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Lake:
    """The lake ``settings.lake_url`` names: a ``LocalLake``, or a ``GCSLake`` with the credentials
    ``gcs_credentials`` chooses (see there; ``service_account_json`` and ``project`` as there)."""
    scheme, location, prefix = parse_lake_url(settings.lake_url)
    if scheme == "file":
        return LocalLake(location)
    from google.cloud import storage

    from mta_lake.core.gcs_lake import GCSLake

    chosen = gcs_credentials(service_account_json=service_account_json, project=project, environ=environ)
    client = storage.Client(project=chosen.project, credentials=chosen.credentials)
    return GCSLake(client, location, prefix, credentials_source=chosen.source)


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
