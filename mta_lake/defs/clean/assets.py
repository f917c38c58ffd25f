"""``turnstile_readings``: every reading of a week, both file formats, one typed Parquet object per week.

A thin skin over ``mta_lake.core.cleaning.RunCleaning``: it cleans the weeks of the run in the
lake and this module records each week (``mta_lake.defs.weekly``). Re-materialising a week whose
raw object and the cleaning code are unchanged does no work: the week's data version is derived
from the raw CRC32C and ``CLEAN_CODE_VERSION``, and is stored with the object.

Checks, per week and visible per partition: a week whose accounting does not balance (or has too
many quarantined lines) fails here, so it is never written and never feeds the next layer
(blocking); its figures (rows, turnstiles, stations, quarantined lines, duplicates by kind, rows
mapped by source, readings outside the week, share of rows with a station, Parquet bytes, seconds)
are numbers in the week's metadata, so the UI shows them per week and plots them across weeks. Not
Dagster's partitioned asset checks: in 1.13 a run that covers several weeks stores their results
without a partition, and one-week runs would make a whole-history backfill 720 runs.
"""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    Config,
    Failure,
    MaterializeResult,
    asset,
)
from pydantic import Field

from mta_lake.core.clean import CLEAN_CODE_VERSION
from mta_lake.core.cleaning import CleanFailure, RunCleaning
from mta_lake.core.lake import LakeError
from mta_lake.core.layout import TURNSTILE_READINGS
from mta_lake.defs.environment import SETTINGS, lake_kind, lake_location, run_settings
from mta_lake.defs.partitions import turnstile_weeks
from mta_lake.defs.raw.assets import RAW_TURNSTILE_KEY
from mta_lake.defs.resources import LakeResource
from mta_lake.defs.weekly import WeekDone, report_weeks

TURNSTILE_READINGS_KEY = AssetKey(TURNSTILE_READINGS)


class TurnstileReadingsConfig(Config):
    force: bool = Field(
        default=False, description="Clean weeks again even if their data version is unchanged."
    )


@asset(
    key=TURNSTILE_READINGS_KEY,
    partitions_def=turnstile_weeks,
    group_name="clean",
    deps=[RAW_TURNSTILE_KEY],
    kinds={"parquet", lake_kind()},
    metadata={"lake": lake_location()},
    code_version=CLEAN_CODE_VERSION,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=SETTINGS.weeks_per_run),
    description=(
        "One row per turnstile reading, the same typed schema for both MTA formats, at "
        "clean/turnstile_readings/week=YYYY-MM-DD/readings.parquet; unparseable lines with their "
        "reason at clean/turnstile_quarantine/. One partition per week, like raw_turnstile."
    ),
)
def turnstile_readings(
    context: AssetExecutionContext, config: TurnstileReadingsConfig, lake: LakeResource
) -> Iterator[AssetMaterialization | MaterializeResult]:
    keys = list(context.partition_keys)
    try:
        store = lake.lake()
    except LakeError as error:
        raise Failure(description=str(error), allow_retries=False) from None
    # The cap on a week's decompressed size (MTA_MAX_WEEK_BYTES), read when the run starts.
    cleaning = RunCleaning(keys, store, force=config.force, max_bytes=run_settings().max_week_bytes)
    done: list[WeekDone] = []
    for outcome in cleaning:
        if isinstance(outcome, CleanFailure):
            context.log.error(str(outcome))
            continue
        counts = outcome.counts
        context.log.info(
            f"week {outcome.week}: {outcome.status} -> {outcome.uri} ({counts.get('readings_written', 0):,} "
            f"readings, {counts.get('lines_quarantined', 0):,} lines quarantined)"
        )
        done.append(WeekDone(outcome.week, outcome.metadata(), outcome.data_version))
    failure = None
    if cleaning.failures:
        failure = Failure(
            description=cleaning.summary(),
            metadata={"failed_weeks": sorted(cleaning.failures)},
            allow_retries=False,
        )
    yield from report_weeks(context, done, failure)
