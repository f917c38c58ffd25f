"""The real work, in plain Python: no module under ``mta_lake.core`` imports Dagster (tested)."""
