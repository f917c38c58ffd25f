"""mta_lake: the MTA's weekly subway turnstile files, landed in a data lake by Dagster.

Plain-Python core (no Dagster import): ``weeks`` (week <-> file), ``source`` (HTTP),
``lake`` (local folder or GCS), ``landing`` (one week into the lake).
Dagster layer: ``partitions``, ``resources``, ``assets``, and ``definitions`` which assembles them.
"""
