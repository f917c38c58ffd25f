"""``reconcile_raw_turnstile``: find every gap between the MTA, the lake and Dagster, and close it.

A thin skin over ``mta_lake.core.reconcile``: it reads the views and reports; the decisions are
``plan_reconciliation``'s. Each tick reads the three views afresh (the index page,
a listing of the lake, Dagster's materialised partitions) and acts on the difference:

- published, absent from the lake (``missing``) and recorded but gone from the lake (``lost``,
  logged as a warning): requested as one **asset backfill** of at most
  ``MTA_RECONCILE_MAX_WEEKS`` weeks (docs/SETTINGS.md). An asset backfill honours ``raw_turnstile``'s
  ``BackfillPolicy`` (weeks per run) and its runs go through the run queue and the
  ``mta_source`` pool, so the MTA never sees more downloads than the pool allows. Only one
  reconciliation backfill is in flight at a time, and weeks already being landed (a queued or
  running run, an unfinished backfill) are left to it.
- in the lake but unknown to Dagster (``unrecorded``): recorded as materialised from the
  object's own metadata, with no download (at most ``MTA_RECONCILE_MAX_RECORDS`` a tick).
- not published: left alone (``mta-lake status`` shows them).

The cursor remembers when each missing week was last requested, so a week that fails to land
(listed but 404, a corrupt file) is retried after ``MTA_RECONCILE_RETRY_HOURS``, not every tick.
A lost week is requested again regardless: its object was there once.

``watch_mta_index`` (running everywhere, laptops included; it lands nothing): reads the index page
every ``MTA_INDEX_WATCH_INTERVAL_SECONDS`` and keeps the snapshot ``state/published_files.json``
in the lake, from which ``turnstile_weeks`` excludes the weeks the MTA never published; when the
excluded weeks change it asks the webserver (``MTA_DAGSTER_UI_URL``) to reload the code location.
It also says once when the source starts to look discontinued, and once when it resumes. The
design and why: ``mta_lake.core.source_state``.
"""

import json
import time
from datetime import date, datetime, timedelta

from dagster import (
    AssetKey,
    AssetObservation,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from mta_lake.core import layout, reconcile, source_state, weeks
from mta_lake.core.alerts import AlertTargets
from mta_lake.core.landing import report_from_lake_object
from mta_lake.core.layout import raw_key
from mta_lake.defs.automation.schedules import published_file_dates
from mta_lake.defs.environment import SETTINGS
from mta_lake.defs.partitions import EXCLUDED_WEEKS, turnstile_weeks
from mta_lake.defs.raw.assets import RAW_TURNSTILE_KEY, week_done
from mta_lake.defs.resources import LakeResource, MtaSource
from mta_lake.defs.weekly import week_materialization

RECONCILE_TAG = "mta_lake/reconcile"

UNFINISHED_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def in_flight(instance: DagsterInstance) -> tuple[set[str], bool]:
    """Weeks some unfinished run or backfill will land, and whether a reconciliation backfill is unfinished."""
    flying: set[str] = set()
    for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED_RUN_STATUSES)):
        flying.update(weeks.run_weeks(run.tags))
    reconciling = False
    # Imported here: dagster._core.execution.backfill loads the remote asset graph (~0.2 s),
    # which every run process would otherwise pay on import (benchmarks/startup.py).
    from dagster._core.execution.backfill import BulkActionStatus

    unfinished = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING)
    for status in unfinished:
        for backfill in instance.get_backfills(status=status):
            if backfill.tags.get(RECONCILE_TAG):
                reconciling = True
            flying.update(_backfill_weeks(backfill))
    return flying, reconciling


def _backfill_weeks(backfill) -> list[str]:
    if backfill.is_asset_backfill and backfill.asset_backfill_data is not None:
        subsets = backfill.asset_backfill_data.target_subset.partitions_subsets_by_asset_key
        return [key for subset in subsets.values() for key in subset.get_partition_keys()]
    return list(backfill.partition_names or [])


def _backfill_request(weeks_to_request: list[str], asset_keys: list[AssetKey]) -> RunRequest:
    """One asset backfill of these weeks of these assets (honouring their BackfillPolicy)."""
    subset = turnstile_weeks.subset_with_partition_keys(weeks_to_request)
    return RunRequest.for_asset_graph_subset(
        AssetGraphSubset(partitions_subsets_by_asset_key={key: subset for key in asset_keys}),
        tags={RECONCILE_TAG: "true"},
    )


@sensor(
    name="reconcile_raw_turnstile",
    # Needed to request asset backfills (RunRequest.for_asset_graph_subset) from a sensor.
    asset_selection=[AssetKey(key) for key in layout.WEEKLY_ASSETS],
    minimum_interval_seconds=SETTINGS.reconcile_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING
    if SETTINGS.reconcile_sensor_running
    else DefaultSensorStatus.STOPPED,
    description=(
        "Compares the MTA index, a listing of the lake and Dagster's record of raw_turnstile: "
        "requests published weeks missing from the lake (as an asset backfill, a bounded number a "
        "tick), records weeks found in the lake without downloading them, and warns about weeks "
        "recorded but gone from the lake (and lands them again); cleans weeks whose raw file is in "
        "the lake and whose clean week is not."
    ),
)
def reconcile_raw_turnstile(context: SensorEvaluationContext, mta_source: MtaSource, lake: LakeResource):
    site = mta_source.site()
    try:
        published = reconcile.read_published(site)
    finally:
        site.close()
    store = lake.lake()
    result = reconcile.reconcile(
        published, reconcile.read_lake(store), context.instance.get_materialized_partitions(RAW_TURNSTILE_KEY)
    )
    counts = result.counts()
    context.log.info(f"reconciliation: {counts}")
    if not result.index_readable:
        context.log.warning(
            f"the MTA index page {site.index_url} could not be read: missing weeks cannot be told "
            "from unpublished ones, so none are requested this tick"
        )
    cleaned = {layout.clean_week_of_key(obj.key) for obj in store.list(layout.CLEAN_READINGS_PREFIX)}
    raw_weeks = result.keys(reconcile.WeekState.LANDED, reconcile.WeekState.UNRECORDED)
    flying, reconciling = in_flight(context.instance)
    plan = reconcile.plan_reconciliation(
        result,
        requested_at=reconcile.load_cursor(context.cursor),
        in_flight=flying,
        reconciling=reconciling,
        now=time.time(),
        max_weeks=SETTINGS.reconcile_weeks_per_tick,
        max_records=SETTINGS.reconcile_max_records,
        retry_seconds=SETTINGS.reconcile_retry_seconds,
        clean_missing=[week for week in raw_weeks if week not in cleaned],
    )

    events = []
    for status in plan.record:
        assert status.lake_object is not None
        report = report_from_lake_object(store, status.lake_object, "recorded_from_lake")
        description = "Found in the lake; recorded by the reconciliation sensor without downloading."
        events.append(week_materialization(RAW_TURNSTILE_KEY, week_done(report, description)))
    if events:
        context.log.info(
            f"recording {len(events)} week(s) found in the lake: "
            f"{reconcile.format_weeks([status.key for status in plan.record])}"
        )
    for status in plan.lost_in_flight:
        uri = store.uri(raw_key(status.file_name or ""))
        context.log.info(f"week {status.key}: object {uri} gone from the lake; being landed again")
    for status in plan.lost:
        uri = store.uri(raw_key(status.file_name or ""))
        context.log.warning(
            f"week {status.key}: Dagster recorded it as materialised but its object "
            f"{uri} is GONE from the lake; landing it again"
        )

    run_requests: list[RunRequest] = []
    if plan.waiting_for_backfill:
        context.log.info("weeks to land or clean wait for the reconciliation backfill in flight to finish")
    if plan.request:
        # The layers above raw follow in the same runs.
        run_requests.append(_backfill_request(plan.request, [AssetKey(key) for key in layout.WEEKLY_ASSETS]))
        context.log.info(
            f"requesting {len(plan.request)} of {plan.candidates} week(s) to land as an asset backfill: "
            f"{reconcile.format_weeks(plan.request)}"
        )
    if plan.request_clean:
        # The clean weeks, and the mart above them.
        run_requests.append(
            _backfill_request(plan.request_clean, [AssetKey(key) for key in layout.WEEKLY_ASSETS[1:]])
        )
        context.log.info(
            f"requesting {len(plan.request_clean)} week(s) in the raw lake to clean: "
            f"{reconcile.format_weeks(plan.request_clean)}"
        )

    cursor = reconcile.dump_cursor(plan.requested_at)
    if not run_requests and not events:
        return SensorResult(
            skip_reason=SkipReason(
                f"nothing to do: {counts['landed']} landed, {counts['not_published']} not published, "
                f"{len(result.to_land)} to land ({len(result.to_land) - plan.candidates} in flight or "
                "waiting for their retry delay)"
            ),
            cursor=cursor,
        )
    return SensorResult(run_requests=run_requests, asset_events=events, cursor=cursor)


# -- watch_mta_index: the weeks the MTA never published, and a source that stops ------------------

WATCH_SENSOR_NAME = "watch_mta_index"

_LOCATIONS_QUERY = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { jobs { name } } } } } } } }
"""
_RELOAD_MUTATION = """
mutation Reload($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename ... on PythonError { message } ... on ReloadNotSupported { message }
  ... on RepositoryLocationNotFound { message } ... on UnauthorizedError { message } } }
"""


def reload_code_location(ui_url: str, job_name: str = "turnstile_week_job", timeout: float = 120.0) -> str:
    """Ask the webserver to reload the code location(s) holding ``job_name``, as the UI's Reload does.

    The webserver restarts the code server; the daemon sees the new server and reloads too. Returns
    what happened, in one line.
    """
    import requests

    endpoint = f"{ui_url.rstrip('/')}/graphql"
    try:
        answer = requests.post(endpoint, json={"query": _LOCATIONS_QUERY}, timeout=30).json()
        entries = answer["data"]["workspaceOrError"].get("locationEntries") or []
        names = [
            entry["name"]
            for entry in entries
            if any(
                job["name"] == job_name
                for repo in (entry.get("locationOrLoadError") or {}).get("repositories") or []
                for job in repo["jobs"]
            )
        ]
        if not names:
            return f"no code location at {ui_url} holds {job_name}: nothing reloaded"
        outcomes = []
        for name in names:
            result = requests.post(
                endpoint, json={"query": _RELOAD_MUTATION, "variables": {"name": name}}, timeout=timeout
            ).json()["data"]["reloadRepositoryLocation"]
            outcomes.append(f"{name}: {result['__typename']} {result.get('message') or ''}".strip())
        return "reloaded " + "; ".join(outcomes)
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        return f"could not ask {ui_url} to reload ({type(error).__name__}: {str(error)[:200]})"


RELOAD_RETRY_SECONDS = 120.0
"""Least time between two reloads asked for while the loaded partitions differ from the snapshot
(the request itself retries a refused connection for as long)."""


def _reload_asked(cursor: str | None) -> tuple[float, str]:
    """When a reload was last asked for, and for which exclusions (``_exclusions_tag``)."""
    try:
        data = json.loads(cursor or "{}")
        return float(data.get("reload_asked_at", 0.0)), str(data.get("for", ""))
    except (ValueError, TypeError, AttributeError):
        return 0.0, ""


def _exclusions_tag(excluded) -> str:
    """A short fingerprint of a set of excluded weeks (the same in every process)."""
    import hashlib

    joined = ",".join(sorted(week.isoformat() for week in excluded))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _reload_in_background(ui_url: str) -> None:
    """The reload restarts the very code server this tick runs in: ask for it without waiting."""
    import logging
    import threading

    logger = logging.getLogger(__name__)

    def ask() -> None:
        # The daemon may tick before the webserver listens (dagster dev starts it last): a refused
        # connection is tried again for a while; any other answer is final.
        deadline = time.monotonic() + RELOAD_RETRY_SECONDS
        outcome = reload_code_location(ui_url)
        while (
            outcome.startswith("could not") and "ConnectionError" in outcome and time.monotonic() < deadline
        ):
            time.sleep(3)
            outcome = reload_code_location(ui_url)
        (logger.info if outcome.startswith("reloaded") else logger.warning)(f"{WATCH_SENSOR_NAME}: {outcome}")

    threading.Thread(target=ask, name="mta-lake-reload", daemon=True).start()


@sensor(
    name=WATCH_SENSOR_NAME,
    minimum_interval_seconds=SETTINGS.index_watch_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING
    if SETTINGS.index_watch_running
    else DefaultSensorStatus.STOPPED,
    description=(
        "Reads the MTA index page (one small request) and keeps state/published_files.json in the "
        "lake: the weeks the MTA never published are left out of raw_turnstile's partitions (the "
        "code location is reloaded when they change), and a source whose newest file is more than "
        "MTA_SOURCE_STALE_WEEKS weeks old is reported once as discontinued, and once when it resumes. "
        "Lands nothing."
    ),
)
def watch_mta_index(context: SensorEvaluationContext, mta_source: MtaSource, lake: LakeResource):
    published = published_file_dates(mta_source)
    if published is None:
        return SkipReason(
            f"the MTA index page ({mta_source.site_url}) could not be read or lists no file: "
            "the snapshot of published weeks is kept as it is"
        )
    now = datetime.now(weeks.NEW_YORK)
    store = lake.lake()
    flying, _ = in_flight(context.instance)
    # Never exclude a week in the lake, nor one a run or backfill in flight targets: a backfill
    # whose target partitions vanish fails as a whole. Such a week is excluded on a later tick.
    keep = set(reconcile.lake_weeks(reconcile.read_lake(store))) | {date.fromisoformat(key) for key in flying}
    grace = timedelta(seconds=SETTINGS.late_file_grace_seconds)
    new = source_state.take_snapshot(published, now, SETTINGS.source_stale_weeks, grace, keep)
    stored = source_state.read_snapshot(store)
    change = source_state.compare_snapshots(stored, new)
    status = source_state.source_status(published, now, SETTINGS.source_stale_weeks)
    events = []
    if change.write:
        uri = source_state.write_snapshot(store, new)
        context.log.info(
            f"snapshot of the index written to {uri}: {len(new.file_dates)} files, "
            f"{len(new.excluded)} week(s) without a file excluded from the partitions"
        )
    if change.newly_excluded:
        context.log.info(
            "weeks with no MTA file, now left out of the partitions: "
            + reconcile.format_weeks([w.isoformat() for w in change.newly_excluded])
        )
    if change.no_longer_excluded:
        context.log.info(
            "weeks published since, partitions again: "
            + reconcile.format_weeks([w.isoformat() for w in change.no_longer_excluded])
        )
    if change.discontinued_now or change.resumed_now:
        message = (
            status.describe()
            if change.discontinued_now
            else f"the MTA source has resumed: {status.describe()}"
        )
        (context.log.warning if change.discontinued_now else context.log.info)(message)
        events.append(
            AssetObservation(
                asset_key=RAW_TURNSTILE_KEY,
                description=message,
                metadata={
                    "source_status": "discontinued" if status.discontinued else "publishing",
                    "newest_file": status.newest_file_name or "(none)",
                    "stale_weeks": SETTINGS.source_stale_weeks,
                },
            )
        )
        targets = AlertTargets.from_env()
        for outcome in source_state.send_source_notice(message, status, targets):
            context.log.info(outcome)
    # The partitions this code server loaded: until they match the snapshot, ask for a reload
    # (again on a later tick if the webserver was not up, at most once a minute).
    if set(EXCLUDED_WEEKS) != set(new.excluded):
        asked_at, asked_for = _reload_asked(context.cursor)
        target = _exclusions_tag(new.excluded)
        if asked_for != target or time.time() - asked_at >= RELOAD_RETRY_SECONDS:
            context.log.info(
                f"the loaded partitions exclude {len(EXCLUDED_WEEKS)} week(s), the snapshot "
                f"{len(new.excluded)}: asking the webserver at {SETTINGS.ui_address} to reload the code location"
            )
            _reload_in_background(SETTINGS.ui_address)
            context.update_cursor(json.dumps({"reload_asked_at": time.time(), "for": target}))
    summary = status.describe() + f"; {len(new.excluded)} week(s) without a file excluded"
    if events:
        return SensorResult(asset_events=events, skip_reason=None)
    return SkipReason(("updated: " if change.write else "unchanged: ") + summary)
