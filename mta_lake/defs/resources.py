"""Dagster resources: the MTA site and the lake, chosen by the settings (docs/SETTINGS.md).

``MTA_SITE_URL`` picks the site; ``MTA_LAKE_URL`` picks a ``LocalLakeResource`` (a folder) or a
``GCSLakeResource`` (``gs://bucket[/prefix]``). Both are thin skins over
``mta_lake.core.lake.open_lake``, where the lake is opened and the GCS credentials are chosen
(besides the ``MTA_*`` settings it reads Google's own ``GOOGLE_CLOUD_PROJECT``,
``GOOGLE_APPLICATION_CREDENTIALS`` and ``STORAGE_EMULATOR_HOST``).

The key (``MTA_GCS_SERVICE_ACCOUNT_JSON``) is passed to Dagster as an ``EnvVar``, so the UI and the
run config show the variable's name and never its value.
"""

import os
from collections.abc import Mapping
from typing import Any

from dagster import ConfigurableResource, EnvVar
from dagster_gcp import GCSResource
from pydantic import Field

from mta_lake.core.lake import KEY_VARIABLE, Lake, open_lake, parse_lake_url
from mta_lake.core.settings import (
    DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
    DEFAULT_MAX_INDEX_BYTES,
    DEFAULT_MAX_WEEK_BYTES,
    DEFAULT_SITE_URL,
    Settings,
)
from mta_lake.core.source import DEFAULT_USER_AGENT, MtaSite, RetryPolicy


class MtaSource(ConfigurableResource):
    """The MTA developer site: where turnstile files and their index page are downloaded from."""

    site_url: str = Field(default=DEFAULT_SITE_URL, description="Site root (MTA_SITE_URL).")
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = Field(default=60.0, description="Longest silence while reading a body.")
    max_retries: int = Field(
        default=4, description="Retries of a transient failure (5xx, 429, reset, short body)."
    )
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    user_agent: str = DEFAULT_USER_AGENT
    max_index_bytes: int = Field(default=DEFAULT_MAX_INDEX_BYTES, description="MTA_MAX_INDEX_BYTES.")
    max_week_bytes: int = Field(default=DEFAULT_MAX_WEEK_BYTES, description="MTA_MAX_WEEK_BYTES.")
    download_deadline_seconds: float = Field(
        default=DEFAULT_DOWNLOAD_DEADLINE_SECONDS, description="MTA_DOWNLOAD_DEADLINE_SECONDS."
    )

    def site(self) -> MtaSite:
        return MtaSite(
            self.site_url,
            connect_timeout=self.connect_timeout_seconds,
            read_timeout=self.read_timeout_seconds,
            user_agent=self.user_agent,
            retry=RetryPolicy(
                max_retries=self.max_retries,
                backoff_base=self.backoff_base_seconds,
                backoff_max=self.backoff_max_seconds,
            ),
            max_index_bytes=self.max_index_bytes,
            max_file_bytes=self.max_week_bytes,
            deadline_seconds=self.download_deadline_seconds,
        )


class LakeResource(ConfigurableResource):
    """What the assets ask for: something that opens the lake. Chosen by ``MTA_LAKE_URL``."""

    def lake(self) -> Lake:
        raise NotImplementedError


class LocalLakeResource(LakeResource):
    """A lake in a local folder (development, tests, a single VM with a mounted disk)."""

    path: str = Field(description="Folder holding the lake (MTA_LAKE_URL).")

    def lake(self) -> Lake:
        return open_lake(Settings(lake_url=self.path))


class GCSLakeResource(GCSResource, LakeResource):
    """A lake in a GCS bucket: dagster-gcp's ``GCSResource`` plus a bucket, a prefix and a key.

    The lake is opened by ``mta_lake.core.lake.open_lake``, which chooses the credentials (in order:
    the key, a key file in ``GOOGLE_APPLICATION_CREDENTIALS``, anonymous against an emulator,
    Application Default Credentials).
    """

    bucket: str = Field(description="Bucket name (from MTA_LAKE_URL).")
    prefix: str = Field(default="", description="Folder inside the bucket (from MTA_LAKE_URL).")
    service_account_json: str | None = Field(
        default=None, description=f"Service-account key JSON; set it with EnvVar({KEY_VARIABLE!r})."
    )

    def _key(self) -> str | None:
        # Inside a run Dagster has replaced the EnvVar by its value. Outside one (a sensor's or the
        # partitions' own lake, the CLI) the field still holds the EnvVar, whose text is the
        # variable's name: read the variable itself, now.
        if isinstance(self.service_account_json, EnvVar):
            return self.service_account_json.get_value()
        return self.service_account_json

    def get_client(self) -> Any:
        return self.lake().client  # type: ignore[attr-defined]

    def get_object_to_set_on_execution_context(self) -> Any:
        # GCSResource hands Dagster a client here, built while the step context is assembled:
        # a bad key would then fail the run outside any step. The asset calls lake() itself,
        # so credential errors surface in the step, as a LakeError naming the setting.
        return self

    def lake(self) -> Lake:
        url = f"gs://{self.bucket}/{self.prefix}".rstrip("/")
        return open_lake(Settings(lake_url=url), service_account_json=self._key(), project=self.project)


def lake_resource_from_env(environ: Mapping[str, str] | None = None) -> LocalLakeResource | GCSLakeResource:
    """The lake resource that ``MTA_LAKE_URL`` (and the credential variables) describe."""
    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    scheme, location, prefix = parse_lake_url(settings.lake_url)
    if scheme == "file":
        # Settings resolved a relative MTA_LAKE_URL against the working directory already.
        return LocalLakeResource(path=location)
    return GCSLakeResource(
        project=env.get("GOOGLE_CLOUD_PROJECT") or None,
        bucket=location,
        prefix=prefix,
        service_account_json=EnvVar(KEY_VARIABLE) if settings.gcs_service_account_json_set else None,
    )


def source_resource_from_env(environ: Mapping[str, str] | None = None) -> MtaSource:
    settings = Settings.from_env(environ)
    return MtaSource(
        site_url=settings.site_url,
        max_index_bytes=settings.max_index_bytes,
        max_week_bytes=settings.max_week_bytes,
        download_deadline_seconds=settings.download_deadline_seconds,
    )
