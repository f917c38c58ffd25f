"""Landing a week (mta_lake.landing) from the real mirror into both lakes, no Dagster.

Every test runs twice through the ``lake`` fixture: a local folder and a fake-gcs-server bucket.
"""

import gzip
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import google_crc32c
import pytest

from mta_lake.core import weeks
from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.lake import Lake, LakeError
from mta_lake.core.landing import (
    LakeWriteError,
    LandingError,
    RetriesExhaustedError,
    WeekNotPublishedError,
    land_week,
)
from mta_lake.core.landing_report import LandingReport
from mta_lake.core.layout import raw_key
from mta_lake.core.source import MtaSite, RetryPolicy
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.mirror import (
    Drip,
    GzipBomb,
    GzipEncoded,
    MtaMirror,
    Redirect,
    Replace,
    Reset,
    Stall,
    Status,
    Truncate,
)
from mta_lake_tests.conftest import FAST_RETRY, FULL_WEEKS, SAMPLE_WEEKS

Snapshot = Callable[[], dict[str, tuple[bytes, dict[str, str]]]]

NEW_SAMPLE = "turnstile_170603.txt"  # CRLF, padded, header
OLD_SAMPLE = "turnstile_110528.txt"
HEADER_LINE = b"C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS" + b" " * 63 + b"\r\n"


def week_file_for(name: str) -> weeks.WeekFile:
    file_date = weeks.file_date_from_name(name)
    return weeks.WeekFile(week=weeks.week_of_file(file_date), file_date=file_date, from_index=True)


def expected_rows(data: bytes) -> int:
    """Counted independently of the code under test: lines, minus the header if there is one."""
    return len(data.splitlines()) - (1 if data.startswith(b"C/A,UNIT,SCP,STATION") else 0)


def read_object(lake: Lake, name: str) -> bytes:
    with lake.open_read(raw_key(name)) as stored:
        return stored.read()


def assert_single_member_gzip(stored: bytes) -> bytes:
    """Decompress ``stored``, checking it is exactly one gzip member and nothing after it."""
    decompressor = zlib.decompressobj(31)
    data = decompressor.decompress(stored) + decompressor.flush()
    assert decompressor.eof, "gzip stream is incomplete"
    assert decompressor.unused_data == b"", "more than one gzip member (or trailing bytes)"
    assert gzip.decompress(stored) == data
    return data


def assert_landed(lake: Lake, name: str, data: bytes, report: LandingReport, mirror_url: str) -> None:
    stored = read_object(lake, name)
    assert assert_single_member_gzip(stored) == data
    crc = f"{google_crc32c.value(data):08x}"
    assert report.stats.source_bytes == len(data)
    assert report.stats.stored_bytes == len(stored)
    assert report.stats.data_rows == expected_rows(data)
    assert report.stats.crc32c == crc
    assert report.source_url == f"{mirror_url}/data/nyct/turnstile/{name}"
    assert report.uri == lake.uri(raw_key(name))
    stat = lake.stat(raw_key(name))
    assert stat is not None and stat.size == len(stored)
    assert stat.metadata["source_crc32c"] == crc
    assert stat.metadata["source_bytes"] == str(len(data))
    assert stat.metadata["data_rows"] == str(expected_rows(data))
    assert stat.metadata["source_url"] == report.source_url
    assert stat.metadata["landed_at"]


# -- byte-exact round trips -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE_WEEKS))
def test_sample_round_trip(
    name: str, mirror: MtaMirror, site: MtaSite, lake: Lake, sample_files: dict[str, bytes]
) -> None:
    report = land_week(week_file_for(name), site, lake)
    assert report.status == "landed"
    assert report.week == SAMPLE_WEEKS[name]
    assert_landed(lake, name, sample_files[name], report, mirror.url)
    assert report.server.etag and report.server.last_modified
    assert report.server.content_length == len(sample_files[name])
    assert lake.stat(raw_key(name)).metadata["source_etag"] == report.server.etag  # type: ignore[union-attr]


def test_full_week_round_trip(
    mirror: MtaMirror, site: MtaSite, lake: Lake, full_week_files: dict[str, Path]
) -> None:
    name = "turnstile_240106.txt"
    mirror.add(name, full_week_files[name])
    week_file = weeks.resolve_week(date.fromisoformat(FULL_WEEKS[name]), None)
    assert week_file is not None and week_file.name == name
    report = land_week(week_file, site, lake)
    data = full_week_files[name].read_bytes()
    assert_landed(lake, name, data, report, mirror.url)
    assert report.stats.data_rows == 250_816  # the MANIFEST's count, a sanity check of the fixture
    assert report.stats.stored_bytes < len(data) / 5


def test_full_week_memory_stays_flat(
    mirror: MtaMirror, full_week_files: dict[str, Path], tmp_path: Path
) -> None:
    """Peak RSS of a process landing a 33 MB week grows by far less than the file's size."""
    name = "turnstile_240106.txt"
    mirror.add(name, full_week_files[name])
    mirror.add("turnstile_240113.txt", b"")  # unused; keeps the index realistic
    script = f"""
import json, resource, sys
from mta_lake.core import weeks
from mta_lake.core.lake import LocalLake
from mta_lake.core.landing import land_week
from mta_lake.core.source import MtaSite
site = MtaSite({mirror.url!r})
lake = LocalLake({str(tmp_path / "lake")!r})
# Warm up every code path on a small week first, so the baseline includes imports and buffers.
land_week(weeks.WeekFile(weeks.date(2017, 5, 27), weeks.date(2017, 6, 3), True), site, lake)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = land_week(weeks.WeekFile(weeks.date(2023, 12, 30), weeks.date(2024, 1, 6), True), site, lake)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"growth_kb": after - before, "bytes": report.stats.source_bytes}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["bytes"] == full_week_files[name].stat().st_size
    # Holding the file would add 33 MB; streaming needs a few chunks and zlib's state.
    assert measured["growth_kb"] < 12 * 1024, measured


# -- bad input ------------------------------------------------------------------------------


def assert_failed(
    caught: pytest.ExceptionInfo[LandingError], name: str, mirror: MtaMirror, reason: str
) -> None:
    message = str(caught.value)
    week = weeks.week_of_file(weeks.file_date_from_name(name)).isoformat()
    assert f"week {week}" in message
    assert name in message
    assert f"{mirror.url}/data/nyct/turnstile/{name}" in message
    assert reason in message, message
    assert caught.value.week == week and caught.value.file_name == name


BAD_BODIES = {
    "html": (
        NEW_SAMPLE,
        Replace(b"<!DOCTYPE html>\n<html><body>Sorry</body></html>\n", "text/html"),
        "an HTML page",
    ),
    "html_no_doctype": (
        NEW_SAMPLE,
        Replace(b"<html><body>Sorry</body></html>\n", "text/html"),
        "an HTML page",
    ),
    "neither_format": (NEW_SAMPLE, Replace(b"station,entries\nTIMES SQ,12\n"), "neither turnstile format"),
    "empty": (NEW_SAMPLE, Replace(b""), "empty file"),
    "header_only": (NEW_SAMPLE, Replace(HEADER_LINE), "header only"),
    "header_only_no_newline": (NEW_SAMPLE, Replace(HEADER_LINE.rstrip()), "header only"),
    "old_format_after_2014_10_18": (NEW_SAMPLE, None, "old-format row"),
    "new_format_before_2014_10_18": (OLD_SAMPLE, None, "new-format header"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_body_fails_and_writes_nothing(
    case: str,
    mirror: MtaMirror,
    site: MtaSite,
    lake: Lake,
    lake_snapshot: Snapshot,
    sample_files: dict[str, bytes],
) -> None:
    name, fault, reason = BAD_BODIES[case]
    if fault is None:  # the other era's sample served under this name
        other = OLD_SAMPLE if name == NEW_SAMPLE else NEW_SAMPLE
        fault = Replace(sample_files[other])
    mirror.inject(name, fault)
    with pytest.raises(LandingError) as caught:
        land_week(week_file_for(name), site, lake)
    assert_failed(caught, name, mirror, reason)
    assert not isinstance(caught.value, RetriesExhaustedError)
    assert mirror.gets(name) == 1  # a bad file is not retried
    assert lake_snapshot() == {}


def test_404_is_not_published_and_not_retried(
    mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot
) -> None:
    name = "turnstile_240120.txt"
    with pytest.raises(WeekNotPublishedError) as caught:
        land_week(week_file_for(name), site, lake)
    assert_failed(caught, name, mirror, "not published (HTTP 404)")
    assert mirror.gets(name) == 1
    assert lake_snapshot() == {}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Truncate(1000), "cut short"),
        (Reset(1000), "Connection reset"),
        (Reset(0), "Connection reset"),
        (Status(503), "HTTP 503"),
    ],
    ids=["truncate", "reset", "reset_before_body", "503"],
)
def test_transient_failure_after_the_retries_writes_nothing(
    fault: object, reason: str, mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot
) -> None:
    mirror.inject(NEW_SAMPLE, *[fault] * (FAST_RETRY.max_retries + 1))  # type: ignore[arg-type]
    with pytest.raises(RetriesExhaustedError) as caught:
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert_failed(caught, NEW_SAMPLE, mirror, reason)
    assert f"gave up after {FAST_RETRY.max_retries + 1} attempts" in str(caught.value)
    assert mirror.gets(NEW_SAMPLE) == FAST_RETRY.max_retries + 1
    assert lake_snapshot() == {}


@pytest.mark.parametrize(
    "faults",
    [
        (Status(503), Status(502)),
        (Status(500), Reset(5000)),
        (Truncate(70000),),
    ],
    ids=["5xx_burst", "500_then_reset", "truncate_once"],
)
def test_transient_failures_then_success_land_correctly(
    faults: tuple[object, ...],
    mirror: MtaMirror,
    site: MtaSite,
    lake: Lake,
    lake_snapshot: Snapshot,
    sample_files: dict[str, bytes],
) -> None:
    mirror.inject(NEW_SAMPLE, *faults)  # type: ignore[arg-type]
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert report.attempts == len(faults) + 1
    assert mirror.gets(NEW_SAMPLE) == len(faults) + 1
    assert_landed(lake, NEW_SAMPLE, sample_files[NEW_SAMPLE], report, mirror.url)
    # Only the object (and, locally, its metadata sidecar): no leftovers of the failed attempts.
    assert len(lake_snapshot()) in (1, 2)
    assert all(".part" not in name for name in lake_snapshot())


def make_site(mirror: MtaMirror, **kwargs: object) -> MtaSite:
    return MtaSite(mirror.url, **kwargs)  # type: ignore[arg-type]


def test_429_retry_after_is_honoured(mirror: MtaMirror, lake: Lake, sample_files: dict[str, bytes]) -> None:
    mirror.inject(NEW_SAMPLE, Status(429, headers={"Retry-After": "1"}))
    site = make_site(mirror, retry=RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=5))
    started = time.monotonic()
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    waited = time.monotonic() - started
    assert report.attempts == 2 and mirror.gets(NEW_SAMPLE) == 2
    assert 1.0 <= waited < 4, waited  # the server's 1 s, not the policy's 0.01 s
    assert_landed(lake, NEW_SAMPLE, sample_files[NEW_SAMPLE], report, mirror.url)


def test_429_retry_after_is_bounded(mirror: MtaMirror, lake: Lake, sample_files: dict[str, bytes]) -> None:
    mirror.inject(NEW_SAMPLE, Status(429, headers={"Retry-After": "3600"}))
    site = make_site(mirror, retry=RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.3))
    started = time.monotonic()
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert time.monotonic() - started < 3  # capped at backoff_max, not an hour
    assert report.attempts == 2
    assert read_object(lake, NEW_SAMPLE) and report.stats.source_bytes == len(sample_files[NEW_SAMPLE])


def test_stall_longer_than_read_timeout_is_transient(
    mirror: MtaMirror, lake: Lake, lake_snapshot: Snapshot, sample_files: dict[str, bytes]
) -> None:
    mirror.inject(NEW_SAMPLE, Stall(seconds=2.0, after=4096))
    site = make_site(mirror, read_timeout=0.4, retry=FAST_RETRY)
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert report.attempts == 2  # the stalled attempt was abandoned and retried
    assert_landed(lake, NEW_SAMPLE, sample_files[NEW_SAMPLE], report, mirror.url)


def test_stall_on_every_attempt_gives_up(mirror: MtaMirror, lake: Lake, lake_snapshot: Snapshot) -> None:
    mirror.inject(NEW_SAMPLE, *[Stall(seconds=1.0, after=4096)] * 2)
    site = make_site(
        mirror, read_timeout=0.2, retry=RetryPolicy(max_retries=1, backoff_base=0.01, backoff_max=0.02)
    )
    with pytest.raises(RetriesExhaustedError) as caught:
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert_failed(caught, NEW_SAMPLE, mirror, "timed out")
    assert lake_snapshot() == {}


def test_gzip_content_encoding_lands_the_decoded_bytes(
    mirror: MtaMirror, site: MtaSite, lake: Lake, sample_files: dict[str, bytes]
) -> None:
    mirror.inject(NEW_SAMPLE, GzipEncoded())
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert_landed(lake, NEW_SAMPLE, sample_files[NEW_SAMPLE], report, mirror.url)
    # Content-Length counted the encoded bytes: it is not the file's size, so not recorded.
    assert report.server.content_length is None


def test_failed_reland_leaves_the_old_object(
    mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot, sample_files: dict[str, bytes]
) -> None:
    land_week(week_file_for(NEW_SAMPLE), site, lake)
    before = lake_snapshot()
    attempts = FAST_RETRY.max_retries + 1
    # Asked for a re-land, the download fails every time.
    mirror.inject(NEW_SAMPLE, *[Reset(2000)] * attempts)
    with pytest.raises(RetriesExhaustedError):
        land_week(week_file_for(NEW_SAMPLE), site, lake, reland=True)
    assert lake_snapshot() == before
    # The source changed; the change check (HEAD, answered normally: faults affect headers
    # only when they replace them) sees it, then every download is cut short.
    mirror.add(NEW_SAMPLE, sample_files[NEW_SAMPLE] + sample_files[NEW_SAMPLE].splitlines(keepends=True)[1])
    mirror.inject(NEW_SAMPLE, *[Truncate(5000)] * (1 + attempts))
    with pytest.raises(RetriesExhaustedError):
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert mirror.heads(NEW_SAMPLE) == 1 and mirror.gets(NEW_SAMPLE) == 1 + 2 * attempts
    assert lake_snapshot() == before
    # A bad file in its place.
    mirror.inject(NEW_SAMPLE, Replace(b"<html>maintenance</html>"))
    with pytest.raises(LandingError, match="HTML page"):
        land_week(week_file_for(NEW_SAMPLE), site, lake, reland=True)
    assert lake_snapshot() == before
    assert assert_single_member_gzip(read_object(lake, NEW_SAMPLE)) == sample_files[NEW_SAMPLE]


# -- idempotent re-runs ---------------------------------------------------------------------


def test_second_land_is_already_landed_without_a_download(
    mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot, sample_files: dict[str, bytes]
) -> None:
    first = land_week(week_file_for(NEW_SAMPLE), site, lake)
    before = lake_snapshot()
    second = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert second.status == "already_landed" and not second.downloaded
    assert mirror.gets(NEW_SAMPLE) == 1  # only the first land downloaded
    assert mirror.heads(NEW_SAMPLE) == 1  # the second only asked whether it changed
    assert second.stats == first.stats  # read back from what was recorded
    assert second.uri == first.uri
    assert lake_snapshot() == before


def test_changed_source_is_relanded(
    mirror: MtaMirror, site: MtaSite, lake: Lake, sample_files: dict[str, bytes]
) -> None:
    land_week(week_file_for(NEW_SAMPLE), site, lake)
    corrected = sample_files[NEW_SAMPLE][: -130 * 5]  # the MTA republished it, 5 lines shorter
    mirror.add(NEW_SAMPLE, corrected)
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert report.status == "relanded"
    assert mirror.gets(NEW_SAMPLE) == 2
    assert_landed(lake, NEW_SAMPLE, corrected, report, mirror.url)
    assert lake.stat(raw_key(NEW_SAMPLE)).metadata["source_etag"] == report.server.etag  # type: ignore[union-attr]
    # Unchanged since: not downloaded again.
    assert land_week(week_file_for(NEW_SAMPLE), site, lake).status == "already_landed"
    assert mirror.gets(NEW_SAMPLE) == 2


def test_reland_requested_downloads_again(
    mirror: MtaMirror, site: MtaSite, lake: Lake, sample_files: dict[str, bytes]
) -> None:
    land_week(week_file_for(NEW_SAMPLE), site, lake)
    report = land_week(week_file_for(NEW_SAMPLE), site, lake, reland=True)
    assert report.status == "relanded" and report.downloaded
    assert mirror.gets(NEW_SAMPLE) == 2
    assert_landed(lake, NEW_SAMPLE, sample_files[NEW_SAMPLE], report, mirror.url)


def test_object_put_by_hand_is_already_landed(mirror: MtaMirror, site: MtaSite, lake: Lake) -> None:
    by_hand = gzip.compress(b"whatever someone copied here\n")
    with lake.writer(raw_key(NEW_SAMPLE)) as pending:
        pending.write(by_hand)  # no metadata recorded
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert report.status == "already_landed"
    assert mirror.gets(NEW_SAMPLE) == 0 and mirror.heads(NEW_SAMPLE) == 0
    assert read_object(lake, NEW_SAMPLE) == by_hand


def test_source_gone_keeps_the_landed_copy(
    mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot
) -> None:
    land_week(week_file_for(NEW_SAMPLE), site, lake)
    before = lake_snapshot()
    mirror.remove(NEW_SAMPLE)
    assert land_week(week_file_for(NEW_SAMPLE), site, lake).status == "already_landed"
    mirror.inject(NEW_SAMPLE, *[Status(503)] * (FAST_RETRY.max_retries + 1))
    assert land_week(week_file_for(NEW_SAMPLE), site, lake).status == "already_landed"
    assert lake_snapshot() == before


def test_missing_bucket_is_a_landing_error_naming_the_week(
    mirror: MtaMirror, site: MtaSite, fake_gcs: FakeGCS
) -> None:
    lake = GCSLake(fake_gcs.client(), "no-such-bucket", "mta")
    with pytest.raises(LakeWriteError) as caught:
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert_failed(caught, NEW_SAMPLE, mirror, "bucket 'no-such-bucket' does not exist")
    assert isinstance(caught.value, LakeError) and "MTA_LAKE_URL" in str(caught.value)


# -- the source is untrusted ------------------------------------------------------------------


def test_a_redirect_to_another_host_never_lands(
    mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot, sample_files: dict[str, bytes]
) -> None:
    """The other host serves a perfectly good file: it is still not the site's, so nothing lands."""
    with MtaMirror() as elsewhere:
        elsewhere.add(NEW_SAMPLE, sample_files[NEW_SAMPLE])
        target = f"{elsewhere.url.replace('127.0.0.1', 'localhost')}/data/nyct/turnstile/{NEW_SAMPLE}"
        mirror.inject(NEW_SAMPLE, Redirect(target))
        with pytest.raises(LandingError) as caught:
            land_week(week_file_for(NEW_SAMPLE), site, lake)
        assert sum(elsewhere.requests.values()) == 0
    assert_failed(caught, NEW_SAMPLE, mirror, f"redirected to {target!r}, outside the configured site")
    assert not isinstance(caught.value, (RetriesExhaustedError, LakeError))
    assert lake_snapshot() == {}


def test_a_redirect_within_the_site_records_the_url_that_served_the_bytes(
    mirror: MtaMirror, site: MtaSite, lake: Lake, sample_files: dict[str, bytes]
) -> None:
    mirror.add("moved_170603.txt", sample_files[NEW_SAMPLE], listed=False)
    mirror.inject(NEW_SAMPLE, Redirect("moved_170603.txt", 308))
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    served = f"{mirror.url}/data/nyct/turnstile/moved_170603.txt"
    assert report.source_url == served
    stat = lake.stat(raw_key(NEW_SAMPLE))
    assert stat is not None and stat.metadata["source_url"] == served
    assert assert_single_member_gzip(read_object(lake, NEW_SAMPLE)) == sample_files[NEW_SAMPLE]


def test_a_week_over_the_cap_is_refused_while_it_streams(
    mirror: MtaMirror, lake: Lake, lake_snapshot: Snapshot
) -> None:
    """A gzip-encoded body (its Content-Length says nothing of the file's size) inflating to 64 MiB."""
    site = make_site(mirror, retry=FAST_RETRY, max_file_bytes=2 << 20)
    mirror.inject(NEW_SAMPLE, GzipBomb(64 << 20, head=HEADER_LINE))
    with pytest.raises(LandingError) as caught:
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert_failed(caught, NEW_SAMPLE, mirror, "more than the 2,097,152 bytes allowed (MTA_MAX_WEEK_BYTES)")
    assert mirror.gets(NEW_SAMPLE) == 1  # not retried: the same file would be as large again
    assert lake_snapshot() == {}


def test_a_dripping_file_stops_at_the_deadline(
    mirror: MtaMirror, lake: Lake, lake_snapshot: Snapshot
) -> None:
    """A byte every 0.2 s: the 1 s read timeout never fires, the 1 s deadline of each attempt does."""
    site = make_site(
        mirror,
        read_timeout=1.0,
        deadline_seconds=1.0,
        retry=RetryPolicy(max_retries=1, backoff_base=0.01, backoff_max=0.02),
    )
    mirror.inject(NEW_SAMPLE, Drip(0.2, after=2000), Drip(0.2, after=2000))
    started = time.monotonic()
    with pytest.raises(RetriesExhaustedError) as caught:
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert time.monotonic() - started < 4.0
    assert_failed(caught, NEW_SAMPLE, mirror, "deadline of 1 s (MTA_DOWNLOAD_DEADLINE_SECONDS)")
    assert lake_snapshot() == {}


def broken_after_the_first_lines(data: bytes, good_lines: int) -> bytes:
    """The header and ``good_lines`` readings, then the rest of the lines damaged (not parseable)."""
    lines = data.splitlines(keepends=True)
    return b"".join(lines[: good_lines + 1]) + b"".join(b"#" + line[5:] for line in lines[good_lines + 1 :])


def test_a_changed_file_that_does_not_parse_whole_keeps_the_landed_copy(
    mirror: MtaMirror, site: MtaSite, lake: Lake, lake_snapshot: Snapshot, sample_files: dict[str, bytes]
) -> None:
    """The MTA republishes the week broken after its first lines: the first line is fine, the rest is
    not. The new file is written beside the old one, parsed whole, refused; the old one stays."""
    land_week(week_file_for(NEW_SAMPLE), site, lake)
    before = lake_snapshot()
    mirror.add(NEW_SAMPLE, broken_after_the_first_lines(sample_files[NEW_SAMPLE], 3))
    with pytest.raises(LandingError) as caught:
        land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert_failed(caught, NEW_SAMPLE, mirror, "the new file does not parse whole, so the landed copy is kept")
    assert "quarantined" in str(caught.value) and "first bad line 5" in str(caught.value)
    assert mirror.gets(NEW_SAMPLE) == 2  # downloaded (it changed), not retried
    assert lake_snapshot() == before  # the old object and its metadata; the candidate is gone
    # A re-land asked for by hand is held to the same rule.
    with pytest.raises(LandingError, match="does not parse whole"):
        land_week(week_file_for(NEW_SAMPLE), site, lake, reland=True)
    assert lake_snapshot() == before
    # The MTA fixes it: the corrected file parses whole and replaces the old one.
    corrected = sample_files[NEW_SAMPLE][: -130 * 5]
    mirror.add(NEW_SAMPLE, corrected)
    report = land_week(week_file_for(NEW_SAMPLE), site, lake)
    assert report.status == "relanded"
    assert_landed(lake, NEW_SAMPLE, corrected, report, mirror.url)
    assert [o.key for o in lake.list("")] == [raw_key(NEW_SAMPLE)]  # no candidate left visible
