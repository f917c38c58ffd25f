"""``mta-lake backfill FROM TO``: an asset backfill launched the way the UI launches one, and followed.

The weeks must be published: a week with no file is refused before anything is launched (exit 2, the
week and the file name expected), unless ``--published-only`` (or ``--missing-only``) skips it; a
published week the index sensor has not made a partition yet is added first. With ``--wait``, every
layer goes in two steps: the landing (raw and clean) as one backfill, followed, then, as soon as every
week of it is done, the mart's run for the weeks that landed, straight into the run queue.
"""

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date

from mta_lake.core import reconcile, weeks
from mta_lake.core.layout import LANDING_ASSETS, MART_MODELS, WEEKLY_JOB
from mta_lake.core.published_weeks import PARTITIONS_NAME, not_published_message
from mta_lake.tools.arguments import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    LaunchOutcomeUnknown,
    UsageError,
    selection_arg,
    ui_url,
    week_arg,
)
from mta_lake.tools.graphql import (
    LAUNCH_TAG,
    AssetJob,
    BackfillLaunchUnansweredError,
    BackfillStatus,
    BackfillTimeoutError,
    DagsterGraphQL,
    DagsterNotAnsweringError,
    RetryNotice,
    RunInfo,
)
from mta_lake.tools.status import read_views


def print_progress(status: BackfillStatus) -> None:
    print(f"  {status.summary()}", flush=True)


def print_retry(notice: RetryNotice) -> None:
    print(f"  {notice.message()}", flush=True)


def print_result(
    status: BackfillStatus, url: str, done: str = "every week landed", not_done: str = "NOT every week landed"
) -> int:
    print(f"\n{status.summary()}")
    print(f"runs: {len(status.runs)}")
    for run in status.runs:
        covered = (
            f"{run.partitions[0]}..{run.partitions[-1]}"
            if len(run.partitions) > 1
            else "".join(run.partitions)
        )
        print(f"  {run.run_id[:8]} {run.status:8} weeks {covered}  {url}/runs/{run.run_id}")
    if status.error:
        print(f"backfill error: {status.error}")
    if status.failed_weeks:
        print(f"failed weeks ({len(status.failed_weeks)}):")
        for week, message in status.failed_weeks.items():
            print(f"  {week}: {message}")
    if status.incomplete_weeks:
        print(f"weeks not complete ({len(status.incomplete_weeks)}):")
        for week, message in status.incomplete_weeks.items():
            print(f"  {week}: {message}")
    ok = status.succeeded and not status.failed
    print("result: " + (done if ok else not_done))
    return EXIT_OK if ok else EXIT_FAILED


def _launch(
    client: DagsterGraphQL, keys: list[str], title: str, patience: float, assets: Sequence[str]
) -> str:
    """Launch the backfill once; if its answer is lost, find what it created (never launch again)."""
    try:
        return client.launch_asset_backfill(
            keys, asset_keys=assets, tags={"mta_lake/trigger": "cli"}, title=title
        )
    except BackfillLaunchUnansweredError as error:
        print(
            f"the launch got no answer ({error.reason}). It is not sent again (a second launch could "
            f"land every week twice); looking for the backfill it may have created, tagged "
            f"{LAUNCH_TAG}={error.launch_id}",
            flush=True,
        )
        found = client.find_launched_backfill(
            error.launch_id,
            error.sent_at,
            patience=patience,
            on_retry=print_retry,
            on_absent=lambda delay: print(f"  not there yet; looking again in {delay:.0f} s", flush=True),
        )
        if found is None:
            raise LaunchOutcomeUnknown(
                f"the launch got no answer and no backfill tagged {LAUNCH_TAG}={error.launch_id} appeared "
                f"on {client.url} within {patience:.0f} s. It was not launched again: look at the "
                f"backfills in the UI ({client.url}/runs) before launching it yourself"
            ) from None
        print(f"found it: the webserver did create backfill {found}", flush=True)
        return found


def _follow(
    client: DagsterGraphQL,
    backfill_id: str,
    args: argparse.Namespace,
    deadline: float,
    settled_is_enough: bool = False,
) -> BackfillStatus | int:
    """Wait for one backfill to end (its status, runs listed), or the exit code of why waiting stopped.
    ``settled_is_enough``: every week done is the end (the mart follows at once)."""
    link = f"{client.url}/runs/b/{backfill_id}"
    print(
        f"waiting (timeout {args.timeout:.0f} s; each poll waits {args.request_timeout:g} s for an "
        f"answer; gives up after {args.unreachable_after:.0f} s without a connection):",
        flush=True,
    )
    try:
        return client.wait_for_backfill(
            backfill_id,
            timeout=max(1.0, deadline - time.monotonic()),
            poll_interval=args.poll,
            on_progress=print_progress,
            unreachable_after=args.unreachable_after,
            on_retry=print_retry,
            settled_is_enough=settled_is_enough,
        )
    except BackfillTimeoutError as error:
        print(f"mta-lake backfill: error: {error}; it goes on in Dagster: {link}", file=sys.stderr)
        return EXIT_FAILED
    except DagsterNotAnsweringError as error:
        print(
            f"mta-lake backfill: error: {error}. Stopped waiting; the backfill goes on in Dagster: {link}",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        print(f"\nstopped waiting; the backfill goes on in Dagster: {link}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _describe_unpublished(unpublished: Sequence[date], index_url: str, limit: int = 8) -> str:
    """The weeks with no file, each with the file name expected, in one line (at most ``limit`` named)."""
    if len(unpublished) == 1:
        return not_published_message(unpublished[0], index_url)
    named = ", ".join(f"{w.isoformat()} ({weeks.file_name(weeks.week_end(w))})" for w in unpublished[:limit])
    more = f" and {len(unpublished) - limit} more" if len(unpublished) > limit else ""
    return f"{len(unpublished)} weeks not published (the MTA index at {index_url} lists no file for them): {named}{more}"


def _published_keys(client: DagsterGraphQL, start: date, end: date, args: argparse.Namespace) -> list[str]:
    """The weeks of FROM..TO to launch: every one must be published (else a usage error naming those that
    are not, unless --published-only), and a partition (added here if the index sensor has not yet)."""
    from mta_lake.core.source import site_from_settings

    requested = weeks.weeks_between(start, end)
    site = site_from_settings(args.settings)
    try:
        published = site.published_file_dates()
    finally:
        site.close()
    partitions = client.asset_partitions()
    if published is None:
        # The index is unreadable: the instance's partitions are the published weeks it knows of.
        unpublished = [w for w in requested if w.isoformat() not in partitions.keys]
        reason = f"not partitions of {PARTITIONS_NAME} (the index could not be read to tell more)"
    else:
        by_week = weeks.map_published_weeks(published)
        unpublished = [w for w in requested if w not in by_week]
        reason = ""
    # --missing-only means the published weeks absent from the lake: it skips unpublished ones too.
    if unpublished and not (args.published_only or args.missing_only):
        what = (
            f"{len(unpublished)} week(s) {reason}"
            if reason
            else _describe_unpublished(unpublished, site.index_url)
        )
        raise UsageError(
            f"{what}; nothing was launched. To land the {len(requested) - len(unpublished)} published "
            f"week(s) of {start}..{end}: --published-only"
        )
    if unpublished:
        flag = "--published-only" if args.published_only else "--missing-only"
        print(f"{flag}: skipping {_describe_unpublished(unpublished, site.index_url)}")
    keys = [w.isoformat() for w in requested if w not in set(unpublished)]
    new = [key for key in keys if key not in partitions.keys]
    if new:
        # The index sensor adds published weeks on its next tick; a launch now needs them already.
        client.add_partitions(partitions, PARTITIONS_NAME, new)
        print(f"added {len(new)} published week(s) to the partitions: {reconcile.format_weeks(new)}")
    return keys


def cmd_backfill(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    assets = selection_arg(args.select)
    start, end = week_arg(args.from_week), week_arg(args.to_week)
    if start > end:
        raise UsageError(f"FROM {start.isoformat()} is after TO {end.isoformat()}")
    url = ui_url(args) or args.settings.ui_address
    with DagsterGraphQL(url, timeout=args.request_timeout) as client:
        client.version()  # fail fast, before reading the lake, if nothing answers
        keys = _published_keys(client, start, end, args)
        if args.missing_only:
            result = read_views(args.settings, start, end, None)
            in_lake = set(result.keys(reconcile.WeekState.LANDED, reconcile.WeekState.UNRECORDED))
            skipped = [key for key in keys if key in in_lake]
            keys = [key for key in keys if key not in in_lake]
            print(f"--missing-only: {len(keys)} week(s) absent from the lake; skipping {len(skipped)} landed")
        if not keys:
            print("nothing to backfill: every published week in the range is in the lake")
            return EXIT_OK
        title = f"mta-lake backfill {start} {end}"
        landing_assets = [name for name in assets if name in LANDING_ASSETS]
        mart_assets = [name for name in assets if name in MART_MODELS]
        if not args.wait or not landing_assets or not mart_assets:
            # One backfill of the selection. Without --wait nobody stays to launch the mart after the
            # landing, so a selection of every layer is one backfill of every layer.
            backfill_id = _launch(client, keys, title, args.unreachable_after, assets)
            print(
                f"launched backfill {backfill_id} of {len(keys)} week(s) ({', '.join(assets)}): "
                f"{reconcile.format_weeks(keys)}"
            )
            print(f"  {url}/runs/b/{backfill_id}")
            if not args.wait:
                return EXIT_OK
            status = _follow(client, backfill_id, args, deadline)
            return status if isinstance(status, int) else print_result(status, url)
        # Waiting, every layer: the landing first, then the mart in one run. In one backfill of every
        # layer the daemon launches a mart run each time a batch of cleaned weeks is done; those runs
        # hold run slots the landing needs, and each run of more than 52 weeks rebuilds the whole mart.
        backfill_id = _launch(client, keys, title, args.unreachable_after, landing_assets)
        print(
            f"launched backfill {backfill_id} of {len(keys)} week(s) ({', '.join(landing_assets)}): "
            f"{reconcile.format_weeks(keys)}; the mart follows, in one run, once they are done"
        )
        print(f"  {url}/runs/b/{backfill_id}")
        landing = _follow(client, backfill_id, args, deadline, settled_is_enough=True)
        if isinstance(landing, int):
            return landing
        code = print_result(landing, url)
        mart_weeks = [
            key for key in keys if key not in landing.failed_weeks and key not in landing.incomplete_weeks
        ]
        # Only after a landing that ran to its end: a canceled backfill, or one the daemon failed to
        # plan, says nothing about which weeks are in the lake.
        if not landing.settled or landing.status in {"CANCELED", "FAILED"} or not mart_weeks:
            return code
        return max(code, _build_mart(client, mart_weeks, mart_assets, args, deadline))


def _contiguous(selected: Sequence[str], keys: Sequence[str]) -> list[list[str]]:
    """``selected`` keys split into runs of consecutive partition keys (what one range run can cover)."""
    position = {key: index for index, key in enumerate(keys)}
    groups: list[list[str]] = []
    for key in sorted(selected, key=lambda k: position.get(k, -1)):
        if groups and position.get(key) == position.get(groups[-1][-1], -2) + 1:
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups


def _build_mart(
    client: DagsterGraphQL,
    mart_weeks: list[str],
    assets: Sequence[str],
    args: argparse.Namespace,
    deadline: float,
) -> int:
    """The mart for the weeks that landed: one run per range of consecutive weeks (normally one),
    launched straight into the run queue as a ``single_run`` backfill would, without waiting for the
    backfill daemon's next tick; then followed to its end."""
    partitions = client.asset_partitions()
    job = AssetJob(WEEKLY_JOB, partitions.repository, partitions.location)
    runs: list[RunInfo] = []
    for group in _contiguous(mart_weeks, partitions.keys):
        try:
            run_id = client.launch_range_run(
                job, assets, group[0], group[-1], tags={"mta_lake/trigger": "cli"}
            )
        except BackfillLaunchUnansweredError as error:
            found = client.find_launched_run(error.launch_id)
            if found is None:
                raise LaunchOutcomeUnknown(
                    f"the launch of the mart's run got no answer and no run tagged {LAUNCH_TAG}="
                    f"{error.launch_id} is on {client.url}: look at the runs in the UI before launching it yourself"
                ) from None
            run_id = found
        covered = group[0] if len(group) == 1 else f"{group[0]}..{group[-1]}"
        print(
            f"\nlaunched run {run_id} of the mart's {len(assets)} models for {len(group)} week(s) ({covered})"
        )
        print(f"  {client.url}/runs/{run_id}", flush=True)
        try:
            runs.append(
                client.wait_for_run(
                    run_id,
                    timeout=max(1.0, deadline - time.monotonic()),
                    poll_interval=args.poll,
                    unreachable_after=args.unreachable_after,
                    on_retry=print_retry,
                )
            )
        except BackfillTimeoutError as error:
            print(
                f"mta-lake backfill: error: {error}; it goes on in Dagster: {client.url}/runs/{run_id}",
                file=sys.stderr,
            )
            return EXIT_FAILED
    failed = [run for run in runs if run.status != "SUCCESS"]
    for run in runs:
        covered = (
            f"{run.partitions[0]}..{run.partitions[-1]}"
            if len(run.partitions) > 1
            else "".join(run.partitions)
        )
        print(f"  {run.run_id[:8]} {run.status:8} weeks {covered}" + (f": {run.error}" if run.error else ""))
    print("result: " + ("NOT every week in the mart" if failed else "every week in the mart"))
    return EXIT_FAILED if failed else EXIT_OK
