"""The MTA site client (mta_lake.source) against the real mirror: index, errors, retry policy."""

import time
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
from mta_lake_tests.conftest import FAST_RETRY
from mta_lake_tests.support.fake_gcs import free_port
from mta_lake_tests.support.mirror import MtaMirror, Reset, Status


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
