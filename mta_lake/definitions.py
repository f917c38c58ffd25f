"""The one place where mta_lake's Dagster objects are assembled into ``defs``."""

from dagster import Definitions

from mta_lake.alerts import alert_on_run_failure
from mta_lake.assets.raw import raw_turnstile
from mta_lake.checks import freshness_checks_sensor, raw_turnstile_freshness_checks
from mta_lake.jobs import raw_turnstile_job
from mta_lake.resources import lake_resource_from_env, source_resource_from_env
from mta_lake.schedules import raw_turnstile_weekly
from mta_lake.sensors import reconcile_raw_turnstile

defs = Definitions(
    assets=[raw_turnstile],
    asset_checks=[*raw_turnstile_freshness_checks],
    jobs=[raw_turnstile_job],
    schedules=[raw_turnstile_weekly],
    sensors=[reconcile_raw_turnstile, alert_on_run_failure, freshness_checks_sensor],
    resources={
        "mta_source": source_resource_from_env(),
        "lake": lake_resource_from_env(),
    },
)
