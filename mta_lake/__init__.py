"""mta_lake: the MTA's weekly subway turnstile files, landed in a data lake by Dagster.

- ``core/``: the real work in plain Python, no Dagster import (a test checks every module):
  weeks and files, the HTTP source, the lake, landing a week, reconciliation, settings, alerts.
- ``defs/``: the Dagster layer, a thin skin over the core: one folder per data layer (``raw/``),
  and what the layers share (``partitions``, ``resources``, ``automation/``).
- ``tools/``: the ``mta-lake`` command and its GraphQL client for a running instance.
- ``definitions.py``: everything in ``defs/`` assembled into the code location's ``defs``.
"""
