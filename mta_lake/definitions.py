"""The one place where mta_lake's Dagster objects are assembled into ``defs``.

Each layer's definitions live in a folder of ``mta_lake/defs/`` (``raw/``), with what the layers
share beside them (``partitions``, ``resources``, ``automation/``). They are listed here
explicitly, so that this file is the table of contents of the code location.
"""

from dagster import Definitions

from mta_lake.defs.automation.alerts import alert_on_run_failure
from mta_lake.defs.automation.freshness import freshness_checks_sensor, raw_turnstile_freshness_checks
from mta_lake.defs.automation.schedules import raw_turnstile_weekly
from mta_lake.defs.automation.sensors import reconcile_raw_turnstile
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.raw.jobs import raw_turnstile_job
from mta_lake.defs.resources import lake_resource_from_env, source_resource_from_env

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
