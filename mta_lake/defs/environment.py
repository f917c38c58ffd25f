"""The environment, read once when the code location loads.

Every ``MTA_*`` variable is declared in ``mta_lake.core.settings`` (table: docs/SETTINGS.md). A bad
value fails here, at load, with a message naming the variable, before any schedule or run starts.
"""

from mta_lake.core.settings import Settings

SETTINGS = Settings.from_env()
"""The settings as the code location loaded them: definitions, partitions, schedules and sensors."""


def run_settings() -> Settings:
    """The settings as a run (or an alert) finds them when it starts. A run worker inherits the code
    location's environment, so in a deployment these equal ``SETTINGS``; a test process can point each
    run at its own lake or warehouse."""
    return Settings.from_env()


def lake_kind() -> str:
    """The lake's kind tag in the UI: ``gcs`` for a bucket, ``folder`` for a local folder."""
    return "gcs" if SETTINGS.lake_url.startswith(("gs://", "gcs://")) else "folder"


def lake_location() -> str:
    """Where the lake is, in words, for the assets' definition metadata."""
    from mta_lake.core.lake import parse_lake_url

    scheme, location, prefix = parse_lake_url(SETTINGS.lake_url)
    if scheme == "file":
        from pathlib import Path

        return f"local folder {Path(location).resolve()}"
    return f"GCS bucket {location}" + (f", prefix {prefix}" if prefix else "")
