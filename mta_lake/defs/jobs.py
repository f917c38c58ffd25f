"""``turnstile_week_job``: the job the weekly schedule launches: a week landed, then every layer above it.

The job takes its partitions (``turnstile_weeks``) from the assets. Ranges of weeks are better
launched as asset backfills (UI or ``mta-lake backfill``): they honour the assets' BackfillPolicy.
"""

from dagster import AssetSelection, define_asset_job

from mta_lake.defs.raw.assets import raw_turnstile

turnstile_week_job = define_asset_job(
    name="turnstile_week_job",
    selection=AssetSelection.assets(raw_turnstile).downstream(),
    description=(
        "Land weeks of raw_turnstile and build the layers above them in the same run. The weekly "
        "schedule runs it for the week that just ended; for ranges use an asset backfill (UI or "
        "`mta-lake backfill`), which honours the assets' BackfillPolicy."
    ),
)
