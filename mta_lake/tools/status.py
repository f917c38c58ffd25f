"""``mta-lake status``: the weeks landed, missing and not published, from the MTA index, the lake and Dagster.

No Dagster import: on a laptop ``status`` starts in about 2 s. The lake is opened as everything opens it
(``mta_lake.core.lake.open_lake``: the credentials are chosen there).
"""

import argparse
import json
from datetime import date, datetime
from typing import TYPE_CHECKING

from mta_lake.core import reconcile, source_state, weeks
from mta_lake.core.settings import Settings
from mta_lake.tools.arguments import EXIT_INDEX_UNREADABLE, EXIT_OK, LakeUnreachable, ui_url, week_range
from mta_lake.tools.graphql import DagsterGraphQL

if TYPE_CHECKING:
    pass


def read_views(
    settings: Settings, start: date, end: date, recorded: set[str] | None
) -> reconcile.Reconciliation:
    from mta_lake.core.lake import LakeError, open_lake
    from mta_lake.core.source import site_from_settings

    # The same site, with the same limits, as the assets (MtaSource is built from the same settings).
    site = site_from_settings(settings)
    try:
        published = reconcile.read_published(site)
    finally:
        site.close()
    try:
        objects = reconcile.read_lake(open_lake(settings))
    except LakeError as error:
        raise LakeUnreachable(str(error)) from None
    if recorded is None:
        # Without the instance, a week in the lake counts as landed and none counts as lost.
        recorded = {w.isoformat() for w in reconcile.lake_weeks(objects)}
    return reconcile.reconcile(published, objects, recorded, first=start, last=end)


def source_json(settings: Settings, result: reconcile.Reconciliation) -> dict[str, object] | None:
    """Whether the source looks discontinued (None when the index could not be read)."""
    if not result.index_readable:
        return None
    status = source_state.source_status(
        [result.newest_file] if result.newest_file else [],
        datetime.now(weeks.NEW_YORK),
        settings.source_stale_weeks,
    )
    return {
        "discontinued": status.discontinued,
        "newest_file": status.newest_file_name,
        "since_week": status.since.isoformat() if status.discontinued and status.since else None,
        "message": status.describe(),
    }


def cmd_status(args: argparse.Namespace) -> int:
    start, end = week_range(args.from_week, args.to_week)
    url = ui_url(args)
    recorded: set[str] | None = None
    if url:
        with DagsterGraphQL(url, timeout=args.request_timeout) as client:
            recorded = client.partition_statuses()["materialized"]
    result = read_views(args.settings, start, end, recorded)
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
                    "source": source_json(args.settings, result),
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
            f"WARNING: the MTA index page ({args.settings.site_url}) could not be read (the reason "
            "is on stderr): weeks absent from the lake are shown as unknown"
        )
    else:
        source = source_state.source_status(
            [result.newest_file] if result.newest_file else [],
            datetime.now(weeks.NEW_YORK),
            args.settings.source_stale_weeks,
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
