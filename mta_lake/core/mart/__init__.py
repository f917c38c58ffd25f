"""The ridership mart's plain-Python side (issue 12): building the dbt project's command lines, the
external check against the MTA's published annual ridership, and station look-ups. No Dagster here."""
