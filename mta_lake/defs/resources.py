"""Dagster resources: the MTA site and the lake, chosen by the settings (docs/SETTINGS.md).

``MTA_SITE_URL`` picks the site; ``MTA_LAKE_URL`` picks a ``LocalLakeResource`` (a folder) or a
``GCSLakeResource`` (``gs://bucket[/prefix]``). Besides the ``MTA_*`` settings the GCS client reads
Google's own variables: ``GOOGLE_CLOUD_PROJECT``, ``GOOGLE_APPLICATION_CREDENTIALS`` and
``STORAGE_EMULATOR_HOST`` (an emulator such as fake-gcs-server, with anonymous access).

The key (``MTA_GCS_SERVICE_ACCOUNT_JSON``) is passed to Dagster as an ``EnvVar``, so the UI and the
run config show the variable's name and never its value.
"""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar
from dagster_gcp import GCSResource
from pydantic import Field

from mta_lake.core.lake import GCSLake, Lake, LakeError, LocalLake, parse_lake_url
from mta_lake.core.settings import DEFAULT_SITE_URL, Settings
from mta_lake.core.source import DEFAULT_USER_AGENT, MtaSite, RetryPolicy

KEY_VARIABLE = "MTA_GCS_SERVICE_ACCOUNT_JSON"


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
        )


class LakeResource(ConfigurableResource):
    """What the assets ask for: something that opens the lake. Chosen by ``MTA_LAKE_URL``."""

    def lake(self) -> Lake:
        raise NotImplementedError


class LocalLakeResource(LakeResource):
    """A lake in a local folder (development, tests, a single VM with a mounted disk)."""

    path: str = Field(description="Folder holding the lake (MTA_LAKE_URL).")

    def lake(self) -> Lake:
        return LocalLake(self.path)


class GCSLakeResource(GCSResource, LakeResource):
    """A lake in a GCS bucket: dagster-gcp's ``GCSResource`` plus a bucket, a prefix and a key.

    Credentials, in order: an explicit service-account key (``MTA_GCS_SERVICE_ACCOUNT_JSON``);
    anonymous access when ``STORAGE_EMULATOR_HOST`` points at an emulator; otherwise Application
    Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud, or the VM's account).
    """

    bucket: str = Field(description="Bucket name (from MTA_LAKE_URL).")
    prefix: str = Field(default="", description="Folder inside the bucket (from MTA_LAKE_URL).")
    service_account_json: str | None = Field(
        default=None, description=f"Service-account key JSON; set it with EnvVar({KEY_VARIABLE!r})."
    )

    def get_client(self) -> Any:
        from google.cloud import storage

        if self.service_account_json:
            from google.oauth2 import service_account

            try:
                info = json.loads(self.service_account_json)
                if not isinstance(info, dict):
                    raise ValueError("not a JSON object")
                credentials = service_account.Credentials.from_service_account_info(info)
            except (ValueError, KeyError, TypeError, AttributeError):
                # Never echo the value or the parser's message: either could quote the key.
                raise LakeError(
                    f"{KEY_VARIABLE} is not a valid service-account key (expected the JSON of a "
                    "key file with client_email, private_key and token_uri)"
                ) from None
            return storage.Client(project=self.project or info.get("project_id"), credentials=credentials)
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            return storage.Client(
                project=self.project or "mta-lake-emulator", credentials=AnonymousCredentials()
            )
        import google.auth.exceptions

        try:
            return super().get_client()
        except google.auth.exceptions.DefaultCredentialsError:
            raise LakeError(
                "no GCS credentials: set GOOGLE_APPLICATION_CREDENTIALS to a key file, "
                f"{KEY_VARIABLE} to a key, or run where Application Default Credentials exist"
            ) from None
        except (ValueError, OSError) as error:
            raise LakeError(
                f"GOOGLE_APPLICATION_CREDENTIALS does not point at a usable key file ({type(error).__name__})"
            ) from None

    def get_object_to_set_on_execution_context(self) -> Any:
        # GCSResource hands Dagster a client here, built while the step context is assembled:
        # a bad key would then fail the run outside any step. The asset calls lake() itself,
        # so credential errors surface in the step, as a LakeError naming the setting.
        return self

    def lake(self) -> Lake:
        return GCSLake(self.get_client(), self.bucket, self.prefix)


def lake_resource_from_env(environ: Mapping[str, str] | None = None) -> LocalLakeResource | GCSLakeResource:
    """The lake resource that ``MTA_LAKE_URL`` (and the credential variables) describe."""
    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    scheme, location, prefix = parse_lake_url(settings.lake_url)
    if scheme == "file":
        # The default sits in the project; a relative MTA_LAKE_URL is relative to where
        # dagster was started, like any other path given on a command line.
        return LocalLakeResource(path=str(Path(location).resolve()))
    return GCSLakeResource(
        project=env.get("GOOGLE_CLOUD_PROJECT") or None,
        bucket=location,
        prefix=prefix,
        service_account_json=EnvVar(KEY_VARIABLE) if settings.gcs_service_account_json_set else None,
    )


def source_resource_from_env(environ: Mapping[str, str] | None = None) -> MtaSource:
    return MtaSource(site_url=Settings.from_env(environ).site_url)
