"""The ridership dashboard a person opens in a browser (issue 21): Streamlit over a copy of the mart.

- ``queries``: every SQL statement, the extract's and the pages' (the one place to adapt to the schema).
- ``extract``: the dashboard's own DuckDB file, refreshed from the warehouse without ever blocking a
  mart run or being blocked by one.
- ``charts``: the Vega-Lite charts (Altair), ``app``: the Streamlit pages, ``__main__``: the command
  (``make dashboard``). No Dagster import: the dashboard starts in a second.
"""
