"""``mta-lake``: the platform from a terminal, for what the ``dagster`` CLI cannot do in 1.13.

    mta-lake materialize WEEK [--select LAYERS]      build one week through every layer, here and now
    mta-lake backfill FROM TO [--wait] [--select LAYERS] [--published-only | --missing-only] [--url URL]
    mta-lake status [--from WEEK] [--to WEEK] [--url URL] [--weeks] [--json]
    mta-lake ridership STATION [--from DATE] [--to DATE]

``materialize`` builds one week through every layer (``--select raw,clean,mart`` or asset names: a
selection brings what it needs) in this process, recorded in the instance in ``DAGSTER_HOME`` (what
``make materialize`` does): one line per asset about exactly that week, the reason of a failure once,
no step retries, Dagster's and dbt's own output left in the run's event log.

``backfill`` launches, on a running instance, the GraphQL mutation the UI uses (so the assets'
BackfillPolicy holds) for the weeks FROM..TO of every layer (``--select`` to choose). Every week must
be published: a week the MTA never published is refused before anything is launched (exit 2, naming
it and the file expected), unless ``--published-only`` skips such weeks (``--missing-only`` also skips
weeks already in the lake). With ``--wait`` it shows the progress and the result of each week: the
landing (raw and clean) first, then, as soon as every week of it is done, the mart's run for the weeks
that landed (one run: one rebuild of the mart for a whole-history backfill).

``status`` reconciles the MTA index page, a listing of the lake and, with ``--url`` or
``MTA_DAGSTER_UI_URL``, what Dagster recorded, and prints the weeks landed, missing and not published.
``ridership`` prints a station's daily entries and exits from the mart (``MTA_WAREHOUSE_PATH``).

Waiting (``--wait``) sends one small query per poll; the runs and the errors of the failed ones are
listed once, at the end. Each request waits ``--request-timeout`` seconds (30) for its answer; a poll
without an answer is tried again after 2 s, 4 s, 8 s ... at most 30 s apart, with one line saying so: a
webserver that is slow to answer is busy, not gone. Only when no connection at all can be made for
``--unreachable-after`` seconds (300) does waiting stop, with exit code 3; the backfill goes on in
Dagster. A launch is sent once and never again (it is not idempotent): if its answer is lost, the
backfill (or run) is looked up by the unique tag it carried (``mta_lake/launch_id``) and followed.

Exit codes: 0 success; 1 some weeks failed, or did not finish within ``--timeout``, or an unexpected
error; 2 invalid arguments, or weeks refused as not published; 3 the Dagster webserver, the lake or (to
tell whether a week is published) the MTA index cannot be reached; 4 (``status``) the MTA index page
could not be read: the report is printed, but weeks absent from the lake are unknown; 130 interrupted.
Errors are one line on stderr, never a traceback (``mta-lake --traceback ...`` shows it).
"""

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence

from mta_lake.core.settings import Settings, SettingsError
from mta_lake.tools import ridership
from mta_lake.tools.arguments import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    LakeUnreachable,
    LaunchOutcomeUnknown,
    UsageError,
    seconds_arg,
    selection_arg,
    week_arg,
)
from mta_lake.tools.backfill import cmd_backfill
from mta_lake.tools.graphql import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_UNREACHABLE_AFTER,
    LAUNCH_TIMEOUT_FACTOR,
    DagsterNotAnsweringError,
    GraphQLClientError,
    UnknownPartitionsError,
)
from mta_lake.tools.status import cmd_status


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
        "--request-timeout", type=seconds_arg, default=DEFAULT_REQUEST_TIMEOUT, help=request_timeout_help
    )
    status.set_defaults(func=cmd_status)

    backfill = commands.add_parser("backfill", help="launch an asset backfill of raw_turnstile")
    backfill.add_argument("from_week", metavar="FROM", help="first week, a Saturday (YYYY-MM-DD)")
    backfill.add_argument("to_week", metavar="TO", help="last week, a Saturday (YYYY-MM-DD), inclusive")
    backfill.add_argument(
        "--missing-only", action="store_true", help="only weeks published and absent from the lake"
    )
    backfill.add_argument(
        "--select",
        default="all",
        help="comma-separated layers (raw, clean, mart, all) or weekly assets to backfill (default all)",
    )
    backfill.add_argument(
        "--published-only",
        action="store_true",
        help="skip the weeks of the range the MTA never published (without it, any such week refuses "
        "the whole backfill, exit 2)",
    )
    backfill.add_argument(
        "--wait",
        action="store_true",
        help="land and clean the weeks, then build the mart for them in one run, showing progress",
    )
    backfill.add_argument("--url", help=url_help)
    backfill.add_argument(
        "--timeout",
        type=seconds_arg,
        default=6 * 3600,
        help="seconds to wait in all, landing and mart (default 6 h)",
    )
    backfill.add_argument(
        "--request-timeout",
        type=seconds_arg,
        default=DEFAULT_REQUEST_TIMEOUT,
        help=request_timeout_help
        + f"; a poll without an answer is tried again; the launch waits {LAUNCH_TIMEOUT_FACTOR} times as long",
    )
    backfill.add_argument(
        "--unreachable-after",
        type=seconds_arg,
        default=DEFAULT_UNREACHABLE_AFTER,
        help="stop waiting (exit code 3) once no connection to the webserver could be made for this "
        f"many seconds in a row; slow answers do not count (default {DEFAULT_UNREACHABLE_AFTER:g})",
    )
    backfill.add_argument("--poll", type=seconds_arg, default=5.0, help=argparse.SUPPRESS)
    backfill.set_defaults(func=cmd_backfill)

    ridership.add_parser(commands)  # mta_lake/tools/ridership.py: the parser and the command

    materialize = commands.add_parser(
        "materialize",
        help="build one week through every layer now, in this process, on the instance in DAGSTER_HOME",
    )
    materialize.add_argument("week", metavar="WEEK", help="the week, a Saturday (YYYY-MM-DD)")
    materialize.add_argument(
        "--select",
        default="all",
        help="comma-separated layers (raw, clean, mart, all) or assets of the week (raw_turnstile, "
        "turnstile_readings, or a mart model); default all. A selection brings what it needs: the mart "
        "models a model reads, and the layer below when the week is not in the lake yet",
    )
    materialize.set_defaults(func=cmd_materialize)
    return parser


def cmd_materialize(args: argparse.Namespace) -> int:
    """One week of the selected layers, executed in this process and recorded in the instance."""
    week = week_arg(args.week)
    # Dagster only now: status and backfill start without it.
    from mta_lake.tools.materialize import WeekRefused, materialize_week

    selected = selection_arg(args.select)
    try:
        outcome = materialize_week(week, selected, args.settings)
    except WeekRefused as refused:
        print(f"mta-lake materialize: error: {refused}", file=sys.stderr)
        return refused.code
    for line in outcome.lines:
        print(line)
    return outcome.code


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The core's warnings (an unreadable index, a retried download) as one line each, named.
    logging.basicConfig(level=logging.WARNING, format=f"mta-lake {args.command}: %(message)s")
    # The handler too: records of child loggers (Dagster's, set to DEBUG) reach it whatever the root's level.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    # Dagster's notes that an API we use is in beta (backfill_policy) say nothing to an operator; they
    # are for whoever upgrades Dagster, who sees them in `dagster definitions validate`.
    warnings.filterwarnings("ignore", message=r".* is currently in beta")
    prefix = f"mta-lake {args.command}: error:"
    try:
        # The settings, read once for the whole command (a bad value is a usage error, exit 2).
        args.settings = Settings.from_env()
        return args.func(args)
    except (UsageError, SettingsError) as error:
        print(f"{prefix} {error}", file=sys.stderr)
        return EXIT_USAGE
    except UnknownPartitionsError as error:
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
