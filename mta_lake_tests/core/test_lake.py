"""Both lakes (mta_lake.lake): whole-or-nothing writes, metadata, listing, settings errors."""

import gc
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from google.cloud.storage.fileio import BlobWriter

from mta_lake.core.gcs_lake import GCS_UPLOAD_CHUNK, GCSLake
from mta_lake.core.lake import Lake, LakeError, LocalLake, parse_lake_url
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.gcs_proxy import GCSProxy

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
    """Over GCS_UPLOAD_CHUNK the GCS upload starts before the counts are known; the metadata still
    arrives with the object (and no staging object is left)."""
    data = os.urandom(GCS_UPLOAD_CHUNK + 12345)
    with lake.writer(KEY) as pending:
        for start in range(0, len(data), 1 << 20):
            pending.write(data[start : start + (1 << 20)])
        pending.metadata["source_bytes"] = str(len(data))
    assert read(lake, KEY) == data
    assert lake.stat(KEY).metadata == {"source_bytes": str(len(data))}  # type: ignore[union-attr]
    assert len(lake_snapshot()) in (1, 2)  # the object (and, locally, its metadata sidecar)


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


# -- object and metadata stay consistent ------------------------------------------------------

WRITER = """
import sys
from mta_lake.core.lake import LocalLake
lake, size, times = LocalLake(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for _ in range(times):
    with lake.writer("raw/turnstile/turnstile_170603.txt.gz") as pending:
        pending.write(b"x" * size)
        pending.metadata["stored_bytes"] = str(size)
"""


def test_two_local_writers_never_pair_one_objects_bytes_with_the_others_metadata(tmp_path: Path) -> None:
    """Two processes write one key over and over, each its own size and a metadata saying it; a
    reader checks every pair it sees. Without the folder lock the object of one was seen with the
    metadata of the other (object and sidecar are two renames)."""
    root = tmp_path / "lake"
    lake = LocalLake(root)
    with lake.writer(KEY) as pending:
        pending.write(b"x" * 100)
        pending.metadata["stored_bytes"] = "100"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(size), "400"]) for size in (100, 2000)
    ]
    seen, mismatched = 0, []
    try:
        while any(writer.poll() is None for writer in writers):
            obj = lake.stat(KEY)
            assert obj is not None
            seen += 1
            if str(obj.size) != obj.metadata.get("stored_bytes"):
                mismatched.append((obj.size, dict(obj.metadata)))
    finally:
        for writer in writers:
            assert writer.wait(60) == 0
    assert seen > 50, "the writers finished before the reader looked: the test proves nothing"
    assert mismatched == []
    final = lake.stat(KEY)
    assert final is not None and str(final.size) == final.metadata["stored_bytes"]
    assert [p.name for p in (root / "raw" / "turnstile").iterdir() if p.name.endswith(".part")] == []


def test_a_large_gcs_object_is_created_with_its_metadata_in_one_request(fake_gcs: FakeGCS) -> None:
    """Over one upload chunk the bytes go to a hidden staging object first; the object itself is
    created by one server-side rewrite carrying every metadata field (no later PATCH, so no moment
    when it exists without its counts), and the staging object is removed."""
    bucket = fake_gcs.create_bucket()
    data = os.urandom(3 * GCS_UPLOAD_CHUNK + 5)
    with GCSProxy(fake_gcs.url) as proxy:
        lake = GCSLake(proxy.client(), bucket, "mta")
        with lake.writer(KEY) as pending:
            pending.metadata["source_url"] = "http://example/turnstile_170603.txt"
            for start in range(0, len(data), 1 << 20):
                pending.write(data[start : start + (1 << 20)])
            pending.metadata["source_bytes"] = str(len(data))  # known only at the end
        creations = [line for line in proxy.requests if "rewriteTo" in line or "uploadType=multipart" in line]
        patches = [line for line in proxy.requests if line.startswith("PATCH")]
    assert len(creations) == 1 and "rewriteTo" in creations[0] and patches == []
    stat = lake.stat(KEY)
    assert stat is not None and stat.metadata == {
        "source_url": "http://example/turnstile_170603.txt",
        "source_bytes": str(len(data)),
    }
    assert read(lake, KEY) == data
    assert [b.name for b in fake_gcs.client().list_blobs(bucket)] == [f"mta/{KEY}"]  # no staging left
