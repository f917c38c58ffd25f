"""``RunLanding``: the weeks of one run landed, and the late-file decision, on a fake clock.

No Dagster instance and no real-time waits: the test plays Dagster's part (run the step again
after ``retry_seconds`` while the verdict says ``retry_later``) by moving the clock.
"""

import time
from datetime import datetime, timedelta

import pytest

from mta_lake.core import weeks
from mta_lake.core.lake import Lake
from mta_lake.core.landing_report import LandingReport
from mta_lake.core.layout import raw_key
from mta_lake.core.run_landing import LateFilePolicy, RunLanding, RunVerdict, WeekFailure
from mta_lake.core.source import DownloadStopped, MtaSite
from mta_lake_harness.mirror import MtaMirror, Stall, Status

# Saturday 2024-01-20, 10:00 in New York: the schedule's tick for the week 2024-01-13, whose file
# (turnstile_240120.txt) the MTA publishes that morning.
SATURDAY_TICK = datetime(2024, 1, 20, 10, 0, tzinfo=weeks.NEW_YORK)
JUST_ENDED = "2024-01-13"
JUST_ENDED_FILE = "turnstile_240120.txt"


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def run_until_done(
    keys: list[str], site: MtaSite, lake: Lake, late: LateFilePolicy, clock: FakeClock, before_retry=None
) -> tuple[RunVerdict, int, list[LandingReport | WeekFailure]]:
    """Run the step as Dagster would: again after each ``retry_later``, within ``max_retries``."""
    retries = 0
    while True:
        landing = RunLanding(keys, site, lake, late=late, now=clock)
        outcomes = list(landing)
        verdict = landing.verdict()
        if verdict.outcome != "retry_later":
            return verdict, retries, outcomes
        retries += 1
        assert retries <= verdict.max_retries, "Dagster would stop retrying here"
        clock.advance(verdict.retry_seconds)
        if before_retry is not None:
            before_retry(retries)


def test_late_file_is_retried_through_its_grace_then_fails_as_not_published(site, lake) -> None:
    # Grace ends at 12:00 (12 h after the week ended); attempts at 10:00, 10:50 and 11:40: the
    # third finds the next attempt (12:30) past the grace, so two retries and then a failure.
    late = LateFilePolicy(retry_seconds=50 * 60, grace=timedelta(hours=12))
    verdict, retries, _ = run_until_done([JUST_ENDED], site, lake, late, FakeClock(SATURDAY_TICK))
    assert retries == 2
    assert verdict.outcome == "failed"
    assert verdict.failed_weeks == [JUST_ENDED]
    assert "week 2024-01-13" in verdict.summary(1) and "not published" in verdict.summary(1)
    assert not verdict.retryable  # a file not published is no reason for the run retry policy


def test_late_file_published_during_the_retries_lands(
    site, lake, mirror: MtaMirror, sample_files: dict[str, bytes]
) -> None:
    late = LateFilePolicy(retry_seconds=3600, grace=timedelta(hours=48))

    def publish_at_second_retry(retry: int) -> None:
        if retry == 2:
            mirror.add(JUST_ENDED_FILE, sample_files["turnstile_170603.txt"])

    verdict, retries, outcomes = run_until_done(
        [JUST_ENDED], site, lake, late, FakeClock(SATURDAY_TICK), publish_at_second_retry
    )
    assert (verdict.outcome, retries) == ("landed", 2)
    (report,) = outcomes
    assert isinstance(report, LandingReport) and report.file_name == JUST_ENDED_FILE
    assert lake.stat(f"raw/turnstile/{JUST_ENDED_FILE}.gz") is not None


def test_old_week_without_a_file_fails_at_once(site, lake) -> None:
    late = LateFilePolicy(retry_seconds=60, grace=timedelta(hours=48))
    verdict, retries, _ = run_until_done(["2019-03-02"], site, lake, late, FakeClock(SATURDAY_TICK))
    assert (verdict.outcome, retries) == ("failed", 0)


def test_a_late_week_beside_a_real_failure_fails_the_run(site, lake, mirror: MtaMirror) -> None:
    # One week merely late; the week before it is listed but answers 404, and its grace is long
    # over: retrying would not help it, so the run fails now.
    mirror.add("turnstile_240113.txt", b"unused")
    mirror.inject("turnstile_240113.txt", Status(404))
    late = LateFilePolicy(retry_seconds=60, grace=timedelta(hours=48))
    verdict, retries, _ = run_until_done(
        ["2024-01-06", JUST_ENDED], site, lake, late, FakeClock(SATURDAY_TICK)
    )
    assert (verdict.outcome, retries) == ("failed", 0)
    assert verdict.failed_weeks == ["2024-01-06", JUST_ENDED]
    summary = verdict.summary(2)
    assert summary.startswith("2 of 2 weeks failed") and "turnstile_240113.txt" in summary


def test_weeks_land_in_a_pool_and_the_index_is_read_once(
    site, lake, mirror: MtaMirror, sample_files: dict[str, bytes]
) -> None:
    data = sample_files["turnstile_170603.txt"]
    for name in ("turnstile_240106.txt", "turnstile_240113.txt", JUST_ENDED_FILE):
        mirror.add(name, data)
    landing = RunLanding(
        ["2023-12-30", "2024-01-06", JUST_ENDED], site, lake, max_workers=3, now=FakeClock(SATURDAY_TICK)
    )
    reports = list(landing)
    assert sorted(r.week for r in reports if isinstance(r, LandingReport)) == [
        "2023-12-30",
        "2024-01-06",
        JUST_ENDED,
    ]
    assert landing.verdict().outcome == "landed" and landing.index_readable is True
    assert mirror.requests["/developers/turnstile.html"] == 1


@pytest.mark.parametrize("bad_key", ["2024-01-14", "2024-01-20", "soon"])
def test_a_key_that_is_not_an_ended_week_fails_without_reading_the_index(
    bad_key: str, site, lake, mirror: MtaMirror
) -> None:
    landing = RunLanding([bad_key], site, lake, now=FakeClock(SATURDAY_TICK))
    (failure,) = list(landing)
    assert isinstance(failure, WeekFailure) and bad_key in str(failure)
    assert landing.verdict().outcome == "failed"
    assert mirror.requests["/developers/turnstile.html"] == 0


def test_an_interrupted_run_stops_its_downloads_and_lands_nothing_after(
    mirror: MtaMirror, lake: Lake, sample_files: dict[str, bytes]
) -> None:
    """The run is stopped (here: the step abandons the iteration, as a terminated run's step does)
    while a week's download stalls for a minute. The stalled download is shut down at once and the
    week never lands: before, it finished (and landed) long after its run had been marked failed."""
    mirror.add("turnstile_150926.txt", sample_files["turnstile_150919.txt"])
    mirror.inject("turnstile_150926.txt", Stall(60, after=2000))
    site = MtaSite(mirror.url, read_timeout=120, deadline_seconds=300)
    landing = RunLanding(["2015-09-12", "2015-09-19"], site, lake, max_workers=2)
    outcomes = iter(landing)
    first = next(outcomes)  # 2015-09-12 lands; 2015-09-19 is stalled mid-body meanwhile
    assert isinstance(first, LandingReport) and first.week == "2015-09-12"
    mirror.wait_for_stalls(1)  # the other download has reached the server and is held mid-body
    assert mirror.gets("turnstile_150926.txt") == 1
    started = time.monotonic()
    outcomes.close()  # the interruption reaches the step here
    assert time.monotonic() - started < 5, "the stalled download was waited for"
    assert lake.stat(raw_key("turnstile_150926.txt")) is None
    assert [o.key for o in lake.list("")] == [raw_key("turnstile_150919.txt")]
    assert mirror.gets("turnstile_150926.txt") == 1  # and not tried again
    with pytest.raises(DownloadStopped), site.open("turnstile_150919.txt"):
        pass  # the site refuses new downloads once stopped
