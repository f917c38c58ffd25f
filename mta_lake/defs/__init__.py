"""The Dagster layer: thin definitions over ``mta_lake.core``, assembled in ``mta_lake.definitions``."""
