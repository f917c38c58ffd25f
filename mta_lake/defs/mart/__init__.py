"""The mart: daily ridership per station and for the system, built by the dbt project in ``mta_lake/warehouse``."""
