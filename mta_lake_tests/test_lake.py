"""Both lakes (mta_lake.lake): whole-or-nothing writes, metadata, listing, settings errors."""

import gc
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from google.cloud.storage.fileio import BlobWriter

from mta_lake.core.lake import GCS_UPLOAD_CHUNK, GCSLake, Lake, LakeError, LocalLake, parse_lake_url
from mta_lake_tests.support.fake_gcs import FakeGCS

Snapshot = Callable[[], dict[str, tuple[bytes, dict[str, str]]]]
KEY = "raw/turnstile/turnstile_170603.txt.gz"


class Boom(Exception):
    pass


def read(lake: Lake, key: str) -> bytes:
    with lake.open_read(key) as stream:
        return stream.read()


def test_write_then_read_with_metadata(lake: Lake) -> None:
    with lake.writer(KEY) as pending:
        pending.write(b"abc")
        pending.write(b"def")
        pending.metadata["source_crc32c"] = "0badf00d"  # filled in as late as the block's end
    assert read(lake, KEY) == b"abcdef"
    stat = lake.stat(KEY)
    assert stat is not None and stat.size == 6 and stat.metadata == {"source_crc32c": "0badf00d"}
    assert stat.updated is not None
    assert [(o.key, o.size, dict(o.metadata)) for o in lake.list("raw/turnstile/")] == [
        (KEY, 6, {"source_crc32c": "0badf00d"})
    ]
    assert lake.list("raw/turnstile/turnstile_17") and not lake.list("raw/turnstile/turnstile_18")
    # Any prefix, at any depth, as a bucket listing does; hidden sidecars never show.
    assert [o.key for o in lake.list("raw/")] == [o.key for o in lake.list("")] == [KEY]
    assert [o.key for o in lake.list("raw/tur")] == [KEY]
    assert lake.stat("raw/turnstile/other.gz") is None


def test_object_appears_only_when_the_block_ends(lake: Lake, lake_snapshot: Snapshot) -> None:
    with lake.writer(KEY) as pending:
        pending.write(b"x" * 1000)
        assert lake.stat(KEY) is None
        assert lake.list("raw/") == []
    assert lake.stat(KEY) is not None


def test_failed_write_leaves_nothing(lake: Lake, lake_snapshot: Snapshot) -> None:
    with pytest.raises(Boom), lake.writer(KEY) as pending:
        pending.write(b"partial")
        pending.metadata["x"] = "y"
        raise Boom
    assert lake_snapshot() == {}


def test_failed_rewrite_keeps_the_old_object(lake: Lake, lake_snapshot: Snapshot) -> None:
    with lake.writer(KEY) as pending:
        pending.write(b"old bytes")
        pending.metadata["v"] = "1"
    before = lake_snapshot()
    with pytest.raises(Boom), lake.writer(KEY) as pending:
        pending.write(b"new bytes, never finished")
        raise Boom
    assert lake_snapshot() == before
    with lake.writer(KEY) as pending:
        pending.write(b"new")
        pending.metadata["v"] = "2"
    assert read(lake, KEY) == b"new" and lake.stat(KEY).metadata == {"v": "2"}  # type: ignore[union-attr]


def test_object_larger_than_an_upload_chunk(lake: Lake, lake_snapshot: Snapshot) -> None:
    """Over GCS_UPLOAD_CHUNK the GCS upload starts before the counts are known; metadata follows."""
    data = os.urandom(GCS_UPLOAD_CHUNK + 12345)
    with lake.writer(KEY) as pending:
        for start in range(0, len(data), 1 << 20):
            pending.write(data[start : start + (1 << 20)])
        pending.metadata["source_bytes"] = str(len(data))
    assert read(lake, KEY) == data
    assert lake.stat(KEY).metadata == {"source_bytes": str(len(data))}  # type: ignore[union-attr]


def test_failed_large_write_leaves_nothing(lake: Lake, lake_snapshot: Snapshot) -> None:
    """A failure after the GCS upload has started (past one chunk) still stores nothing."""
    with pytest.raises(Boom), lake.writer(KEY) as pending:
        pending.write(os.urandom(GCS_UPLOAD_CHUNK + 1000))
        raise Boom
    assert lake_snapshot() == {}


def test_delete(lake: Lake, lake_snapshot: Snapshot) -> None:
    with lake.writer(KEY) as pending:
        pending.write(b"x")
        pending.metadata["a"] = "b"
    lake.delete(KEY)
    lake.delete(KEY)  # already gone: no error
    assert lake.stat(KEY) is None
    assert {name for name in lake_snapshot() if not name.endswith("/")} == set()


def test_check_access_on_a_usable_lake(lake: Lake) -> None:
    lake.check_access()


def test_local_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    with pytest.raises(ValueError, match="escapes"):
        lake.stat("../outside.gz")


def test_local_lake_that_cannot_be_created_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    lake = LocalLake(tmp_path / "a-file" / "lake")
    with pytest.raises(LakeError, match="MTA_LAKE_URL"):
        lake.check_access()
    with pytest.raises(LakeError, match="MTA_LAKE_URL"), lake.writer(KEY):
        pass


def test_gcs_uri_includes_the_prefix() -> None:
    lake = GCSLake(client=_NoClient(), bucket="b", prefix="/mta/")
    assert lake.url == "gs://b/mta"
    assert lake.uri(KEY) == f"gs://b/mta/{KEY}"


class _NoClient:
    def bucket(self, name: str) -> object:
        return object()


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("gs://bucket", ("gs", "bucket", "")),
        ("gs://bucket/a/b/", ("gs", "bucket", "a/b")),
        ("file:///srv/lake", ("file", "/srv/lake", "")),
        ("/srv/lake", ("file", "/srv/lake", "")),
        ("data/lake", ("file", "data/lake", "")),
    ],
)
def test_parse_lake_url(url: str, parsed: tuple[str, str, str]) -> None:
    assert parse_lake_url(url) == parsed


def test_failed_upload_is_not_retried_behind_our_back(fake_gcs: FakeGCS) -> None:
    """A write that failed stays failed: nothing uploads it later when the writer is collected."""
    bucket = f"late-{uuid.uuid4().hex[:8]}"
    client = fake_gcs.client()
    lake = GCSLake(client, bucket, "p")
    with pytest.raises(LakeError, match="does not exist") as caught, lake.writer(KEY) as pending:
        pending.write(b"complete bytes")
    # The failed writer is still referenced (by the traceback): it must already be closed, or
    # collecting it would call close() and retry the upload.
    open_writers = [o for o in gc.get_objects() if isinstance(o, BlobWriter) and not o.closed]
    assert open_writers == []
    fake_gcs.create_bucket(bucket)
    del caught
    gc.collect()
    assert list(client.list_blobs(bucket)) == []
