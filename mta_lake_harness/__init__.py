"""The shared test harness: real stand-ins for what the platform talks to, used by the tests
(``mta_lake_tests``), the benchmarks, the docs' screenshot scripts and ``make mirror``.

- ``mirror``: the MTA site served from the repo's samples on 127.0.0.1, with faults on demand.
- ``fake_gcs``: fake-gcs-server (the Go GCS emulator) started on a free port; ``gcs_proxy`` and
  ``proxy`` put faults between a client and a server.
- ``instances`` / ``dagster_processes`` / ``graphql``: Dagster instances, a real ``dagster dev`` and the
  GraphQL calls the UI makes.
- ``postgres``, ``webhook``, ``old_format``: the production instance's database, an alert receiver,
  old-format sample weeks.
- ``dashboard``: a small real warehouse, the dashboard's server and headless Chromium (its tests,
  benchmark and screenshots; ``docs/ui_screenshots.py`` too).
- ``paths``: where the repository and its samples are.
"""
