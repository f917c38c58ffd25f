"""The MTA site client (mta_lake.source) against the real mirror: index, errors, retry policy."""

import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from email.utils import formatdate

import pytest

from mta_lake.core.source import (
    BadSourceError,
    MtaSite,
    NotPublishedError,
    RetryPolicy,
    ServerFileInfo,
    TransientSourceError,
    _retry_after_seconds,
    call_with_retries,
    describe_http_error,
)
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.mirror import (
    Drip,
    DripHeaders,
    GzipBomb,
    MtaMirror,
    Redirect,
    Replace,
    Reset,
    Status,
    Truncate,
)
from mta_lake_tests.conftest import FAST_RETRY


def test_index_lists_the_published_dates(mirror: MtaMirror, site: MtaSite) -> None:
    mirror.add("turnstile_111219.txt", b"x", listed=True)
    mirror.add("turnstile_240120.txt", b"x", listed=False)
    assert site.published_file_dates() == [
        date(2011, 5, 28),
        date(2011, 12, 19),
        date(2015, 9, 19),
        date(2017, 6, 3),
    ]


def test_unreadable_index_gives_none_after_the_retries(mirror: MtaMirror, site: MtaSite) -> None:
    mirror.inject("turnstile.html", *[Status(500)] * (FAST_RETRY.max_retries + 1))
    assert site.published_file_dates() is None
    assert mirror.requests["/developers/turnstile.html"] == FAST_RETRY.max_retries + 1


def test_index_without_links_gives_none(mirror: MtaMirror, site: MtaSite) -> None:
    for name in mirror.listed_names():
        mirror.remove(name)
    assert site.published_file_dates() is None


def test_index_recovers_from_a_5xx(mirror: MtaMirror, site: MtaSite) -> None:
    mirror.inject("turnstile.html", Status(502))
    assert site.published_file_dates() is not None
    assert mirror.requests["/developers/turnstile.html"] == 2


def test_open_sorts_errors(mirror: MtaMirror, site: MtaSite) -> None:
    with pytest.raises(NotPublishedError, match="HTTP 404"), site.open("turnstile_990101.txt"):
        pass
    mirror.inject("turnstile_170603.txt", Status(403))
    with pytest.raises(BadSourceError, match="HTTP 403"), site.open("turnstile_170603.txt"):
        pass
    mirror.inject("turnstile_170603.txt", Status(429, headers={"Retry-After": "7"}))
    with pytest.raises(TransientSourceError) as caught, site.open("turnstile_170603.txt"):
        pass
    assert caught.value.retry_after == 7.0


def test_head_reports_what_the_server_says(
    mirror: MtaMirror, site: MtaSite, sample_files: dict[str, bytes]
) -> None:
    info = site.head("turnstile_170603.txt")
    assert info.content_length == len(sample_files["turnstile_170603.txt"])
    assert info.etag and info.last_modified
    assert mirror.heads("turnstile_170603.txt") == 1 and mirror.gets("turnstile_170603.txt") == 0


def test_unreachable_site_is_transient() -> None:
    site = MtaSite("http://127.0.0.1:9/developers", connect_timeout=0.5, retry=FAST_RETRY)
    with pytest.raises(TransientSourceError, match="could not connect"), site.open("turnstile_170603.txt"):
        pass


@pytest.mark.parametrize("attempt", [1, 2, 3, 8])
def test_backoff_is_exponential_with_jitter_and_capped(attempt: int) -> None:
    policy = RetryPolicy(max_retries=8, backoff_base=1.0, backoff_max=30.0)
    ceiling = min(30.0, 2 ** (attempt - 1))
    delays = {policy.delay(attempt) for _ in range(50)}
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(delays) > 1  # jitter
    assert policy.delay(attempt, retry_after=20) >= min(20, 30)
    assert policy.delay(attempt, retry_after=3600) <= 30


def test_call_with_retries_retries_only_transient_errors() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientSourceError("u", "HTTP 503")
        return "ok"

    assert call_with_retries(flaky, RetryPolicy(max_retries=4), "t", sleep=waits.append) == "ok"
    assert len(calls) == 3 and len(waits) == 2

    def missing() -> None:
        calls.append(1)
        raise NotPublishedError("u", "not published")

    calls.clear()
    with pytest.raises(NotPublishedError):
        call_with_retries(missing, RetryPolicy(max_retries=4), "t", sleep=waits.append)
    assert len(calls) == 1

    def always() -> None:
        raise TransientSourceError("u", "reset")

    with pytest.raises(TransientSourceError, match=r"reset \(gave up after 3 attempts\)"):
        call_with_retries(always, RetryPolicy(max_retries=2), "t", sleep=lambda _: None)


def test_retry_after_header_values() -> None:
    assert _retry_after_seconds("5") == 5.0
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("soon") is None
    in_ten = _retry_after_seconds(formatdate(time.time() + 10, usegmt=True))
    assert in_ten is not None and 8 <= in_ten <= 11


def test_server_info_changes_only_on_stated_fields() -> None:
    recorded = ServerFileInfo(last_modified="Sat, 03 Jun 2017 10:00:00 GMT", etag='"a"', content_length=10)
    assert not ServerFileInfo().differs_from(recorded)
    assert not ServerFileInfo(etag='"a"').differs_from(recorded)
    assert ServerFileInfo(etag='"b"').differs_from(recorded)
    assert ServerFileInfo(content_length=11).differs_from(recorded)
    assert not ServerFileInfo(etag='"b"').differs_from(ServerFileInfo())


# -- messages: the useful part of a network error, not requests' long wrapper -----------------------


def test_unresolvable_host_names_the_cause_not_the_pool() -> None:
    # .invalid never resolves (RFC 2606): the resolver answers at once, nothing leaves the machine.
    site = MtaSite("http://nonexistent.invalid/developers", connect_timeout=2.0, retry=FAST_RETRY)
    with pytest.raises(TransientSourceError) as caught, site.open("turnstile_170603.txt"):
        pass
    reason = caught.value.reason
    assert reason.startswith(
        "could not connect (NameResolutionError: Failed to resolve 'nonexistent.invalid'"
    )
    assert "Max retries" not in reason and "HTTPConnection" not in reason and not reason.endswith("...")


def test_refused_port_names_the_cause() -> None:
    site = MtaSite(f"http://127.0.0.1:{free_port()}/developers", connect_timeout=2.0, retry=FAST_RETRY)
    with pytest.raises(TransientSourceError) as caught:
        site.index_html()
    assert caught.value.reason == (
        "could not connect (NewConnectionError: Failed to establish a new connection: "
        "[Errno 111] Connection refused) (gave up after 3 attempts)"
    )


def test_reset_mid_body_names_the_cause(mirror: MtaMirror, site: MtaSite) -> None:
    mirror.inject("turnstile_170603.txt", Reset(1000))
    with pytest.raises(TransientSourceError) as caught, site.open("turnstile_170603.txt") as remote:
        b"".join(remote.iter_chunks(chunk_size=100))
    assert "(ProtocolError: Connection broken: ConnectionResetError(104, 'Connection reset by peer'))" in str(
        caught.value
    )


def test_describe_http_error_of_other_errors() -> None:
    assert describe_http_error(ValueError("not\n  a   number")) == "ValueError: not a number"
    assert describe_http_error(OSError(28, "No space left on device")) == (
        "OSError: [Errno 28] No space left on device"
    )
    long = describe_http_error(RuntimeError("x" * 1000))
    assert len(long) == 300 and long.endswith("...")


# -- the source is untrusted: redirects, caps, the deadline, every transport error ------------


@pytest.fixture
def other_host(sample_files: dict[str, bytes]) -> Iterator[MtaMirror]:
    """Another server, reached as ``localhost`` (a different host name from the site's 127.0.0.1)."""
    with MtaMirror() as server:
        server.add("turnstile_170603.txt", sample_files["turnstile_170603.txt"])
        yield server


def test_a_redirect_within_the_site_is_followed_and_names_the_serving_url(
    mirror: MtaMirror, site: MtaSite, sample_files: dict[str, bytes]
) -> None:
    mirror.inject("turnstile_170603.txt", Redirect("turnstile_150919.txt", 301))
    with site.open("turnstile_170603.txt") as remote:
        assert b"".join(remote.iter_chunks()) == sample_files["turnstile_150919.txt"]
        assert remote.url == f"{mirror.url}/data/nyct/turnstile/turnstile_150919.txt"


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/developers/data/nyct/turnstile/turnstile_170603.txt",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
    ],
    ids=["another_host", "file", "ftp"],
)
def test_a_redirect_off_the_site_fails_naming_the_target_and_is_not_followed(
    target: str, mirror: MtaMirror, site: MtaSite, other_host: MtaMirror
) -> None:
    port = other_host.url.split(":")[2].split("/")[0]
    location = target.format(port=port)
    mirror.inject("turnstile_170603.txt", Redirect(location))
    with pytest.raises(BadSourceError) as caught, site.open("turnstile_170603.txt"):
        pass
    assert caught.value.url == site.file_url("turnstile_170603.txt")
    assert f"redirected to {location!r}, outside the configured site 127.0.0.1 (MTA_SITE_URL)" in str(
        caught.value
    )
    assert sum(other_host.requests.values()) == 0  # nothing was read from there
    assert mirror.gets("turnstile_170603.txt") == 1  # and not retried


def test_a_redirect_loop_fails(mirror: MtaMirror, site: MtaSite) -> None:
    mirror.inject("turnstile_170603.txt", *[Redirect("turnstile_170603.txt")] * 10)
    with pytest.raises(BadSourceError, match="more than 5 redirects"), site.open("turnstile_170603.txt"):
        pass
    assert mirror.gets("turnstile_170603.txt") == 6


def test_an_index_redirected_off_the_site_is_unreadable_not_a_crash(
    mirror: MtaMirror, site: MtaSite, other_host: MtaMirror
) -> None:
    mirror.inject(
        "turnstile.html", Redirect(other_host.url.replace("127.0.0.1", "localhost") + "/turnstile.html")
    )
    assert site.published_file_dates() is None
    assert sum(other_host.requests.values()) == 0


@pytest.mark.parametrize(
    ("fault", "error", "reason"),
    [
        (Truncate(200), TransientSourceError, "cut short"),
        (Reset(200), TransientSourceError, "Connection reset"),
        (
            Status(200, headers={"Content-Encoding": "gzip"}, body=b"not gzip at all"),
            BadSourceError,
            "could not be decoded",
        ),
        (Redirect("file:///etc/passwd"), BadSourceError, "outside the configured site"),
        (Replace(b"<html>" + b"x" * 70_000), BadSourceError, "MTA_MAX_INDEX_BYTES"),
        (GzipBomb(64 << 20), BadSourceError, "MTA_MAX_INDEX_BYTES"),
    ],
    ids=["cut_short", "reset", "bad_encoding", "redirect_to_file", "too_large", "gzip_bomb"],
)
def test_every_failure_of_the_index_is_the_sources_and_never_raises_past_it(
    fault: object, error: type[Exception], reason: str, mirror: MtaMirror
) -> None:
    site = MtaSite(mirror.url, read_timeout=2.0, retry=FAST_RETRY, max_index_bytes=64 << 10)
    attempts = FAST_RETRY.max_retries + 1 if error is TransientSourceError else 1
    mirror.inject("turnstile.html", *[fault] * attempts)  # type: ignore[list-item]
    with pytest.raises(error, match=reason) as caught:
        site.index_html()
    assert caught.value.url == site.index_url
    assert mirror.requests["/developers/turnstile.html"] == attempts
    # What the schedule and the sensors call: None ("unreadable"), never an exception.
    mirror.inject("turnstile.html", *[fault] * attempts)  # type: ignore[list-item]
    assert site.published_file_dates() is None


def test_a_dripping_index_stops_at_the_deadline(mirror: MtaMirror) -> None:
    """A byte every 0.2 s beats a 1 s read timeout for ever; the 1 s deadline does not."""
    site = MtaSite(
        mirror.url,
        read_timeout=1.0,
        deadline_seconds=1.0,
        retry=RetryPolicy(max_retries=1, backoff_base=0.01, backoff_max=0.02),
    )
    mirror.inject("turnstile.html", Drip(0.2, after=10), Drip(0.2, after=10))
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match=r"deadline of 1 s \(MTA_DOWNLOAD_DEADLINE_SECONDS\)"):
        site.index_html()
    assert time.monotonic() - started < 4.0  # two attempts of ~1 s each
    assert mirror.requests["/developers/turnstile.html"] == 2


def test_dripping_headers_stop_at_the_deadline(mirror: MtaMirror) -> None:
    site = MtaSite(mirror.url, read_timeout=1.0, deadline_seconds=1.0, retry=FAST_RETRY)
    mirror.inject("turnstile_170603.txt", DripHeaders(0.2))
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match="deadline"), site.open("turnstile_170603.txt"):
        pass
    assert time.monotonic() - started < 2.5


def test_a_gzip_bomb_is_refused_at_the_cap_with_memory_flat(mirror: MtaMirror) -> None:
    """``Content-Encoding: gzip`` over a 64 KB body that inflates to 128 MiB: refused past the 4 MiB cap."""
    site = MtaSite(mirror.url, retry=FAST_RETRY, max_file_bytes=4 << 20)
    mirror.inject("turnstile_170603.txt", GzipBomb(128 << 20))
    tracemalloc.start()
    try:
        received = 0
        with (
            pytest.raises(
                BadSourceError, match=r"more than the 4,194,304 bytes allowed \(MTA_MAX_WEEK_BYTES\)"
            ),
            site.open("turnstile_170603.txt") as remote,
        ):
            for chunk in remote.iter_chunks():
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received <= 4 << 20
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB while refusing a bomb"
    assert mirror.gets("turnstile_170603.txt") == 1  # not retried


def test_a_file_announcing_more_than_the_cap_is_refused_before_its_body(
    mirror: MtaMirror, sample_files: dict[str, bytes]
) -> None:
    site = MtaSite(mirror.url, retry=FAST_RETRY, max_file_bytes=1024)
    with (
        pytest.raises(BadSourceError, match="the server announces"),
        site.open("turnstile_170603.txt") as remote,
    ):
        next(remote.iter_chunks())
