"""``mta-lake``: what the ``dagster`` CLI cannot do in 1.13 for this project.

    mta-lake status [--from WEEK] [--to WEEK] [--url URL] [--weeks]
    mta-lake backfill FROM TO [--missing-only] [--wait] [--url URL] [--timeout SECONDS]

``status`` reconciles the MTA index page, a listing of the lake (``MTA_SITE_URL``,
``MTA_LAKE_URL``) and, with ``--url`` or ``MTA_DAGSTER_UI_URL``, what Dagster recorded, and
prints the weeks in each state. ``backfill`` launches an asset backfill of ``raw_turnstile`` on a
running instance through the GraphQL mutation the UI uses (so the asset's BackfillPolicy
holds), and with ``--wait`` shows its progress and the result of each week.

Exit codes: 0 success; 1 some weeks failed (or the backfill did); 2 invalid arguments;
3 the Dagster instance or the lake cannot be reached.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date

from mta_lake.core import reconcile, weeks
from mta_lake.core.settings import Settings, SettingsError
from mta_lake.tools.graphql import (
    BackfillStatus,
    BackfillTimeoutError,
    DagsterGraphQL,
    DagsterUnreachableError,
    GraphQLClientError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class UsageError(Exception):
    pass


def _week(value: str) -> date:
    try:
        return weeks.parse_week(value)
    except weeks.InvalidWeekError as error:
        raise UsageError(str(error)) from None


def _range(first: str | None, last: str | None) -> tuple[date, date]:
    start = _week(first) if first else weeks.FIRST_WEEK
    end = _week(last) if last else weeks.latest_ended_week()
    if start > end:
        raise UsageError(f"FROM {start.isoformat()} is after TO {end.isoformat()}")
    return start, end


def _read_views(start: date, end: date, recorded: set[str] | None) -> reconcile.Reconciliation:
    from mta_lake.core.lake import LakeError
    from mta_lake.defs.resources import lake_resource_from_env, source_resource_from_env

    site = source_resource_from_env().site()
    try:
        published = reconcile.read_published(site)
    finally:
        site.close()
    try:
        objects = reconcile.read_lake(lake_resource_from_env().lake())
    except LakeError as error:
        raise LakeUnreachable(str(error)) from None
    if recorded is None:
        # Without the instance, a week in the lake counts as landed and none counts as lost.
        recorded = {w.isoformat() for w in reconcile.lake_weeks(objects)}
    return reconcile.reconcile(published, objects, recorded, first=start, last=end)


class LakeUnreachable(Exception):
    pass


def _ui_url(args: argparse.Namespace) -> str | None:
    """``--url``, else ``MTA_DAGSTER_UI_URL`` when it is set (None: Dagster is not asked)."""
    return args.url or Settings.from_env().ui_url


def cmd_status(args: argparse.Namespace) -> int:
    start, end = _range(args.from_week, args.to_week)
    url = _ui_url(args)
    recorded: set[str] | None = None
    if url:
        with DagsterGraphQL(url) as client:
            recorded = client.partition_statuses()["materialized"]
    result = _read_views(start, end, recorded)
    counts = result.counts()
    if args.json:
        print(
            json.dumps(
                {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "dagster": url,
                    "index_readable": result.index_readable,
                    "counts": counts,
                    "weeks": {s.value: result.keys(s) for s in reconcile.WeekState},
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"weeks {start.isoformat()} .. {end.isoformat()} ({len(result.weeks)} weeks)")
    print(f"dagster instance: {url or 'not asked (give --url or MTA_DAGSTER_UI_URL)'}")
    if not result.index_readable:
        print("WARNING: the MTA index page could not be read: absent weeks are shown as unknown")
    labels = {
        reconcile.WeekState.LANDED: "landed",
        reconcile.WeekState.UNRECORDED: "in the lake, not recorded by Dagster",
        reconcile.WeekState.MISSING: "missing (published, not in the lake)",
        reconcile.WeekState.LOST: "LOST (recorded by Dagster, gone from the lake)",
        reconcile.WeekState.NOT_PUBLISHED: "not published",
        reconcile.WeekState.UNKNOWN: "unknown (index unreadable, not in the lake)",
    }
    for state, label in labels.items():
        keys = result.keys(state)
        if not keys and state in (
            reconcile.WeekState.UNRECORDED,
            reconcile.WeekState.LOST,
            reconcile.WeekState.UNKNOWN,
        ):
            continue
        listing = reconcile.format_weeks(keys, limit=1000 if args.weeks else 12) if keys else "-"
        print(f"{label + ':':48} {len(keys):5}  {listing}")
    if result.to_land:
        print(
            f"\nto land them: mta-lake backfill {start.isoformat()} {end.isoformat()} --missing-only --wait"
        )
    return EXIT_OK


def _print_progress(status: BackfillStatus) -> None:
    print(f"  {status.summary()}", flush=True)


def _print_result(status: BackfillStatus, url: str) -> int:
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
    ok = status.succeeded and not status.failed
    print("result: " + ("every week landed" if ok else "NOT every week landed"))
    return EXIT_OK if ok else EXIT_FAILED


def cmd_backfill(args: argparse.Namespace) -> int:
    start, end = _week(args.from_week), _week(args.to_week)
    if start > end:
        raise UsageError(f"FROM {start.isoformat()} is after TO {end.isoformat()}")
    url = _ui_url(args) or Settings.from_env().ui_address
    keys = [w.isoformat() for w in weeks.weeks_between(start, end)]
    with DagsterGraphQL(url) as client:
        client.version()  # fail fast, before reading the lake, if nothing answers
        if args.missing_only:
            result = _read_views(start, end, None)
            if result.index_readable:
                keys = result.to_land
                skipped = len(result.weeks) - len(keys)
                print(
                    f"--missing-only: {len(keys)} week(s) published and absent from the lake; "
                    f"skipping {skipped} ({result.counts()['landed']} landed, "
                    f"{result.counts()['not_published']} not published)"
                )
            else:
                keys = result.keys(reconcile.WeekState.UNKNOWN)
                print(f"--missing-only: index unreadable; {len(keys)} week(s) absent from the lake")
            if not keys:
                print("nothing to backfill: every published week in the range is in the lake")
                return EXIT_OK
        backfill_id = client.launch_asset_backfill(
            keys, tags={"mta_lake/trigger": "cli"}, title=f"mta-lake backfill {start} {end}"
        )
        print(f"launched backfill {backfill_id} of {len(keys)} week(s): {reconcile.format_weeks(keys)}")
        print(f"  {url}/runs/b/{backfill_id}")
        if not args.wait:
            return EXIT_OK
        print(f"waiting (timeout {args.timeout:.0f} s):", flush=True)
        try:
            final = client.wait_for_backfill(
                backfill_id, timeout=args.timeout, poll_interval=args.poll, on_progress=_print_progress
            )
        except BackfillTimeoutError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED
        return _print_result(final, url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mta-lake", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    url_help = (
        f"Dagster webserver address (default: $MTA_DAGSTER_UI_URL, else {Settings().ui_address} for backfill)"
    )

    status = commands.add_parser("status", help="weeks landed, missing and not published")
    status.add_argument("--from", dest="from_week", help="first week (a Saturday; default 2010-05-01)")
    status.add_argument("--to", dest="to_week", help="last week (default: the newest ended week)")
    status.add_argument("--url", help=url_help + "; without it Dagster is not asked")
    status.add_argument("--weeks", action="store_true", help="list every week range, not the first 12")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_status)

    backfill = commands.add_parser("backfill", help="launch an asset backfill of raw_turnstile")
    backfill.add_argument("from_week", metavar="FROM", help="first week, a Saturday (YYYY-MM-DD)")
    backfill.add_argument("to_week", metavar="TO", help="last week, a Saturday (YYYY-MM-DD), inclusive")
    backfill.add_argument(
        "--missing-only", action="store_true", help="only weeks published and absent from the lake"
    )
    backfill.add_argument("--wait", action="store_true", help="wait for the backfill, showing progress")
    backfill.add_argument("--url", help=url_help)
    backfill.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait (default 6 h)")
    backfill.add_argument("--poll", type=float, default=5.0, help=argparse.SUPPRESS)
    backfill.set_defaults(func=cmd_backfill)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, SettingsError) as error:
        print(f"mta-lake {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (DagsterUnreachableError, LakeUnreachable) as error:
        print(f"mta-lake {args.command}: error: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except GraphQLClientError as error:
        print(f"mta-lake {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
