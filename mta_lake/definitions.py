"""The one place where mta_lake's Dagster objects are assembled into ``defs``.

Each layer's definitions live in a folder of ``mta_lake/defs/`` (``raw/``, ``clean/``, ``mart/``),
with what the layers share beside them (``partitions``, ``resources``, ``automation/``). They are
listed here explicitly, so that this file is the table of contents of the code location.
"""

from dagster import Definitions, in_process_executor

from mta_lake.defs.automation.alerts import alert_on_run_failure
from mta_lake.defs.automation.index_sensor import watch_mta_index
from mta_lake.defs.automation.reconcile_sensor import reconcile_raw_turnstile
from mta_lake.defs.automation.schedules import raw_turnstile_weekly
from mta_lake.defs.clean.assets import turnstile_readings
from mta_lake.defs.jobs import turnstile_week_job
from mta_lake.defs.mart.assets import dbt_resource, matches_mta_annual_ridership, ridership_mart
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import lake_resource_from_env, source_resource_from_env

defs = Definitions(
    # Each run executes its steps in the run worker itself. The default multiprocess executor
    # starts one more Python process per step (~240 MB and seconds of CPU before any byte is
    # downloaded); the weeks of a run already download in parallel threads inside the step.
    executor=in_process_executor,
    assets=[raw_turnstile, turnstile_readings, ridership_mart],
    asset_checks=[matches_mta_annual_ridership],
    jobs=[turnstile_week_job],
    schedules=[raw_turnstile_weekly],
    sensors=[reconcile_raw_turnstile, watch_mta_index, alert_on_run_failure],
    resources={
        "mta_source": source_resource_from_env(),
        "lake": lake_resource_from_env(),
        "dbt": dbt_resource(),
    },
)
