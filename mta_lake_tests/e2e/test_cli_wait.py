"""``mta-lake backfill --wait`` through a webserver that stalls, refuses connections and comes back.

One ``dagster dev`` for the module; each test puts its own ``WebserverProxy`` in front of it and
runs the installed console script (``.venv/bin/mta-lake``) against the proxy, in a subprocess.
Requests wait 2 s for an answer (``--request-timeout 2``), so the faults can be short:

- the launch is held for longer than it waits (4 x 2 s): the CLI does not send it again, finds the
  backfill by its launch tag and follows it; then the webserver stalls for longer than a poll
  waits, then refuses connections for a while, then comes back: the CLI says it is retrying each
  time and reports "every week landed"; then it launches the mart's run for the same weeks straight
  into the run queue and ends with exit code 0 and "every week in the mart". The proxy's log of GraphQL
  operations shows each poll is one request, and the landing's runs are listed once, at its end;
- the webserver stays unreachable longer than ``--unreachable-after 6``: exit code 3, saying how
  long it could not connect.
"""

import gzip
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import MART_MODELS, raw_key
from mta_lake_harness.dagster_processes import DagsterDev, running_dagster_dev
from mta_lake_harness.mirror import MtaMirror
from mta_lake_harness.paths import RAW_SAMPLES
from mta_lake_harness.proxy import WebserverProxy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MTA_LAKE = str(Path(sys.executable).parent / "mta-lake")
SAMPLE = RAW_SAMPLES / "turnstile_170603.txt"

FOLLOWED_WEEKS = ["2024-03-02", "2024-03-09"]  # files turnstile_240309.txt, turnstile_240316.txt
ABANDONED_WEEK = "2024-03-16"  # file turnstile_240323.txt
SERVED_FILES = ["turnstile_240309.txt", "turnstile_240316.txt", "turnstile_240323.txt"]

REQUEST_TIMEOUT = 2  # seconds each request waits; the launch waits 4 times as long
LAUNCH_STALL = 10  # > 4 x REQUEST_TIMEOUT: the launch's answer is lost, the backfill is created
POLL_STALL = 5  # > REQUEST_TIMEOUT: at least one poll times out
REFUSAL = 6  # seconds of refused connections, well under the test's --unreachable-after 60


@dataclass
class Stack:
    dev: DagsterDev
    lake: LocalLake
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e-cli-wait")
    lake = LocalLake(root / "lake")
    with MtaMirror() as mirror:
        for name in SERVED_FILES:
            mirror.add(name, SAMPLE.read_bytes())
        env = dict(os.environ)
        env.update(
            MTA_SITE_URL=mirror.url,
            MTA_LAKE_URL=str(lake.root),
            MTA_WEEKS_PER_RUN="1",  # two weeks, two runs: a backfill of several runs
            MTA_RECONCILE_SENSOR="stopped",  # the backfills here are the only work
            PYTHONUNBUFFERED="1",  # the CLI's lines reach the test as they are printed
        )
        for name in (
            "MTA_DAGSTER_UI_URL",
            "MTA_ALERT_WEBHOOK_URL",
            "MTA_SLACK_WEBHOOK_URL",
            "STORAGE_EMULATOR_HOST",
        ):
            env.pop(name, None)
        with running_dagster_dev(env, root / "dagster_home") as dev:
            yield Stack(dev, lake, env)


@pytest.fixture
def proxy(stack: Stack) -> Iterator[WebserverProxy]:
    with WebserverProxy(stack.dev.url) as server:
        yield server


class RunningCli:
    """The CLI in a subprocess, its output (stdout and stderr together) read line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [MTA_LAKE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="cli-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> str:
        """The first line matching ``pattern`` (a regex), waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines))
                self._changed.wait(min(remaining, 0.5))

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"the CLI still runs after {timeout:.0f} s; output:\n{self.output}"
            ) from None
        self._reader.join(timeout=10)
        return code, self.output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def test_wait_rides_out_a_lost_launch_answer_a_stall_and_a_refusal(
    stack: Stack, proxy: WebserverProxy
) -> None:
    # The launch reaches the webserver only after the CLI has stopped waiting for its answer.
    proxy.stall(LAUNCH_STALL, operation="LaunchPartitionBackfill")
    cli = RunningCli(
        [
            "backfill",
            *FOLLOWED_WEEKS,
            "--wait",
            "--url",
            proxy.url,
            "--request-timeout",
            str(REQUEST_TIMEOUT),
            "--unreachable-after",
            "60",
            "--poll",
            "1",
            "--timeout",
            "240",
        ],
        stack.env,
    )
    try:
        proxy.wait_for("BackfillProgress", timeout=90)  # following the backfill it found

        # Busy: a poll waits 2 s, the webserver answers after 5.
        stall_ends = time.monotonic() + POLL_STALL
        proxy.stall(POLL_STALL)
        cli.wait_for_line(r"not answering \(timed out after 2 s\)", timeout=15)
        time.sleep(max(0.0, stall_ends - time.monotonic()))
        answered_polls = proxy.count("BackfillProgress")
        proxy.wait_for("BackfillProgress", count=answered_polls + 1, timeout=30)

        # Gone: connections refused for a while, then back on the same port.
        proxy.refuse()
        cli.wait_for_line(r"unreachable for \d+ s so far", timeout=15)
        time.sleep(REFUSAL)
        proxy.resume()

        code, out = cli.finish(timeout=240)
    finally:
        cli.kill()

    print(out)  # shown with -s, and on failure
    assert code == 0, out
    assert f"the launch got no answer (timed out after {4 * REQUEST_TIMEOUT} s). It is not sent again" in out
    assert "found it: the webserver did create backfill" in out
    assert re.search(
        rf"webserver at {proxy.url} not answering \(timed out after 2 s\); retrying in \d+ s - no answer for \d+ s so far",
        out,
    ), out
    assert re.search(
        rf"webserver at {proxy.url} not answering \(NewConnectionError: Failed to establish a new connection: "
        r"\[Errno 111\] Connection refused\); retrying in \d+ s - unreachable for \d+ s so far \(gives up at 60 s\)",
        out,
    ), out
    assert (
        "backfill " in out
        and "2/2 weeks landed, 0 failed" in out
        and re.search(r"runs (\d+)/\1 finished", out)
    )
    # The landing first (two runs: MTA_WEEKS_PER_RUN=1), then the mart for both weeks in one run,
    # launched straight into the run queue once every week of the landing is done.
    landing, mart = out.split("\nlaunched backfill ", 1)[1].split("\nlaunched run ")
    assert "result: every week landed" in landing and landing.count(" SUCCESS ") == 2, out
    assert f"of the mart's {len(MART_MODELS)} models for 2 week(s) (2024-03-02..2024-03-09)" in mart, out
    assert re.search(r"\n +\w+ SUCCESS +weeks 2024-03-02\.\.2024-03-09", mart), out
    assert out.rstrip().endswith("result: every week in the mart"), out

    # The landing's launch was sent once (its answer was lost, found by its tag), the mart's run once;
    # each poll was one request, and the landing's runs were listed once, at the end (no event log
    # read: no run failed).
    operations = proxy.sequence
    assert operations.count("LaunchPartitionBackfill") == 1, operations
    assert operations.count("LaunchRun") == 1, operations
    assert operations.count("FindBackfill") >= 1, operations
    following = operations[operations.index("BackfillProgress") : operations.index("LaunchRun")]
    # Polls, then the partition keys (a run's range of weeks) and the runs, listed once.
    assert following[-3:] == ["AssetPartitionKeys", "BackfillRuns", "AssetPartitionKeys"], operations
    assert set(following[:-3]) == {"BackfillProgress"}, operations
    after = operations[operations.index("LaunchRun") + 1 :]
    assert set(after) <= {"AssetPartitionKeys", "RunProgress", "RunErrors"} and "RunErrors" not in after
    assert "RunErrors" not in operations
    print(f"{len(following) - 3} polls (retries included), then the mart's run: {proxy.operations}")

    for name in SERVED_FILES[:2]:
        with stack.lake.open_read(raw_key(name)) as handle:
            assert gzip.decompress(handle.read()) == SAMPLE.read_bytes()


def test_wait_gives_up_when_the_webserver_stays_unreachable(stack: Stack, proxy: WebserverProxy) -> None:
    cli = RunningCli(
        [
            "backfill",
            ABANDONED_WEEK,
            ABANDONED_WEEK,
            "--wait",
            "--url",
            proxy.url,
            "--request-timeout",
            str(REQUEST_TIMEOUT),
            "--unreachable-after",
            "6",
            "--poll",
            "1",
        ],
        stack.env,
    )
    try:
        proxy.wait_for("BackfillProgress", timeout=60)
        proxy.refuse()
        refused_at = time.monotonic()
        code, out = cli.finish(timeout=60)
        gave_up_after = time.monotonic() - refused_at
    finally:
        cli.kill()
        proxy.resume()

    print(out)
    assert code == 3, out
    assert 6 <= gave_up_after < 20, gave_up_after
    assert re.search(r"unreachable for \d+ s so far \(gives up at 6 s\)", out), out
    backfill_id = re.search(r"launched backfill (\w+)", out)
    assert backfill_id, out
    assert re.search(
        rf"mta-lake backfill: error: could not connect to the Dagster webserver at {proxy.url} for [67] s "
        r"\(the limit is 6 s; last error: NewConnectionError: Failed to establish a new connection: "
        r"\[Errno 111\] Connection refused\)\. Stopped waiting; the backfill goes on in Dagster: "
        rf"{proxy.url}/runs/b/{backfill_id.group(1)}",
        out,
    ), out
    assert "Traceback" not in out
