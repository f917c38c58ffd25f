"""``raw_turnstile``: each week's MTA file, byte for byte, gzip-compressed in the lake.

A thin skin over ``mta_lake.landing``: resolve each week of the run to its file, land it, and
report one materialisation per week with its own metadata. A run may cover several weeks (the
``BackfillPolicy``); weeks that land are recorded even when others in the same run fail, so a
backfill retries only what failed.
"""

import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    BackfillPolicy,
    Backoff,
    Config,
    Failure,
    Jitter,
    MetadataValue,
    RetryPolicy,
    RetryRequested,
    asset,
)
from pydantic import Field

from mta_lake import weeks
from mta_lake.lake import Lake, LakeError
from mta_lake.landing import (
    LandingError,
    LandingReport,
    RetriesExhaustedError,
    WeekNotPublishedError,
    land_week,
)
from mta_lake.partitions import turnstile_weeks
from mta_lake.resources import LakeResource, MtaSource
from mta_lake.source import MtaSite

MTA_SOURCE_POOL = "mta_source"
"""Concurrency pool of every step that downloads from the MTA; its limit is set in dagster.yaml."""

WEEKS_PER_RUN = int(os.environ.get("MTA_WEEKS_PER_RUN", "8"))
"""Weeks per backfill run: enough to amortise a run's start-up (~4 s) over many ~1 s downloads,
few enough that one failed run costs little to retry."""

LATE_FILE_RETRY_SECONDS_VARIABLE = "MTA_LATE_FILE_RETRY_SECONDS"
LATE_FILE_GRACE_HOURS_VARIABLE = "MTA_LATE_FILE_GRACE_HOURS"


def late_file_retry_seconds() -> float:
    """Wait between attempts at a week whose file is not up yet (default one hour)."""
    return float(os.environ.get(LATE_FILE_RETRY_SECONDS_VARIABLE) or "3600")


def late_file_grace() -> timedelta:
    """How long after a week ends its missing file counts as late rather than not published."""
    hours = os.environ.get(LATE_FILE_GRACE_HOURS_VARIABLE)
    return timedelta(hours=float(hours)) if hours else weeks.PUBLICATION_GRACE


DATA_VERSION_TAG = "dagster/data_version"
DATA_VERSION_IS_USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"


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


def report_metadata(report: LandingReport) -> dict[str, object]:
    """The metadata recorded with a week's materialisation."""
    metadata: dict[str, object] = {
        "dagster/uri": report.uri,
        "status": report.status,
        "file_name": report.file_name,
        "source_url": MetadataValue.url(report.source_url),
        "source_bytes": report.stats.source_bytes,
        "stored_bytes": report.stats.stored_bytes,
        "data_rows": report.stats.data_rows,
        "source_crc32c": report.stats.crc32c,
        "seconds": round(report.seconds, 3),
        "mb_per_s": round(report.mb_per_s, 2),
        "attempts": report.attempts,
    }
    if report.server.last_modified:
        metadata["server_last_modified"] = report.server.last_modified
    if report.server.etag:
        metadata["server_etag"] = report.server.etag
    if report.server.content_length is not None:
        metadata["server_size"] = report.server.content_length
    return metadata


def _land_one(week: str, published: list | None, site: MtaSite, lake: Lake, reland: bool) -> LandingReport:
    week_date = weeks.parse_week(week)
    week_file = weeks.resolve_week(week_date, published)
    if week_file is None:
        placeholder = weeks.WeekFile(week=week_date, file_date=weeks.week_end(week_date), from_index=False)
        raise WeekNotPublishedError(
            placeholder,
            site.index_url,
            "not published: the index page lists no file within 3 days of the week's end",
        )
    return land_week(week_file, site, lake, reland=reland)


def _all_late(failures: dict[str, Exception]) -> bool:
    """True when every failed week is merely not published yet, and a retry would still be in time."""
    next_attempt = datetime.now(weeks.NEW_YORK) + timedelta(seconds=late_file_retry_seconds())
    return all(
        isinstance(error, WeekNotPublishedError)
        and next_attempt < weeks.publication_deadline(weeks.parse_week(key), late_file_grace())
        for key, error in failures.items()
    )


@asset(
    key="raw_turnstile",
    partitions_def=turnstile_weeks,
    group_name="raw",
    kinds={"gcs", "file"},
    output_required=False,  # materialisations are reported per week, as each one lands
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=WEEKS_PER_RUN),
    # A run retries only transient failures that outlasted the in-run retries (see Failure
    # below); a 404 or a bad file fails at once.
    retry_policy=RetryPolicy(max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS),
    pool=MTA_SOURCE_POOL,
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
) -> Iterator[AssetMaterialization]:
    keys = list(context.partition_keys)
    # A lake that cannot be used (missing bucket, bad key, denied access) fails the run at once,
    # naming the setting, before anything is downloaded. Not retried: the run retry policy is
    # for transient source failures, and a setting to fix would only fail again minutes later.
    try:
        store = lake.lake()
        store.check_access()
    except LakeError as error:
        raise Failure(description=str(error), allow_retries=False) from None
    site = mta_source.site()
    failures: dict[str, Exception] = {}
    try:
        for key in keys:
            try:
                weeks.parse_week(key)
            except weeks.InvalidWeekError as error:
                failures[key] = error
        todo = [key for key in keys if key not in failures]
        published = site.published_file_dates() if todo else None
        if published is None and todo:
            context.log.warning(
                "index page unreadable: using computed file names (right for weeks since 2013)"
            )
        with ThreadPoolExecutor(max_workers=config.max_concurrent_downloads) as pool:
            futures = {
                pool.submit(_land_one, key, published, site, store, config.reland): key for key in todo
            }
            for future in as_completed(futures):
                key = futures[future]
                try:
                    report = future.result()
                except (LandingError, LakeError, weeks.InvalidWeekError) as error:
                    # A LakeError here (e.g. a bucket that can be listed but not written) is a
                    # setting to fix, not a reason to retry the run: it fails the week like the rest.
                    context.log.error(str(error))
                    failures[key] = error
                    continue
                context.log.info(
                    f"week {key}: {report.status} {report.file_name} -> {report.uri} "
                    f"({report.stats.source_bytes:,} bytes, {report.stats.data_rows:,} rows, {report.mb_per_s:.1f} MB/s)"
                )
                yield AssetMaterialization(
                    asset_key=context.asset_key,
                    partition=key,
                    metadata=report_metadata(report),
                    tags={DATA_VERSION_TAG: report.stats.crc32c, DATA_VERSION_IS_USER_PROVIDED_TAG: "true"},
                )
    finally:
        site.close()
    if failures and _all_late(failures):
        # The week just ended and the MTA has not published its file yet (the weekly schedule
        # runs on Saturday morning; publication is sometimes later). Not a failure yet: ask
        # Dagster to run the step again later, while the grace period lasts, as one run in
        # progress rather than a stream of red runs. After that, the week fails below.
        wait = late_file_retry_seconds()
        context.log.warning(
            f"not published yet: {', '.join(sorted(failures))}; trying again in {wait:.0f} s "
            f"(retry {context.retry_number + 1})"
        )
        raise RetryRequested(
            max_retries=math.ceil(late_file_grace().total_seconds() / max(wait, 1)) + 1,
            seconds_to_wait=wait,
        )
    if failures:
        lines = [str(failures[key]) for key in keys if key in failures]
        summary = (
            lines[0] if len(lines) == 1 else f"{len(lines)} of {len(keys)} weeks failed:\n" + "\n".join(lines)
        )
        raise Failure(
            description=summary,
            metadata={"failed_weeks": sorted(failures)},
            allow_retries=all(isinstance(error, RetriesExhaustedError) for error in failures.values()),
        )
