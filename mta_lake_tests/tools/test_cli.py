"""``mta-lake`` without a running instance: argument errors, an unreachable instance, ``status``,
and the GraphQL client's retries against servers that refuse or never answer."""

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake.tools.arguments import (
    EXIT_FAILED,
    EXIT_INDEX_UNREADABLE,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from mta_lake.tools.cli import main
from mta_lake.tools.graphql import (
    LAUNCH_TAG,
    BackfillLaunchUnansweredError,
    BackfillTimeoutError,
    Backoff,
    DagsterBusyError,
    DagsterGraphQL,
    DagsterUnreachableError,
    Outage,
    RetryNotice,
)
from mta_lake_harness.fake_gcs import free_port
from mta_lake_harness.mirror import MtaMirror, Status
from mta_lake_harness.proxy import WebserverProxy


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2024-01-14", "2024-01-20"], "weeks start on a Saturday, and Sunday is not one"),
        (["2024-01-20", "2024-01-13"], "FROM 2024-01-20 is after TO 2024-01-13"),
        (["2024-01-13", "2099-01-03"], "has not ended"),
        (["2009-01-03", "2024-01-13"], "the first week is 2010-05-01"),
    ],
)
def test_backfill_rejects_invalid_ranges(args, message, capsys) -> None:
    assert main(["backfill", *args, "--url", f"http://127.0.0.1:{free_port()}"]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_backfill_reports_an_unreachable_instance(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["backfill", "2024-01-06", "2024-01-13", "--url", url]) == EXIT_UNREACHABLE
    assert f"no Dagster webserver at {url}" in capsys.readouterr().err


def test_status_from_lake_and_index(
    tmp_path: Path, mirror: MtaMirror, sample_files, monkeypatch, capsys
) -> None:
    data = sample_files["turnstile_170603.txt"]
    for name in ("turnstile_240113.txt", "turnstile_240120.txt", "turnstile_240203.txt"):
        mirror.add(name, data)
    lake = LocalLake(tmp_path / "lake")
    with lake.writer(raw_key("turnstile_240113.txt")) as pending:
        pending.write(gzip.compress(data))
    monkeypatch.setenv("MTA_SITE_URL", mirror.url)
    monkeypatch.setenv("MTA_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.delenv("MTA_DAGSTER_UI_URL", raising=False)
    assert main(["status", "--from", "2024-01-06", "--to", "2024-02-03", "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["weeks"]["landed"] == ["2024-01-06"]
    assert report["weeks"]["missing"] == ["2024-01-13", "2024-01-27"]
    assert report["weeks"]["not_published"] == ["2024-01-20", "2024-02-03"]
    assert main(["status", "--from", "2024-01-06", "--to", "2024-02-03"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "missing (published, not in the lake):" in text and "2024-01-13, 2024-01-27" in text
    assert "mta-lake backfill 2024-01-06 2024-02-03 --missing-only --wait" in text


def test_status_on_a_local_lake_does_not_import_dagster(
    tmp_path: Path, mirror: MtaMirror, sample_files
) -> None:
    # `mta-lake status` is a quick look: with a folder lake it needs the core only, not Dagster's start-up.
    mirror.add("turnstile_240113.txt", sample_files["turnstile_170603.txt"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTA_")}
    env.update(MTA_SITE_URL=mirror.url, MTA_LAKE_URL=str(tmp_path / "lake"))
    probe = (
        "import sys; from mta_lake.tools.cli import main; "
        "code = main(['status', '--from', '2024-01-06', '--to', '2024-01-06', '--json']); "
        "print('exit', code, 'dagster' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr.strip().splitlines()[-1] == "exit 0 False", result.stderr
    assert json.loads(result.stdout)["weeks"]["missing"] == ["2024-01-06"]


def test_backfill_rejects_an_address_that_is_not_http(capsys) -> None:
    assert main(["backfill", "2024-01-06", "2024-01-13", "--url", "localhost:3000"]) == EXIT_USAGE
    assert "must start with http:// or https://" in capsys.readouterr().err


def test_backfill_against_a_server_that_is_not_dagster_is_one_line(mirror: MtaMirror, capsys) -> None:
    # The mirror answers POST /graphql with 501: a webserver, not a Dagster one.
    root = mirror.url.removesuffix("/developers")
    assert main(["backfill", "2024-01-06", "2024-01-13", "--url", root]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err == f"mta-lake backfill: error: {root}/graphql answered HTTP 501\n"


def _status_env(monkeypatch, mirror: MtaMirror, lake_folder: Path) -> None:
    monkeypatch.setenv("MTA_SITE_URL", mirror.url)
    monkeypatch.setenv("MTA_LAKE_URL", str(lake_folder))
    monkeypatch.delenv("MTA_DAGSTER_UI_URL", raising=False)


def test_status_exits_4_when_the_index_cannot_be_read_and_still_reports(
    tmp_path: Path, mirror: MtaMirror, sample_files, monkeypatch, capsys, caplog
) -> None:
    lake = LocalLake(tmp_path / "lake")
    with lake.writer(raw_key("turnstile_240113.txt")) as pending:
        pending.write(gzip.compress(sample_files["turnstile_170603.txt"]))
    _status_env(monkeypatch, mirror, lake.root)
    # A 404 is not retried: the index is unreadable at once.
    mirror.inject("turnstile.html", Status(404), Status(404))
    args = ["status", "--from", "2024-01-06", "--to", "2024-01-20"]
    assert main(args) == EXIT_INDEX_UNREADABLE
    out, err = capsys.readouterr()
    assert "WARNING: the MTA index page" in out and "could not be read" in out
    assert "landed:" in out and "unknown (index unreadable, not in the lake):" in out
    assert "Traceback" not in err
    # The reason, logged by the source client (a line on stderr, "mta-lake status: ...", outside pytest).
    assert any("not published (HTTP 404)" in record.getMessage() for record in caplog.records)

    assert main([*args, "--json"]) == EXIT_INDEX_UNREADABLE
    report = json.loads(capsys.readouterr().out)
    assert report["index_readable"] is False
    assert report["weeks"]["landed"] == ["2024-01-06"]
    assert report["weeks"]["unknown"] == ["2024-01-13", "2024-01-20"]


def test_status_reports_an_unreachable_instance_in_one_line(
    tmp_path: Path, mirror: MtaMirror, monkeypatch, capsys
) -> None:
    _status_env(monkeypatch, mirror, tmp_path / "lake")
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["status", "--url", url]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"mta-lake status: error: no Dagster webserver at {url} (NewConnectionError: ")


# -- the client: what it does when the webserver does not answer --------------------------------


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff().delay(attempt) for attempt in range(1, 8)] == [2, 4, 8, 16, 30, 30, 30]


def _unreachable(reason: str = "refused") -> DagsterUnreachableError:
    return DagsterUnreachableError("x", url="u", reason=reason, may_have_arrived=False)


def _busy() -> DagsterBusyError:
    return DagsterBusyError("x", url="u", reason="timed out after 30 s", may_have_arrived=True)


def test_outage_counts_only_time_without_a_connection() -> None:
    now = [0.0]
    outage = Outage("u", unreachable_after=10, backoff=Backoff(first=1, cap=4), clock=lambda: now[0])
    assert outage.failed(_unreachable()).unreachable_for == 0
    now[0] = 8
    notice = outage.failed(_unreachable())
    assert (notice.unreachable_for, notice.delay) == (8, 2)  # capped by the 2 s left
    now[0] = 9
    busy = outage.failed(_busy())  # it connected: a slow answer, and the unreachable clock starts over
    assert busy.unreachable_for is None and busy.silent_for == 9
    assert "no answer for 9 s so far" in busy.message()
    now[0] = 12
    assert outage.failed(_unreachable()).unreachable_for == 0
    now[0] = 21
    assert "unreachable for 9 s so far (gives up at 10 s)" in outage.failed(_unreachable()).message()
    now[0] = 22
    with pytest.raises(
        DagsterUnreachableError, match=r"could not connect to the Dagster webserver at u for 10 s"
    ):
        outage.failed(_unreachable("refused again"))
    outage.answered()
    now[0] = 100
    assert outage.failed(_unreachable()).unreachable_for == 0


def test_wait_gives_up_once_nothing_listens_for_the_unreachable_period() -> None:
    notices: list[RetryNotice] = []
    client = DagsterGraphQL(f"http://127.0.0.1:{free_port()}", timeout=1)
    started = time.monotonic()
    with pytest.raises(DagsterUnreachableError) as caught:
        client.wait_for_backfill(
            "abc", timeout=60, unreachable_after=2, backoff=Backoff(first=0.5, cap=1), on_retry=notices.append
        )
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 5, elapsed
    assert "for 2 s (the limit is 2 s; last error: NewConnectionError" in str(caught.value)
    delays = [n.delay for n in notices]
    # 0.5, 1, then what is left of the 2 s: the last try lands on the limit, not a whole step after it.
    assert delays[0] == 0.5 and len(delays) >= 2 and all(0 < d <= 1 for d in delays), delays
    assert all(n.unreachable_for is not None for n in notices)
    assert "Connection refused); retrying in 0.5 s - unreachable for 0 s so far" in notices[0].message()


def test_wait_never_calls_a_busy_webserver_unreachable() -> None:
    # Listening, never answering: the kernel accepts the connections, nobody reads them.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(64)
        notices: list[RetryNotice] = []
        client = DagsterGraphQL(f"http://127.0.0.1:{busy.getsockname()[1]}", timeout=0.3)
        with pytest.raises(BackfillTimeoutError, match="backfill abc not seen"):
            client.wait_for_backfill(
                "abc", timeout=2.5, unreachable_after=0.5, backoff=Backoff(0.2, 0.4), on_retry=notices.append
            )
    assert len(notices) >= 3
    assert {n.reason for n in notices} == {"timed out after 0.3 s"}
    assert all(n.unreachable_for is None for n in notices)


def test_launch_is_sent_once_and_an_unanswered_one_says_so(mirror: MtaMirror) -> None:
    with WebserverProxy(mirror.url.removesuffix("/developers")) as proxy:
        proxy.stall(5)
        client = DagsterGraphQL(proxy.url, timeout=0.1)
        with pytest.raises(BackfillLaunchUnansweredError) as caught:
            client.launch_asset_backfill(["2024-01-06"], timeout=0.5)
        proxy.resume()
        assert proxy.operations == {"LaunchPartitionBackfill": 1}
    error = caught.value
    assert error.reason == "timed out after 0.5 s" and len(error.launch_id) == 32
    assert f"may have created the backfill (tagged {LAUNCH_TAG}={error.launch_id})" in str(error)
    # Nothing listening: nothing can have been created, and the error says so plainly.
    with pytest.raises(DagsterUnreachableError) as refused:
        DagsterGraphQL(f"http://127.0.0.1:{free_port()}").launch_asset_backfill(["2024-01-06"])
    assert refused.value.may_have_arrived is False
