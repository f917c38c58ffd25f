"""``mta-lake ridership STATION [--from DATE] [--to DATE] [--format table|csv|json]``.

A station's daily entries and exits from the mart (``MTA_WAREHOUSE_PATH``), found by its id
(``complex:318``) or by its name or part of it (case, spaces and punctuation ignored; an id wins over a
name, a whole name over a part). When a mart run is writing the warehouse it waits (at most
``MTA_MART_LOCK_TIMEOUT_SECONDS``), says so on stderr, then answers. Names that tie are listed with their
ids, lines, mode and dates, and how to pick one; a list cut short says so; a range with no day says which
dates the warehouse has.

Exit codes: 0 the days printed; 2 bad arguments (a date that is not YYYY-MM-DD, --from after --to), no
warehouse, no station or several matching; 3 the warehouse stayed busy beyond the wait.
"""

import argparse
import csv
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from mta_lake.tools.arguments import EXIT_OK, EXIT_UNREACHABLE, UsageError, date_arg

if TYPE_CHECKING:
    from mta_lake.core.mart.query import StationRidership

OMNY_ERA = date(2020, 1, 1)


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> argparse.ArgumentParser:
    """The ``ridership`` subcommand of ``mta-lake``."""
    parser = commands.add_parser(
        "ridership",
        help="a station's daily entries and exits from the mart (MTA_WAREHOUSE_PATH)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "station",
        metavar="STATION",
        help="the station's id (complex:318), or its name or part of it (34 ST-PENN)",
    )
    parser.add_argument("--from", dest="date_from", type=date_arg, help="first service date (YYYY-MM-DD)")
    parser.add_argument("--to", dest="date_to", type=date_arg, help="last service date (YYYY-MM-DD)")
    parser.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="table (default), csv or json"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    # DuckDB only now: the other commands of mta-lake start without it.
    from mta_lake.core.mart.query import (
        AmbiguousStation,
        NoDaysInRange,
        StationNotFound,
        WarehouseBusy,
        open_warehouse,
        station_ridership,
    )

    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise UsageError(f"--from {args.date_from} is after --to {args.date_to}")
    path = Path(args.settings.warehouse_path)
    if not path.exists():
        raise UsageError(
            f"no warehouse at {path} (MTA_WAREHOUSE_PATH): build the mart first (make mart-rebuild)"
        )
    try:
        with open_warehouse(
            path,
            args.settings.mart_lock_timeout_seconds,
            on_wait=lambda message: print(message, file=sys.stderr, flush=True),
        ) as connection:
            result = station_ridership(connection, args.station, args.date_from, args.date_to)
    except (StationNotFound, AmbiguousStation, NoDaysInRange) as failure:
        raise UsageError(str(failure)) from None
    except WarehouseBusy as failure:
        print(f"mta-lake ridership: error: {failure}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print({"table": as_table, "csv": as_csv, "json": as_json}[args.format](result))
    return EXIT_OK


def as_table(result: "StationRidership") -> str:
    """One line per day, then the totals, and what the figures mean in their era."""
    lines = [
        result.station.describe(),
        f"{'date':<10}  {'entries':>10}  {'exits':>10}  coverage",
    ]
    for day in result.days:
        lines.append(
            f"{day.service_date.isoformat():<10}  {day.entries:>10,}  {day.exits:>10,}  {day.coverage:8.2f}"
        )
    lines.append(f"{'total':<10}  {result.entries:>10,}  {result.exits:>10,}  ({len(result.days)} days)")
    if result.days[-1].service_date >= OMNY_ERA:
        lines.append(
            "From 2020 (OMNY) turnstile entries miss about half of the riders; exits track the MTA's own figure."
        )
    return "\n".join(lines)


COLUMNS = (
    "station",
    "station_name",
    "line_names",
    "mode",
    "service_date",
    "entries",
    "exits",
    "turnstiles_reporting",
    "coverage",
)


def as_csv(result: "StationRidership") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    s = result.station
    for day in result.days:
        writer.writerow(
            [s.station, s.station_name, s.line_names, s.mode, day.service_date.isoformat(), day.entries, day.exits,
             day.turnstiles_reporting, f"{day.coverage:.6f}"]
        )  # fmt: skip
    return buffer.getvalue().rstrip("\n")


def as_json(result: "StationRidership") -> str:
    s = result.station
    return json.dumps(
        {
            "station": s.station,
            "station_name": s.station_name,
            "line_names": s.line_names,
            "mode": s.mode,
            "days": [
                {
                    "service_date": day.service_date.isoformat(),
                    "entries": day.entries,
                    "exits": day.exits,
                    "turnstiles_reporting": day.turnstiles_reporting,
                    "coverage": day.coverage,
                }
                for day in result.days
            ],
            "total": {"entries": result.entries, "exits": result.exits, "days": len(result.days)},
        },
        indent=2,
    )
