"""What every ``mta-lake`` command shares: exit codes, the errors that choose them, and argument parsing.

No Dagster import: ``status`` and ``backfill`` start without it.
"""

import argparse
from datetime import date

from mta_lake.core import weeks
from mta_lake.core.layout import SelectionError, parse_selection

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INDEX_UNREADABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # what a shell reports for Ctrl-C


class UsageError(Exception):
    """Bad arguments (exit code 2), said in one line."""


class LakeUnreachable(Exception):
    """The lake cannot be listed (exit code 3)."""


class LaunchOutcomeUnknown(Exception):
    """The launch got no answer and no backfill it could have created turned up."""


def week_arg(value: str) -> date:
    """A week key given on the command line, checked (a usage error otherwise)."""
    try:
        return weeks.parse_week(value)
    except weeks.InvalidWeekError as error:
        raise UsageError(str(error)) from None


def week_range(first: str | None, last: str | None) -> tuple[date, date]:
    start = week_arg(first) if first else weeks.FIRST_WEEK
    end = week_arg(last) if last else weeks.latest_ended_week()
    if start > end:
        raise UsageError(f"FROM {start.isoformat()} is after TO {end.isoformat()}")
    return start, end


def ui_url(args: argparse.Namespace) -> str | None:
    """``--url``, else ``MTA_DAGSTER_UI_URL`` when it is set (None: Dagster is not asked)."""
    url = args.url or args.settings.ui_url
    if url and not url.startswith(("http://", "https://")):
        raise UsageError(f"the Dagster webserver's address must start with http:// or https://, not {url!r}")
    return url


def seconds_arg(value: str) -> float:
    """An argparse type: a number of seconds greater than zero."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {value!r}")
    return seconds


def selection_arg(text: str) -> list[str]:
    try:
        return parse_selection(text)
    except SelectionError as error:
        raise UsageError(str(error)) from None


def date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
