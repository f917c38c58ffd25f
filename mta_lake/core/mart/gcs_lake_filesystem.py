"""A dbt-duckdb plugin: the lake in GCS as a DuckDB filesystem, opened with the platform's credentials.

Named by the ``duckdb_gcs`` output of ``mta_lake/warehouse/profiles.yml`` (``plugins:``). When dbt
opens a DuckDB connection for that target, ``Plugin.configure_connection`` registers a gcsfs
filesystem built from ``mta_lake.core.lake.gcs_credentials``: the same choice, in the same order,
as every run, sensor and the CLI make (``MTA_GCS_SERVICE_ACCOUNT_JSON``, a key file in
``GOOGLE_APPLICATION_CREDENTIALS``, anonymous against ``STORAGE_EMULATOR_HOST``, Application Default
Credentials), scoped read-only: the mart only reads the lake. The key is read from the dbt
process's environment at that moment and goes nowhere else (not into the profile, dbt's logs or its
manifest). DuckDB's own httpfs extension cannot be downloaded here; gcsfs is plain Python.

Plain Python, no Dagster; dbt-duckdb is imported only in dbt's process.
"""

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from mta_lake.core.lake import READ_ONLY_SCOPE, GCSCredentials, gcs_credentials


def lake_filesystem(chosen: GCSCredentials | None = None) -> Any:
    """A ``gcsfs.GCSFileSystem`` (protocols ``gs``/``gcs``) with the chosen credentials; it honours
    ``STORAGE_EMULATOR_HOST`` for its endpoint, as the storage client does."""
    import gcsfs
    from google.auth.credentials import AnonymousCredentials

    chosen = chosen or gcs_credentials(scopes=(READ_ONLY_SCOPE,))
    anonymous = isinstance(chosen.credentials, AnonymousCredentials)
    # skip_instance_cache: a filesystem per connection, never one cached with other credentials.
    return gcsfs.GCSFileSystem(
        token="anon" if anonymous else chosen.credentials,
        project=chosen.project,
        skip_instance_cache=True,
    )


class Plugin(BasePlugin):
    """Registers ``lake_filesystem()`` on every DuckDB connection dbt opens for the target."""

    def configure_connection(self, conn: Any) -> None:
        conn.register_filesystem(lake_filesystem())
