"""``turnstile_weeks``: one partition per MTA weekly file, keyed by the Saturday a week starts.

Weeks the MTA never published are **excluded** (``exclusions``), so that the UI does not show them
as Missing forever, "Materialize missing" does not offer them and a backfill of missing weeks does
not launch them. The excluded weeks come from the snapshot of the index that the ``watch_mta_index``
sensor keeps in the lake (``state/published_files.json``; the design and why:
``mta_lake.core.source_state``): weeks with no published file whose publication deadline has passed
and that are not in the lake. A week merely late (the current weekend) stays a partition. Read once,
when the code location loads: a changed snapshot shows after a reload of the code location, which
the sensor asks the webserver for. No snapshot (a fresh clone), or one that cannot be read: no
exclusions, every week since 2010-05-01 is a partition.
"""

import logging
from datetime import date

from dagster import WeeklyPartitionsDefinition

from mta_lake.core.source_state import SNAPSHOT_KEY, exclusion_datetimes, load_exclusions
from mta_lake.core.weeks import FIRST_WEEK

log = logging.getLogger(__name__)


def unpublished_weeks() -> list[date]:
    """The excluded weeks from the lake's snapshot; none when there is none or it cannot be read."""
    from mta_lake.defs.resources import lake_resource_from_env

    try:
        return load_exclusions(lake_resource_from_env().lake())
    except Exception as error:  # never fail the code location over a hint for the UI
        log.warning(f"{SNAPSHOT_KEY} not read ({type(error).__name__}: {error}); no week is excluded")
        return []


EXCLUDED_WEEKS = unpublished_weeks()
"""Weeks that are not partitions because the MTA published no file for them (read at load)."""

turnstile_weeks = WeeklyPartitionsDefinition(
    start_date=FIRST_WEEK.isoformat(),
    # day_offset counts from Sunday (0): 6 makes every key a Saturday, like the MTA's weeks.
    day_offset=6,
    timezone="America/New_York",
    # end_offset=0 (the default): a week becomes a partition only once it has ended.
    exclusions=exclusion_datetimes(EXCLUDED_WEEKS) or None,
)
