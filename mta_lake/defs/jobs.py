"""``turnstile_week_job``: the job the weekly schedule launches: a week landed, then every layer above it.

The job takes its partitions (``turnstile_weeks``) from the assets. Ranges of weeks are better
launched as asset backfills (UI or ``mta-lake backfill``): they honour the assets' BackfillPolicy.
"""

from dagster import AssetSelection, define_asset_job

from mta_lake.core.layout import WEEKLY_JOB
from mta_lake.defs.environment import SETTINGS
from mta_lake.defs.raw.assets import raw_turnstile

MAX_RUNTIME_TAG = "dagster/max_runtime"
"""Run monitoring terminates a run with this tag after that many seconds (instead of the instance's
``run_monitoring.max_runtime_seconds``) and marks it failed."""

WEEKLY_RUN_MAX_SECONDS = int(SETTINGS.late_file_grace_seconds) + 6 * 3600
"""The weekly run may wait in-run for a late file through the grace period (``RetryRequested``,
``MTA_LATE_FILE_GRACE_HOURS``), then land, clean and build the mart: the grace plus the instance's
6 hours, instead of the 6 hours alone that would end such a wait early."""

turnstile_week_job = define_asset_job(
    name=WEEKLY_JOB,
    selection=AssetSelection.assets(raw_turnstile).downstream(),
    tags={MAX_RUNTIME_TAG: str(WEEKLY_RUN_MAX_SECONDS)},
    description=(
        "Land weeks of raw_turnstile and build the layers above them in the same run. The weekly "
        "schedule runs it for the week that just ended; for ranges use an asset backfill (UI or "
        "`mta-lake backfill`), which honours the assets' BackfillPolicy."
    ),
)
