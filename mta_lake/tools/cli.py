"""``mta-lake``: what the ``dagster`` CLI cannot do in 1.13 for this project.

    mta-lake status [--from WEEK] [--to WEEK] [--url URL] [--weeks] [--json] [--request-timeout S]
    mta-lake backfill FROM TO [--missing-only] [--wait] [--url URL] [--timeout S]
                              [--request-timeout S] [--unreachable-after S]
    mta-lake ridership STATION [--from DATE] [--to DATE]
    mta-lake materialize WEEK [--select ASSET,...]

``status`` reconciles the MTA index page, a listing of the lake (``MTA_SITE_URL``,
``MTA_LAKE_URL``) and, with ``--url`` or ``MTA_DAGSTER_UI_URL``, what Dagster recorded, and
prints the weeks in each state. ``backfill`` launches an asset backfill of ``raw_turnstile`` and
every weekly layer above it on a running instance through the GraphQL mutation the UI uses (so the
assets' BackfillPolicy holds). With ``--wait`` it launches the landing (``raw_turnstile`` and
``turnstile_readings``) first and shows its progress and the result of each week, then the mart's
models for the weeks that landed, one run (a whole-history backfill: one rebuild of the mart, where one
backfill of every layer would run the mart each time a batch of weeks was cleaned, rebuilding it
again past 52 weeks, and hold run slots the landing needs), and shows that too.
``ridership`` prints a station's daily entries and exits from the mart (``MTA_WAREHOUSE_PATH``),
finding the station by part of its name. ``materialize`` runs one week here, in this process, on the
instance in ``DAGSTER_HOME`` (what ``make materialize`` does): the week's result in one line per asset,
the reason of a failure once, and no step retries (a person at a terminal wants the reason now, not after
the asset's RetryPolicy has waited minutes; the source's own retries still apply).

Waiting (``--wait``) sends one small query per poll (the backfill's status and counts); the runs
and the errors of the failed ones are listed once, at the end. Each request waits
``--request-timeout`` seconds (30) for its answer. A poll without an answer is tried again after
2 s, 4 s, 8 s ... at most 30 s apart, with one line saying so each time: a webserver that is slow
to answer is busy, not gone, and is waited for. Only when no connection at all can be made for
``--unreachable-after`` seconds (300) does waiting stop, with exit code 3; the backfill itself goes
on in Dagster.

The launch is sent once and never again: it is not idempotent, and a launch whose answer was lost
may have created the backfill. It waits four request timeouts (2 minutes) for its answer; without
one, the backfill is looked up by the unique tag the launch carried (``mta_lake/launch_id``) for up
to ``--unreachable-after`` seconds and followed if found; if not, exit code 3 and a message to check
the UI before launching again.

Exit codes: 0 success (every week landed; for ``status``, the report is complete); 1 some weeks
failed, the backfill did, it did not finish within ``--timeout``, or an unexpected error; 2 invalid
arguments; 3 the Dagster webserver or the lake cannot be reached (or, for a single request, did not
answer in time); 4 (``status``) the MTA index page could not be read: the report is printed, but
weeks absent from the lake are unknown rather than missing or not published; 130 interrupted.
Errors are one line on stderr, never a traceback (``mta-lake --traceback ...`` shows it).
"""

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mta_lake.core import reconcile, source_state, weeks
from mta_lake.core.layout import LANDING_ASSETS, MART_MODELS, WEEKLY_ASSETS
from mta_lake.core.settings import Settings, SettingsError
from mta_lake.tools.graphql import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_UNREACHABLE_AFTER,
    LAUNCH_TAG,
    LAUNCH_TIMEOUT_FACTOR,
    BackfillLaunchUnansweredError,
    BackfillStatus,
    BackfillTimeoutError,
    DagsterGraphQL,
    DagsterNotAnsweringError,
    GraphQLClientError,
    RetryNotice,
)

if TYPE_CHECKING:
    from mta_lake.core.lake import Lake

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INDEX_UNREADABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # what a shell reports for Ctrl-C


class UsageError(Exception):
    pass


class LakeUnreachable(Exception):
    pass


class LaunchOutcomeUnknown(Exception):
    """The launch got no answer and no backfill it could have created turned up."""


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


def _open_lake() -> "Lake":
    """The lake ``MTA_LAKE_URL`` names. A folder is opened by the core alone: ``status`` on a laptop then
    starts without importing Dagster (about 2 s on an idle machine, 10 s on a loaded one). A bucket goes
    through the Dagster resource, where credentials are chosen in one place."""
    from mta_lake.core.lake import LocalLake, parse_lake_url

    scheme, location, _ = parse_lake_url(Settings.from_env().lake_url)
    if scheme == "file":
        return LocalLake(str(Path(location).resolve()))
    from mta_lake.defs.resources import lake_resource_from_env

    return lake_resource_from_env().lake()


def _read_views(start: date, end: date, recorded: set[str] | None) -> reconcile.Reconciliation:
    from mta_lake.core.lake import LakeError
    from mta_lake.core.source import MtaSite

    # The same site the assets use (MtaSource's defaults are MtaSite's).
    site = MtaSite(Settings.from_env().site_url)
    try:
        published = reconcile.read_published(site)
    finally:
        site.close()
    try:
        objects = reconcile.read_lake(_open_lake())
    except LakeError as error:
        raise LakeUnreachable(str(error)) from None
    if recorded is None:
        # Without the instance, a week in the lake counts as landed and none counts as lost.
        recorded = {w.isoformat() for w in reconcile.lake_weeks(objects)}
    return reconcile.reconcile(published, objects, recorded, first=start, last=end)


def _ui_url(args: argparse.Namespace) -> str | None:
    """``--url``, else ``MTA_DAGSTER_UI_URL`` when it is set (None: Dagster is not asked)."""
    url = args.url or Settings.from_env().ui_url
    if url and not url.startswith(("http://", "https://")):
        raise UsageError(f"the Dagster webserver's address must start with http:// or https://, not {url!r}")
    return url


def _source_json(result: reconcile.Reconciliation) -> dict[str, object] | None:
    """Whether the source looks discontinued (None when the index could not be read)."""
    if not result.index_readable:
        return None
    status = source_state.source_status(
        [result.newest_file] if result.newest_file else [],
        datetime.now(weeks.NEW_YORK),
        Settings.from_env().source_stale_weeks,
    )
    return {
        "discontinued": status.discontinued,
        "newest_file": status.newest_file_name,
        "since_week": status.since.isoformat() if status.discontinued and status.since else None,
        "message": status.describe(),
    }


def cmd_status(args: argparse.Namespace) -> int:
    start, end = _range(args.from_week, args.to_week)
    url = _ui_url(args)
    recorded: set[str] | None = None
    if url:
        with DagsterGraphQL(url, timeout=args.request_timeout) as client:
            recorded = client.partition_statuses()["materialized"]
    result = _read_views(start, end, recorded)
    counts = result.counts()
    # Everything that could be read is printed; the exit code says whether that was all of it.
    code = EXIT_OK if result.index_readable else EXIT_INDEX_UNREADABLE
    if args.json:
        print(
            json.dumps(
                {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "dagster": url,
                    "index_readable": result.index_readable,
                    "source": _source_json(result),
                    "counts": counts,
                    "weeks": {s.value: result.keys(s) for s in reconcile.WeekState},
                },
                indent=2,
            )
        )
        return code
    print(f"weeks {start.isoformat()} .. {end.isoformat()} ({len(result.weeks)} weeks)")
    print(f"dagster instance: {url or 'not asked (give --url or MTA_DAGSTER_UI_URL)'}")
    if not result.index_readable:
        print(
            f"WARNING: the MTA index page ({Settings.from_env().site_url}) could not be read (the reason "
            "is on stderr): weeks absent from the lake are shown as unknown"
        )
    else:
        source = source_state.source_status(
            [result.newest_file] if result.newest_file else [],
            datetime.now(weeks.NEW_YORK),
            Settings.from_env().source_stale_weeks,
        )
        print(("WARNING: " if source.discontinued else "") + source.describe())
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
    return code


def _print_progress(status: BackfillStatus) -> None:
    print(f"  {status.summary()}", flush=True)


def _print_retry(notice: RetryNotice) -> None:
    print(f"  {notice.message()}", flush=True)


def _print_result(
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
            on_retry=_print_retry,
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
    client: DagsterGraphQL, backfill_id: str, args: argparse.Namespace, deadline: float
) -> BackfillStatus | int:
    """Wait for one backfill to end (its status, runs listed), or the exit code of why waiting stopped."""
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
            on_progress=_print_progress,
            unreachable_after=args.unreachable_after,
            on_retry=_print_retry,
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


def cmd_backfill(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    start, end = _week(args.from_week), _week(args.to_week)
    if start > end:
        raise UsageError(f"FROM {start.isoformat()} is after TO {end.isoformat()}")
    url = _ui_url(args) or Settings.from_env().ui_address
    keys = [w.isoformat() for w in weeks.weeks_between(start, end)]
    with DagsterGraphQL(url, timeout=args.request_timeout) as client:
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
        title = f"mta-lake backfill {start} {end}"
        if not args.wait:
            # Nobody stays to launch the mart after the landing: one backfill of every layer.
            backfill_id = _launch(client, keys, title, args.unreachable_after, WEEKLY_ASSETS)
            print(f"launched backfill {backfill_id} of {len(keys)} week(s): {reconcile.format_weeks(keys)}")
            print(f"  {url}/runs/b/{backfill_id}")
            return EXIT_OK
        # Waiting: the landing first, then the mart in one run. In one backfill of every layer the
        # daemon launches a mart run each time a batch of cleaned weeks is done; those runs hold run
        # slots the landing needs, and each run of more than 52 weeks rebuilds the whole mart.
        backfill_id = _launch(client, keys, title, args.unreachable_after, LANDING_ASSETS)
        print(
            f"launched backfill {backfill_id} of {len(keys)} week(s) ({', '.join(LANDING_ASSETS)}): "
            f"{reconcile.format_weeks(keys)}; the mart follows, in one run, once they are done"
        )
        print(f"  {url}/runs/b/{backfill_id}")
        landing = _follow(client, backfill_id, args, deadline)
        if isinstance(landing, int):
            return landing
        code = _print_result(landing, url)
        mart_weeks = [key for key in keys if key not in landing.failed_weeks]
        # Only after a landing that ran to its end: a canceled backfill, or one the daemon failed to
        # plan, says nothing about which weeks are in the lake.
        if not landing.status.startswith("COMPLETED") or not mart_weeks:
            return code
        mart_id = _launch(client, mart_weeks, f"{title} (mart)", args.unreachable_after, MART_MODELS)
        print(
            f"\nlaunched backfill {mart_id} of the mart's {len(MART_MODELS)} models for {len(mart_weeks)} week(s)"
        )
        print(f"  {url}/runs/b/{mart_id}")
        mart = _follow(client, mart_id, args, deadline)
        if isinstance(mart, int):
            return mart
        return max(
            code,
            _print_result(mart, url, done="every week in the mart", not_done="NOT every week in the mart"),
        )


def _seconds(value: str) -> float:
    """An argparse type: a number of seconds greater than zero."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {value!r}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mta-lake", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--traceback", action="store_true", help="on an unexpected error, show the traceback, not one line"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    url_help = (
        f"Dagster webserver address (default: $MTA_DAGSTER_UI_URL, else {Settings().ui_address} for backfill)"
    )
    request_timeout_help = (
        f"seconds to wait for each answer from the webserver (default {DEFAULT_REQUEST_TIMEOUT:g})"
    )

    status = commands.add_parser("status", help="weeks landed, missing and not published")
    status.add_argument("--from", dest="from_week", help="first week (a Saturday; default 2010-05-01)")
    status.add_argument("--to", dest="to_week", help="last week (default: the newest ended week)")
    status.add_argument("--url", help=url_help + "; without it Dagster is not asked")
    status.add_argument("--weeks", action="store_true", help="list every week range, not the first 12")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument(
        "--request-timeout", type=_seconds, default=DEFAULT_REQUEST_TIMEOUT, help=request_timeout_help
    )
    status.set_defaults(func=cmd_status)

    backfill = commands.add_parser("backfill", help="launch an asset backfill of raw_turnstile")
    backfill.add_argument("from_week", metavar="FROM", help="first week, a Saturday (YYYY-MM-DD)")
    backfill.add_argument("to_week", metavar="TO", help="last week, a Saturday (YYYY-MM-DD), inclusive")
    backfill.add_argument(
        "--missing-only", action="store_true", help="only weeks published and absent from the lake"
    )
    backfill.add_argument(
        "--wait",
        action="store_true",
        help="land and clean the weeks, then build the mart for them in one run, showing progress",
    )
    backfill.add_argument("--url", help=url_help)
    backfill.add_argument(
        "--timeout",
        type=_seconds,
        default=6 * 3600,
        help="seconds to wait in all, landing and mart (default 6 h)",
    )
    backfill.add_argument(
        "--request-timeout",
        type=_seconds,
        default=DEFAULT_REQUEST_TIMEOUT,
        help=request_timeout_help
        + f"; a poll without an answer is tried again; the launch waits {LAUNCH_TIMEOUT_FACTOR} times as long",
    )
    backfill.add_argument(
        "--unreachable-after",
        type=_seconds,
        default=DEFAULT_UNREACHABLE_AFTER,
        help="stop waiting (exit code 3) once no connection to the webserver could be made for this "
        f"many seconds in a row; slow answers do not count (default {DEFAULT_UNREACHABLE_AFTER:g})",
    )
    backfill.add_argument("--poll", type=_seconds, default=5.0, help=argparse.SUPPRESS)
    backfill.set_defaults(func=cmd_backfill)

    ridership = commands.add_parser(
        "ridership", help="a station's daily entries and exits from the mart (MTA_WAREHOUSE_PATH)"
    )
    ridership.add_argument("station", metavar="STATION", help="the station, or part of its name (34 ST-PENN)")
    ridership.add_argument("--from", dest="date_from", type=_date, help="first service date (YYYY-MM-DD)")
    ridership.add_argument("--to", dest="date_to", type=_date, help="last service date (YYYY-MM-DD)")
    ridership.set_defaults(func=cmd_ridership)

    materialize = commands.add_parser(
        "materialize", help="land one week now, in this process, on the instance in DAGSTER_HOME"
    )
    materialize.add_argument("week", metavar="WEEK", help="the week, a Saturday (YYYY-MM-DD)")
    materialize.add_argument(
        "--select",
        default="raw_turnstile",
        help="comma-separated assets of the week (default raw_turnstile; turnstile_readings is the clean week)",
    )
    materialize.set_defaults(func=cmd_materialize)
    return parser


def cmd_materialize(args: argparse.Namespace) -> int:
    """One week of the selected assets, executed in this process and recorded in the instance."""
    week = _week(args.week)
    if week > weeks.latest_ended_week():
        raise UsageError(f"week {week.isoformat()} has not ended")
    selected = [name.strip() for name in args.select.split(",") if name.strip()]
    # Dagster only now: status and backfill start without it.
    from mta_lake.tools.materialize import materialize_week

    outcome = materialize_week(week, selected)
    for line in outcome.lines:
        print(line)
    return EXIT_OK if outcome.succeeded else EXIT_FAILED


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def cmd_ridership(args: argparse.Namespace) -> int:
    """Print one station's daily ridership; a search that matches no station, or several, is a usage error."""
    from mta_lake.core.mart.query import (
        AmbiguousStation,
        StationNotFound,
        format_station_ridership,
        station_ridership,
    )

    path = Path(Settings.from_env().warehouse_path)
    if not path.exists():
        raise UsageError(f"no warehouse at {path} (MTA_WAREHOUSE_PATH): materialise the mart first")
    try:
        result = station_ridership(path, args.station, args.date_from, args.date_to)
    except (StationNotFound, AmbiguousStation) as error:
        raise UsageError(str(error)) from None
    print(format_station_ridership(result))
    return EXIT_OK


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The core's warnings (an unreadable index, a retried download) as one line each, named.
    logging.basicConfig(level=logging.WARNING, format=f"mta-lake {args.command}: %(message)s")
    prefix = f"mta-lake {args.command}: error:"
    try:
        return args.func(args)
    except (UsageError, SettingsError) as error:
        print(f"{prefix} {error}", file=sys.stderr)
        return EXIT_USAGE
    except (DagsterNotAnsweringError, LakeUnreachable, LaunchOutcomeUnknown) as error:
        print(f"{prefix} {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except GraphQLClientError as error:
        print(f"{prefix} {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"\nmta-lake {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.traceback:
            raise
        print(
            f"{prefix} unexpected {_one_line(error)} (`mta-lake --traceback {args.command} ...` shows where)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
