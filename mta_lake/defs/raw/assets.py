"""``raw_turnstile``: each week's MTA file, byte for byte, gzip-compressed in the lake.

A thin skin over ``mta_lake.core.run_landing.RunLanding``, which lands the weeks of the run and decides
how the run ended; this module turns each landed week into its record and the verdict into
Dagster's terms (``RetryRequested`` for a file that is merely late and for transient failures with
tries left, ``Failure`` otherwise). A run may cover several weeks (the ``BackfillPolicy``); weeks that
land are recorded even when others in the same run fail, so a backfill retries only what failed
(``mta_lake.defs.weekly``).
"""

from collections.abc import Iterator
from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    Backoff,
    Config,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    RetryRequested,
    asset,
)
from pydantic import Field

from mta_lake.core.lake import LakeError
from mta_lake.core.landing_report import LandingReport, report_metadata
from mta_lake.core.layout import RAW_TURNSTILE
from mta_lake.core.run_landing import LateFilePolicy, RunLanding, RunVerdict, WeekFailure
from mta_lake.core.settings import Settings
from mta_lake.defs.environment import SETTINGS, lake_kind, lake_location, run_settings
from mta_lake.defs.partitions import turnstile_weeks
from mta_lake.defs.raw.freshness import RAW_TURNSTILE_FRESHNESS
from mta_lake.defs.resources import LakeResource, MtaSource
from mta_lake.defs.weekly import WeekDone, report_weeks

RAW_TURNSTILE_KEY = AssetKey(RAW_TURNSTILE)

MTA_SOURCE_POOL = "mta_source"
"""Concurrency pool of every step that downloads from the MTA; its limit is set in dagster.yaml."""

TRANSIENT_FAILURE_RETRY = RetryPolicy(
    max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
"""The run's further tries at weeks whose transient source failures (timeouts, 5xx, bodies cut short)
outlasted the in-run retries; a 404, a bad file or a lake setting fails at once.

The asset applies it itself (``RetryRequested``); it is not the asset's ``retry_policy``. Dagster
retries a step that has a retry policy when the step is *interrupted* too (``op_execution_error_boundary``
turns the interrupt into a retry request), so a run terminated at its maximum runtime, or cancelled
from the UI, would wait up to two minutes and then download and land its weeks again, after the run
had been marked failed or canceled (seen in CI: mta_lake_tests/e2e/test_run_max_runtime.py)."""


class RawTurnstileConfig(Config):
    reland: bool = Field(
        default=False,
        description="Download and replace weeks already in the lake even if the source is unchanged.",
    )
    max_concurrent_downloads: int = Field(
        default=1,
        ge=1,
        le=16,
        description=(
            "Weeks of this run downloaded at once. The mta_source pool limits steps, so the "
            "MTA sees at most pool limit x this many connections."
        ),
    )


def week_done(report: LandingReport, description: str | None = None) -> WeekDone:
    """A week's record: its metadata (the same whichever way it got there); the source CRC32C is its
    data version, so Dagster's staleness follows the bytes."""
    metadata: dict[str, object] = dict(report_metadata(report))
    if "source_url" in metadata:
        metadata["source_url"] = MetadataValue.url(str(metadata["source_url"]))
    return WeekDone(report.week, metadata, report.stats.crc32c or None, description)


def late_file_policy(settings: Settings) -> LateFilePolicy:
    return LateFilePolicy(
        retry_seconds=settings.late_file_retry_seconds,
        grace=timedelta(seconds=settings.late_file_grace_seconds),
    )


@asset(
    key=RAW_TURNSTILE_KEY,
    partitions_def=turnstile_weeks,
    group_name="raw",
    kinds={lake_kind()},
    metadata={"lake": lake_location()},
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=SETTINGS.weeks_per_run),
    # No retry_policy: transient failures are retried by the body (TRANSIENT_FAILURE_RETRY says why).
    pool=MTA_SOURCE_POOL,
    freshness_policy=RAW_TURNSTILE_FRESHNESS,
    description=(
        "The MTA's weekly turnstile file, byte for byte as published, gzip-compressed at "
        "raw/turnstile/turnstile_YYMMDD.txt.gz. One partition per week (key: the Saturday it starts)."
    ),
)
def raw_turnstile(
    context: AssetExecutionContext,
    config: RawTurnstileConfig,
    mta_source: MtaSource,
    lake: LakeResource,
) -> Iterator[AssetMaterialization | MaterializeResult]:
    keys = list(context.partition_keys)
    # A lake that cannot be used (missing bucket, bad key, denied access) fails the run at once,
    # naming the setting, before anything is downloaded. Not retried: a setting to fix would only
    # fail again minutes later.
    try:
        store = lake.lake()
        store.check_access()
    except LakeError as error:
        raise Failure(description=str(error)) from None
    site = mta_source.site()
    # Read at run time, not load time: the late-file settings apply to the run that reads them.
    landing = RunLanding(
        keys,
        site,
        store,
        reland=config.reland,
        max_workers=config.max_concurrent_downloads,
        late=late_file_policy(run_settings()),
    )
    done: list[WeekDone] = []
    try:
        for outcome in landing:
            if isinstance(outcome, WeekFailure):
                context.log.error(str(outcome))
                continue
            context.log.info(
                f"week {outcome.week}: {outcome.status} {outcome.file_name} -> {outcome.uri} "
                f"({outcome.stats.source_bytes:,} bytes, {outcome.stats.data_rows:,} rows"
                + (f", {outcome.mb_per_s:.1f} MB/s)" if outcome.downloaded else ")")
            )
            done.append(week_done(outcome))
    finally:
        site.close()
    if landing.index_readable is False:
        context.log.warning("index page unreadable: used computed file names (right for weeks since 2013)")
    verdict = landing.verdict()
    done.sort(key=lambda week: week.week)
    yield from report_weeks(context, done, how_the_step_ends(context, verdict, len(keys)))


def how_the_step_ends(
    context: AssetExecutionContext, verdict: RunVerdict, run_size: int
) -> Failure | RetryRequested | None:
    """The verdict in Dagster's terms: None (every week landed), a ``RetryRequested`` (the step tries
    again later, in this run) or the ``Failure`` naming each failed week."""
    if verdict.outcome == "retry_later":
        # The week just ended and the MTA has not published its file yet (the weekly schedule
        # runs on Saturday morning; publication is sometimes later). Not a failure yet: ask
        # Dagster to run the step again later, while the grace period lasts, as one run in
        # progress rather than a stream of red runs. After that, the week fails below.
        context.log.warning(
            f"not published yet: {', '.join(verdict.failed_weeks)}; trying again in "
            f"{verdict.retry_seconds:.0f} s (retry {context.retry_number + 1})"
        )
        return RetryRequested(max_retries=verdict.max_retries, seconds_to_wait=verdict.retry_seconds)
    if verdict.outcome != "failed":
        return None
    failure = Failure(description=verdict.summary(run_size), metadata={"failed_weeks": verdict.failed_weeks})
    if not verdict.retryable or context.retry_number >= TRANSIENT_FAILURE_RETRY.max_retries:
        return failure
    delay = TRANSIENT_FAILURE_RETRY.calculate_delay(context.retry_number + 1)
    context.log.warning(
        f"transient source failures: {', '.join(verdict.failed_weeks)}; trying again in {delay:.0f} s "
        f"(retry {context.retry_number + 1} of {TRANSIENT_FAILURE_RETRY.max_retries})"
    )
    retry = RetryRequested(max_retries=TRANSIENT_FAILURE_RETRY.max_retries, seconds_to_wait=delay)
    retry.__cause__ = failure  # the retry's record in the run says what failed
    return retry
