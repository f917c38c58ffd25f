"""``raw_turnstile_job``: the asset job the weekly schedule launches, one week per run."""

from dagster import define_asset_job

from mta_lake.defs.raw.assets import raw_turnstile

# The job takes its partitions (turnstile_weeks) from the asset. Ranges of weeks are better
# launched as asset backfills (UI or `mta-lake backfill`): they honour the BackfillPolicy.
raw_turnstile_job = define_asset_job(
    name="raw_turnstile_job",
    selection=[raw_turnstile],
    description=(
        "Land weeks of raw_turnstile. The weekly schedule runs it for the week that just ended; "
        "for ranges use an asset backfill (UI or `mta-lake backfill`), which honours the "
        "asset's BackfillPolicy."
    ),
)
