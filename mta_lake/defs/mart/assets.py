"""The ridership mart as Dagster assets: the dbt project ``mta_lake/warehouse``, run by dagster-dbt.

A thin skin over ``mta_lake.core.mart``: which weeks a run applies becomes the dbt command
(``incremental_build_args``: only the weeks of the run and the service days they touch; a run of more
than ``FULL_REBUILD_WEEKS`` weeks rebuilds everything instead, which is faster than applying them one
by one); the warehouse's settings become dbt ``--vars`` (``Warehouse.dbt_vars``); the run holds the
warehouse (``core.mart.lock``, at most ``MTA_MART_LOCK_TIMEOUT_SECONDS``) while dbt writes and while the
run reads its figures back.

What a run shows in the UI: row counts and column types on every mart asset (``dagster/row_count``,
``dagster/column_schema``: what dagster-dbt's ``fetch_row_counts()`` and ``fetch_column_metadata()``
attach, read here in one connection: those work on DuckDB, but need a dbt adapter set up in the run's
process, seconds per run, see ``MartDbtCliResource``); each week's entries and exits per mode on
``system_daily_ridership`` (numbers, so the UI plots them across weeks) and its busiest stations on
``station_daily_ridership``; each dbt test as an asset check with the description from
``tests/schema.yml``, a failing warning with its first failing rows; a comparison with nothing to compare
(no day in the MTA's daily file, no whole year 2013-2018) left unreported, which Dagster shows as
skipped, with a log line saying why.

The models read the clean layer's Parquet straight from the lake (a folder, or GCS through gcsfs
registered with DuckDB), so ``turnstile_readings`` is declared as their upstream for lineage and for
the order of a backfill's runs.
"""

import functools
import importlib.metadata
import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import duckdb
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    Failure,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    multi_asset_check,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from mta_lake.core.mart import annual, report
from mta_lake.core.mart.bigquery_lake import prepare_clean_layer
from mta_lake.core.mart.dbt_project import (
    AdapterNotInstalled,
    Warehouse,
    full_rebuild_args,
    run_weeks_build_args,
    warehouse_from_settings,
)
from mta_lake.core.mart.lock import WarehouseLockTimeout, connect_read_only, hold, wait_for_other_writers
from mta_lake.defs.clean.assets import TURNSTILE_READINGS_KEY
from mta_lake.defs.environment import SETTINGS, run_settings
from mta_lake.defs.mart.project import MART_PROJECT
from mta_lake.defs.partitions import turnstile_weeks

FULL_REBUILD_WEEKS = 52
"""A run of more weeks than this rebuilds the whole mart (``--full-refresh``, batched by year) rather
than applying its weeks incrementally: for a whole-history backfill that is one pass over the lake."""

ANNUAL_RATIO_TOLERANCE = 0.15
"""The mart's annual entries may differ from the MTA's published fare-paid entries by this share before
the annual check warns (public processors land 0.4-0.9% under them for 2015-2019)."""
MODELS_READING_THE_LAKE = {"turnstile_week_last_readings", "turnstile_intervals"}
SYSTEM_DAILY_RIDERSHIP = AssetKey("system_daily_ridership")
STATION_DAILY_RIDERSHIP = AssetKey("station_daily_ridership")
NOTHING_TO_COMPARE = "nothing to compare"
"""The failure a comparison test returns when none of the days it examines has a published figure."""
FAILING_ROWS_SHOWN = 20


class MartDbtCliResource(DbtCliResource):
    """dagster-dbt's CLI resource, without two costs it pays on every run before dbt starts, measured in
    ``benchmarks/mart_history.py`` (RESULTS.md, section 7): ``dbt --version`` in a subprocess, to learn the
    version of the dbt it runs (here always the venv's dbt-core: read from its package metadata), and a dbt
    adapter set up in the run's own process (dbt imported, 571 macros loaded), which ``fetch_row_counts()``
    and ``fetch_column_metadata()`` need and which then holds the DuckDB file open for the rest of the
    process. The row counts and column types are read by ``_annotated`` instead, in one read-only
    connection, after dbt's process has ended."""

    @functools.cached_property
    def _cli_version(self) -> Any:
        from packaging import version

        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> None:  # type: ignore[override]
        return None


def dbt_resource() -> DbtCliResource:
    """The mart's dbt resource: the venv's dbt, the configured target (the manifest was parsed with a
    DuckDB target; the runs use this one)."""
    return MartDbtCliResource(
        project_dir=MART_PROJECT,
        dbt_executable=warehouse_from_settings(SETTINGS).dbt_executable(),
        target=warehouse_from_settings(SETTINGS).dbt_target,
    )


def current_warehouse() -> Warehouse:
    """The warehouse of the settings as the run finds them: a run worker reads the environment the code
    location read (so this is SETTINGS' warehouse), and a test process can point each run at its own."""
    return warehouse_from_settings(run_settings())


class MartTranslator(DagsterDbtTranslator):
    """dbt models and the seed as assets of group ``mart``; the models that read the lake depend on the
    clean layer; each data test's ``description`` (``tests/schema.yml``) is its check's description."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> Any:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or {}
        if node.get("resource_type") in ("model", "seed"):
            spec = spec.replace_attributes(group_name="mart")
            # The seed too: a week's mart run loads it with the models, after the clean week, rather than
            # a backfill running it first on its own (and for weeks whose file never came).
            if node.get("name") in MODELS_READING_THE_LAKE or node.get("resource_type") == "seed":
                spec = spec.merge_attributes(deps=[TURNSTILE_READINGS_KEY])
        return spec

    def get_asset_check_spec(
        self, asset_spec: Any, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        description = (manifest["nodes"].get(unique_id) or {}).get("description")
        if spec is None or not description:
            return spec
        return spec._replace(description=" ".join(description.split()))


@functools.cache
def _nodes() -> dict[str, Mapping[str, Any]]:
    """The manifest's nodes by unique id (each table's and each test's stored failures: ``relation_name``)."""
    return json.loads(MART_PROJECT.manifest_path.read_text())["nodes"]


def _test_nodes() -> dict[str, Mapping[str, Any]]:
    """The manifest's data tests by name."""
    return {node["name"]: node for node in _nodes().values() if node.get("resource_type") == "test"}


def _with_table_metadata(event: Any, connection: duckdb.DuckDBPyConnection) -> Any:
    """A model's or the seed's materialization with its row count and column types (``dagster/row_count``,
    ``dagster/column_schema``), as dagster-dbt's fetch_row_counts()/fetch_column_metadata() would attach."""
    unique_id = event.metadata.get("unique_id")
    node = _nodes().get(getattr(unique_id, "text", unique_id))
    if node is None or not node.get("relation_name"):
        return event
    relation = node["relation_name"]
    (count,) = connection.execute(f"select count(*) from {relation}").fetchone()
    columns = [
        TableColumn(name=name, type=kind)
        for name, kind, *_ in connection.execute(f"describe {relation}").fetchall()
    ]
    return event.with_metadata(
        {
            **event.metadata,
            "dagster/row_count": MetadataValue.int(count),
            "dagster/column_schema": MetadataValue.table_schema(TableSchema(columns=columns)),
        }
    )


def _with_failing_rows(
    event: Any, connection: duckdb.DuckDBPyConnection, tests: Mapping[str, Mapping[str, Any]]
) -> Any:
    """A failed check's event with its failing rows in the metadata (the first FAILING_ROWS_SHOWN, as a
    table, and as records); None when the check compared nothing (it is then not reported: skipped)."""
    node = tests.get(event.check_name) or {}
    relation = node.get("relation_name")
    if event.passed or not node.get("config", {}).get("store_failures") or not relation:
        return event
    rows = report.failing_rows(connection, relation, FAILING_ROWS_SHOWN)
    records = rows.as_records()
    if rows.total == 1 and records[0].get("failure") == NOTHING_TO_COMPARE:
        return None
    return event.with_metadata(
        {
            **event.metadata,
            "failing_rows": MetadataValue.md(rows.markdown(event.check_name)),
            "failing_rows_total": rows.total,
        }
    )


@dbt_assets(
    manifest=MART_PROJECT.manifest_path,
    project=MART_PROJECT,
    partitions_def=turnstile_weeks,
    dagster_dbt_translator=MartTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    # One run for all the weeks of a backfill: the mart is one DuckDB file with one writer, and
    # applying many weeks at once (or rebuilding) is far cheaper than one run a week.
    backfill_policy=BackfillPolicy.single_run(),
    name="ridership_mart",
)
def ridership_mart(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    warehouse = current_warehouse()
    try:
        warehouse.check_adapter()
    except AdapterNotInstalled as error:
        raise Failure(description=str(error)) from None
    warehouse.prepare()
    keys = sorted(context.partition_keys)
    full = len(keys) > FULL_REBUILD_WEEKS
    what = "a full rebuild" if full else f"{len(keys)} week(s)"
    context.log.info(f"dbt build of {what} into {warehouse.path} (target {warehouse.dbt_target})")
    run_name = f"{context.run.run_id[:8]}-{uuid.uuid4().hex[:6]}"
    try:
        with hold(
            warehouse.path,
            exclusive=True,
            timeout=warehouse.lock_timeout_seconds,
            what=f"mart run {context.run.run_id}",
            on_wait=context.log.info,
        ):
            wait_for_other_writers(warehouse.path, warehouse.lock_timeout_seconds, on_wait=context.log.info)
            # Under the lock: an incremental run writes its weeks into the warehouse first (DuckDB).
            args = full_rebuild_args(warehouse) if full else run_weeks_build_args(warehouse, keys)
            if warehouse.dbt_target == "bigquery":
                # MTA_BIGQUERY_CLEAN_LAYER=load_job: the run's weeks loaded into BigQuery before dbt reads them.
                loaded = prepare_clean_layer(run_settings(), None if full else keys)
                if loaded is not None:
                    context.log.info(
                        f"clean layer: {loaded} week(s) loaded into BigQuery by load jobs from GCS"
                    )
            invocation = dbt.cli(
                args, context=context, target_path=warehouse.run_target_path(run_name), raise_on_error=False
            )
            # Collected whole: the warehouse file is dbt's until its process ends (one writer), and the
            # row counts and column types are read after it, by dagster-dbt's read-only adapter.
            events = _annotated(context, warehouse, keys, list(invocation.stream()))
    except WarehouseLockTimeout as error:
        raise Failure(description=str(error)) from None
    yield from events
    if not invocation.is_successful():
        raise Failure(description=_failure_line(invocation))


def _failure_line(invocation: Any) -> str:
    """One line: the dbt nodes that failed (or dbt's own error) and where the whole log is."""
    log = invocation.target_path / "dbt.log"
    try:
        results = invocation.get_artifact("run_results.json").get("results") or []
    except Exception:  # dbt stopped before running anything (a compile error): no run_results.json
        results = []
    failed = [r["unique_id"].split(".")[-1] for r in results if r.get("status") in ("error", "fail")]
    if failed:
        return f"dbt build failed: {', '.join(failed)} (the log: {log})"
    error = invocation.get_error()
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return f"dbt build failed: {lines[-1] if lines else 'see the log'} (the log: {log})"


def _annotated(
    context: AssetExecutionContext, warehouse: Warehouse, weeks: list[str], events: list[Any]
) -> list[Any]:
    """The week's figures added to the assets' metadata; failing rows added to the failed warnings' checks;
    the checks that compared nothing left out (skipped). Reads the warehouse the run just wrote."""
    if not warehouse.path.exists():
        return events
    tests = _test_nodes()
    kept = []
    with connect_read_only(warehouse.path) as connection:
        for event in events:
            if isinstance(event, AssetCheckResult | AssetCheckEvaluation):
                annotated = _with_failing_rows(event, connection, tests)
                if annotated is None:
                    context.log.info(
                        f"{event.check_name}: skipped, nothing to compare (no day of this run is in the "
                        "MTA's published daily ridership, 2020-03-01 .. 2024-11-14)"
                    )
                    continue
                event = annotated
            elif isinstance(event, Output | AssetMaterialization):
                event = _with_table_metadata(event, connection)
            kept.append(event)
        if SYSTEM_DAILY_RIDERSHIP in context.selected_asset_keys:
            for totals in report.week_totals(connection, weeks):
                context.add_asset_metadata(
                    totals.metadata(), asset_key=SYSTEM_DAILY_RIDERSHIP, partition_key=totals.week.isoformat()
                )
        if STATION_DAILY_RIDERSHIP in context.selected_asset_keys:
            for week in weeks:
                busiest = report.busiest_stations(connection, week)
                context.add_asset_metadata(
                    {"busiest_stations": MetadataValue.md(report.busiest_stations_markdown(busiest, week))},
                    asset_key=STATION_DAILY_RIDERSHIP,
                    partition_key=week,
                )
    return kept


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "matches_mta_annual_ridership",
            asset=STATION_DAILY_RIDERSHIP,
            description=(
                "The mart's annual subway entries per station complex against the MTA's published annual "
                "ridership (2013-2018), for each whole year present: the system-wide ratio and the share "
                "of complexes within 10%. A warning: the MTA counts fare-paid entries, turnstiles count "
                "turns. With no whole year 2013-2018 in the warehouse it compares nothing and is skipped."
            ),
        )
    ],
    # A check that compares nothing reports nothing: Dagster shows it as skipped, never as passed.
    can_subset=True,
)
def matches_mta_annual_ridership(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
    warehouse = current_warehouse()
    if not warehouse.path.exists():
        context.log.info("matches_mta_annual_ridership: skipped, no warehouse yet")
        return
    try:
        with (
            hold(
                warehouse.path,
                exclusive=False,
                timeout=warehouse.lock_timeout_seconds,
                on_wait=context.log.info,
            ),
            connect_read_only(warehouse.path) as connection,
        ):
            comparisons = annual.check_annual_ridership(connection)
    except WarehouseLockTimeout as error:
        raise Failure(description=str(error)) from None
    if not comparisons:
        context.log.info(
            "matches_mta_annual_ridership: skipped, nothing to compare (no whole calendar year of 2013-2018 "
            "in the warehouse)"
        )
        return
    metadata: dict[str, Any] = {"years_compared": len(comparisons)}
    for comparison in comparisons:
        for name, value in comparison.metadata().items():
            metadata[f"{comparison.year}_{name}"] = value
        metadata[f"{comparison.year}_worst_complexes"] = MetadataValue.md(
            "| complex | mart | published |\n|---|---:|---:|\n"
            + "\n".join(
                f"| {name} | {mart:,} | {published:,} |" for name, mart, published in comparison.worst
            )
        )
    # A warning when a whole year's system-wide ratio is off by more than ANNUAL_RATIO_TOLERANCE.
    passed = all(abs(c.system_ratio - 1) <= ANNUAL_RATIO_TOLERANCE for c in comparisons)
    yield AssetCheckResult(
        check_name="matches_mta_annual_ridership",
        asset_key=STATION_DAILY_RIDERSHIP,
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        metadata=metadata,
    )
