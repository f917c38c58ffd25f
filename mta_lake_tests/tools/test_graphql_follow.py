"""Following a backfill: when its runs alone say every week is done (before the daemon's counts do)."""

from mta_lake.tools.graphql.follow import BackfillStatus, RunInfo

WEEKS = ("2024-01-06", "2024-01-13", "2024-01-20")


def _run(status: str, recorded: dict[str, tuple[str, ...]]) -> RunInfo:
    partitions = tuple(sorted({week for weeks in recorded.values() for week in weeks}))
    return RunInfo(run_id=f"run-{len(partitions)}", status=status, partitions=partitions, recorded=recorded)


def _status(*runs: RunInfo, listed: bool = True) -> BackfillStatus:
    return BackfillStatus(
        backfill_id="b",
        status="REQUESTED",  # the daemon has not ticked since the last run ended
        targeted=len(WEEKS),
        materialized=0,
        failed=0,
        in_progress=len(WEEKS),
        runs=runs,
        runs_listed=listed,
        targeted_per_asset={"raw_turnstile": len(WEEKS), "turnstile_readings": len(WEEKS)},
    )


def test_runs_that_recorded_every_week_of_every_asset_cover_the_backfill() -> None:
    first = _run("SUCCESS", {"raw_turnstile": WEEKS[:2], "turnstile_readings": WEEKS[:2]})
    second = _run("SUCCESS", {"raw_turnstile": WEEKS[2:], "turnstile_readings": WEEKS[2:]})
    assert _status(first, second).runs_cover_every_asset()


def test_a_week_one_asset_has_not_recorded_is_not_covered() -> None:
    # The clean layer of the last week is still to come (the daemon would launch it on its next tick).
    run = _run("SUCCESS", {"raw_turnstile": WEEKS, "turnstile_readings": WEEKS[:2]})
    assert not _status(run).runs_cover_every_asset()


def test_an_asset_no_run_recorded_is_not_covered() -> None:
    assert not _status(_run("SUCCESS", {"raw_turnstile": WEEKS})).runs_cover_every_asset()


def test_a_failed_run_is_never_covered() -> None:
    run = _run("FAILURE", {"raw_turnstile": WEEKS, "turnstile_readings": WEEKS})
    assert not _status(run).runs_cover_every_asset()


def test_nothing_is_covered_before_the_runs_are_listed() -> None:
    run = _run("SUCCESS", {"raw_turnstile": WEEKS, "turnstile_readings": WEEKS})
    assert not _status(run, listed=False).runs_cover_every_asset()
    assert not _status().runs_cover_every_asset()
