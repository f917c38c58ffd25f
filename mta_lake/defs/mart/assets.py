"""The ridership mart as Dagster assets: the dbt project ``mta_lake/warehouse``, run by dagster-dbt.

A thin skin over ``mta_lake.core.mart``: which weeks a run applies becomes the dbt command
(``incremental_build_args``: only the weeks of the run and the service days they touch; a run of more
than ``FULL_REBUILD_WEEKS`` weeks rebuilds everything instead, which is faster than applying them one
by one), and the warehouse's settings become the environment of the dbt process. dbt's data tests
appear as Dagster asset checks (blocking ones as errors, the era bands and coverage as warnings); the
external comparison with the MTA's annual ridership is one more check. Each materialisation of
``system_daily_ridership`` records the week's system entries and exits as numbers, so the UI plots
ridership across weeks.

The models read the clean layer's Parquet straight from the lake (a folder, or GCS through gcsfs
registered with DuckDB), so ``turnstile_readings`` is declared as their upstream for lineage and for
the order of a backfill's runs.
"""

import contextlib
import os
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    asset_check,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from mta_lake.core.mart import annual
from mta_lake.core.mart.dbt_project import (
    PROJECT_DIR,
    dbt_executable,
    exclusive,
    full_rebuild_args,
    incremental_build_args,
    warehouse_from_settings,
)
from mta_lake.core.settings import Settings
from mta_lake.defs.clean.assets import TURNSTILE_READINGS_KEY
from mta_lake.defs.environment import SETTINGS
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


def manifest_path(settings: Settings) -> Path:
    """dbt's manifest of the project, parsed once per checkout (and again when the project changes)."""
    from mta_lake.core.mart.dbt_project import parse_project

    return parse_project(warehouse_from_settings(settings))


def dbt_resource() -> DbtCliResource:
    """dagster-dbt's CLI resource for the mart's project, with the venv's dbt."""
    return DbtCliResource(
        project_dir=str(PROJECT_DIR), profiles_dir=str(PROJECT_DIR), dbt_executable=dbt_executable()
    )


class MartTranslator(DagsterDbtTranslator):
    """dbt models as assets of group ``mart``; the models that read the lake depend on the clean layer."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> Any:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or {}
        if node.get("resource_type") == "model":
            spec = spec.replace_attributes(group_name="mart")
            if node.get("name") in MODELS_READING_THE_LAKE:
                spec = spec.merge_attributes(deps=[TURNSTILE_READINGS_KEY])
        return spec


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in os.environ while dbt runs (the profile reads them), restored afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def week_totals(path: Path, weeks: list[str]) -> dict[str, dict[str, int]]:
    """System entries and exits of each week's seven service days, read from the warehouse."""
    import duckdb

    totals: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for week in weeks:
            start = date.fromisoformat(week)
            row = connection.execute(
                "select coalesce(sum(entries), 0), coalesce(sum(exits), 0), count(*) "
                "from system_daily_ridership where service_date >= ? and service_date < ?",
                [start, start + timedelta(days=7)],
            ).fetchone()
            totals[week] = {
                "system_entries": int(row[0]),
                "system_exits": int(row[1]),
                "service_days": int(row[2]),
            }
    return totals


@dbt_assets(
    manifest=manifest_path(SETTINGS),
    partitions_def=turnstile_weeks,
    dagster_dbt_translator=MartTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    # One run for all the weeks of a backfill: the mart is one DuckDB file with one writer, and
    # applying many weeks at once (or rebuilding) is far cheaper than one run a week.
    backfill_policy=BackfillPolicy.single_run(),
    name="ridership_mart",
)
def ridership_mart(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    settings = Settings.from_env()
    target = warehouse_from_settings(settings)
    target.prepare()
    keys = sorted(context.partition_keys)
    args = (
        full_rebuild_args(target) if len(keys) > FULL_REBUILD_WEEKS else incremental_build_args(target, keys)
    )
    context.log.info(f"dbt {' '.join(args[:1])} for {len(keys)} week(s) into {target.path}")
    with exclusive(target), environment(target.environment()):
        # Collected first: the warehouse file is dbt's until its process ends (one writer).
        events = list(dbt.cli(args, context=context).stream())
        totals = (
            week_totals(target.path, keys) if SYSTEM_DAILY_RIDERSHIP in context.selected_asset_keys else {}
        )
    for week, figures in totals.items():
        context.add_asset_metadata(figures, asset_key=SYSTEM_DAILY_RIDERSHIP, partition_key=week)
    yield from events


@asset_check(
    asset=STATION_DAILY_RIDERSHIP,
    name="matches_mta_annual_ridership",
    description=(
        "The mart's annual entries per station complex against the MTA's published annual ridership "
        "(2013-2018), for each whole year present: the system-wide ratio and the share of complexes "
        "within 10%. A warning: the MTA counts fare-paid entries, turnstiles count turns."
    ),
)
def matches_mta_annual_ridership(context: AssetCheckExecutionContext) -> AssetCheckResult:
    import duckdb

    target = warehouse_from_settings(Settings.from_env())
    if not target.path.exists():
        return AssetCheckResult(passed=True, metadata={"years_compared": 0, "note": "no warehouse yet"})
    with exclusive(target), duckdb.connect(str(target.path), read_only=True) as connection:
        comparisons = annual.check_annual_ridership(connection)
    metadata: dict[str, Any] = {"years_compared": len(comparisons)}
    for comparison in comparisons:
        for name, value in comparison.metadata().items():
            metadata[f"{comparison.year}_{name}"] = value
    # A warning when a whole year's system-wide ratio is off by more than ANNUAL_RATIO_TOLERANCE.
    passed = all(abs(c.system_ratio - 1) <= ANNUAL_RATIO_TOLERANCE for c in comparisons)
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.WARN, metadata=metadata)
