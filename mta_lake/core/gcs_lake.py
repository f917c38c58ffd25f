"""The lake in a Google Cloud Storage bucket (and optional prefix), through google-cloud-storage.

Plain Python, no Dagster. The contract is ``mta_lake.core.lake.Lake``'s; open it with
``mta_lake.core.lake.open_lake``, which chooses the credentials. Every write creates its object
whole and with its metadata in the same request (see ``_GCSSink``).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from mta_lake.core.lake_interface import (
    CREDENTIALS_FILE_VARIABLE,
    GZIP,
    KEY_VARIABLE,
    Lake,
    LakeError,
    LakeObject,
    PendingObject,
    is_hidden,
)

GCS_UPLOAD_CHUNK = 2 << 20
"""Resumable-upload chunk size: at most this much compressed data is buffered in memory. 2 MiB
keeps peak memory the same for a 33 MB week and a file four times larger (benchmarks/RESULTS.md);
8 MiB buffered a whole chunk more for the larger one. An object up to this size is sent in one
request with its metadata; a larger one is streamed to a hidden staging object first."""


class _GCSSink:
    """Where a GCS write's bytes go: memory up to one chunk, then a hidden staging object.

    Metadata travels with the object's creating request in both cases: the small object is
    uploaded at the end in one request with it, and a large one is copied into place from the
    staging object by a server-side rewrite that sets it. No object ever exists without its counts.
    """

    def __init__(self, bucket: Any, staging_name: str, content_type: str) -> None:
        self._bucket = bucket
        self._staging_name = staging_name
        self._content_type = content_type
        self.buffer: bytearray | None = bytearray()
        self.staging: Any = None
        self.upload: Any = None

    def write(self, data: bytes, /) -> int:
        if self.upload is not None:
            self.upload.write(data)
            return len(data)
        assert self.buffer is not None
        self.buffer += data
        if len(self.buffer) > GCS_UPLOAD_CHUNK:
            self.staging = self._bucket.blob(self._staging_name, chunk_size=GCS_UPLOAD_CHUNK)
            self.staging.content_type = self._content_type
            # BlobWriter is a resumable upload: the staging object exists only once close() finalises it.
            self.upload = self.staging.open("wb", ignore_flush=True)
            self.upload.write(bytes(self.buffer))
            self.buffer = None
        return len(data)


class GCSLake(Lake):
    """A bucket (and optional prefix) in Google Cloud Storage, through google-cloud-storage.

    ``client`` is a ``google.cloud.storage.Client``; ``open_lake`` builds it with the credentials
    it chose (``credentials_source`` says which, by name).
    """

    def __init__(
        self, client: Any, bucket: str, prefix: str = "", credentials_source: str = "given client"
    ) -> None:
        self.client = client
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.url = f"gs://{bucket}/{self.prefix}".rstrip("/")
        self.credentials_source = credentials_source
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
                f"check {KEY_VARIABLE} or {CREDENTIALS_FILE_VARIABLE}"
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
                f"credentials ({KEY_VARIABLE} or {CREDENTIALS_FILE_VARIABLE})"
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
            if not is_hidden(self._key(b.name))
        ]

    @contextmanager
    def writer(self, key: str, content_type: str = GZIP) -> Iterator[PendingObject]:
        from google.cloud.storage.retry import DEFAULT_RETRY

        folder, _, name = self._name(key).rpartition("/")
        staging_name = f"{folder}/.{name}.{uuid.uuid4().hex[:12]}.part".lstrip("/")
        sink = _GCSSink(self._bucket, staging_name, content_type)
        staged = False
        try:
            try:
                pending = PendingObject(sink)
                yield pending
                if sink.upload is not None:
                    sink.upload.close()
                    staged = True
            except BaseException:
                if sink.upload is not None and not staged:
                    _abandon(sink.upload)
                raise
            target = self._bucket.blob(self._name(key))
            target.content_type = content_type
            target.metadata = dict(pending.metadata)
            if not staged:
                assert sink.buffer is not None
                # One request: the bytes and their metadata together (multipart upload). Retried by
                # the client on 5xx/429: sending the same bytes again is harmless.
                target.upload_from_string(bytes(sink.buffer), content_type=content_type, retry=DEFAULT_RETRY)
            else:
                self._rewrite(sink.staging, target)
        except LakeError:
            raise
        except Exception as error:
            translated = self._translate(error, f"writing {self.uri(key)}")
            if translated is error:
                raise
            raise translated from None
        finally:
            if staged:
                self._delete_quietly(sink.staging)

    def _rewrite(self, source: Any, target: Any) -> None:
        """Copy ``source`` to ``target`` on the server, with ``target``'s content type and metadata.

        Within one bucket a rewrite copies no bytes; it creates the object whole with the metadata
        given, so no reader ever sees the object without it. Retried by the client: it is idempotent.
        """
        from google.cloud.storage.retry import DEFAULT_RETRY

        token = None
        while True:
            token, _, _ = target.rewrite(source, token=token, retry=DEFAULT_RETRY)
            if token is None:
                return

    def _delete_quietly(self, blob: Any) -> None:
        # A staging object left behind (the delete failed, or a kill) is hidden from every listing;
        # deploy/terraform's lifecycle rule removes such leftovers after a day.
        with suppress(Exception):
            blob.delete()

    def promote(self, staged_key: str, key: str) -> None:
        try:
            source = self._bucket.get_blob(self._name(staged_key))
            if source is None:
                raise LakeError(
                    f"promoting {self.uri(staged_key)}: it does not exist (MTA_LAKE_URL={self.url})"
                )
            target = self._bucket.blob(self._name(key))
            target.content_type = source.content_type
            target.metadata = dict(source.metadata or {})
            self._rewrite(source, target)
        except LakeError:
            raise
        except Exception as error:
            translated = self._translate(error, f"writing {self.uri(key)}")
            if translated is error:
                raise
            raise translated from None
        self._delete_quietly(source)

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
