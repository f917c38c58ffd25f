"""The one place where mta_lake's Dagster objects are assembled into ``defs``."""

from dagster import Definitions

from mta_lake.assets.raw import raw_turnstile
from mta_lake.resources import lake_resource_from_env, source_resource_from_env

defs = Definitions(
    assets=[raw_turnstile],
    resources={
        "mta_source": source_resource_from_env(),
        "lake": lake_resource_from_env(),
    },
)
