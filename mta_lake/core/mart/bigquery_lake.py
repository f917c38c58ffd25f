"""The clean layer in BigQuery, for the mart's ``bigquery`` target: how the week's Parquet reaches it.

Two ways, chosen by ``MTA_BIGQUERY_CLEAN_LAYER`` (the dbt var ``bigquery_clean_layer``):

- ``external_table`` (the default, production): dbt's on-run-start (``macros/lake.sql``) creates an
  external table over ``<lake>/clean/turnstile_readings/*`` (the weeks' ``readings.parquet``) in GCS.
  Nothing is copied: the lake stays the one copy of the readings, a week re-cleaned in the lake is what
  the next run reads, and a run reads only its weeks' objects (a filter on ``_FILE_NAME``; not a hive
  partition: the objects carry ``week`` themselves, and BigQuery refuses a partition key that is also a
  column of the files). No step runs before dbt.
- ``load_job``: before dbt runs, each week of the run is loaded from the same GCS object by a BigQuery
  load job (``load_weeks`` below) into a native table of the same name, replacing that week's rows. This
  is what the BigQuery emulator the tests use (``bqemulator``) supports: it has no external tables, and
  its load jobs read ``gs://`` objects from a folder (fake-gcs-server's storage in the tests). Over the
  real service it works too (load jobs are free; the readings are then stored twice, and a week re-cleaned
  in the lake reaches BigQuery only when its week runs again).

Plain Python, no Dagster; google-cloud-bigquery is imported by the functions that use it.
"""

import os
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from mta_lake.core.layout import CLEAN_READINGS_PREFIX, clean_readings_key, clean_week_of_key

if TYPE_CHECKING:
    from mta_lake.core.settings import Settings

CLEAN_READINGS_TABLE = "clean_turnstile_readings"
"""The table (external or native) the bigquery__clean_readings macro reads, in the mart's dataset."""


def week_uri(lake_url: str, week: date | str) -> str:
    """The ``gs://`` URI of a clean week's readings in a lake in GCS."""
    if not lake_url.startswith("gs://"):
        raise ValueError(f"the bigquery target reads the lake from GCS (gs://...), not {lake_url!r}")
    key = clean_readings_key(week.isoformat() if isinstance(week, date) else str(week))
    return f"{lake_url.rstrip('/')}/{key}"


def readings_schema() -> list[object]:
    """The clean layer's columns (``READINGS_SCHEMA``) as BigQuery fields: a load job of Parquet into the
    emulator needs the schema given (BigQuery itself reads it from the file; the same schema is valid)."""
    import pyarrow as pa
    from google.cloud import bigquery

    from mta_lake.core.clean.schema import READINGS_SCHEMA

    def kind(field: pa.Field) -> str:
        if pa.types.is_string(field.type):
            return "STRING"
        if pa.types.is_timestamp(field.type):  # a wall time without zone is BigQuery's DATETIME
            return "TIMESTAMP" if field.type.tz else "DATETIME"
        if pa.types.is_integer(field.type):
            return "INTEGER"
        if pa.types.is_boolean(field.type):
            return "BOOLEAN"
        if pa.types.is_date(field.type):
            return "DATE"
        raise TypeError(f"no BigQuery type for the clean layer's column {field.name} ({field.type})")

    return [
        bigquery.SchemaField(field.name, kind(field), mode="NULLABLE" if field.nullable else "REQUIRED")
        for field in READINGS_SCHEMA
    ]


def load_weeks(
    client: object,
    lake_url: str,
    project: str,
    dataset: str,
    weeks: Iterable[date | str],
    location: str | None = None,
) -> None:
    """Load each week's clean Parquet from GCS into ``<project>.<dataset>.clean_turnstile_readings`` by a
        BigQuery load job, after deleting that week's rows (a week loaded again replaces itself; the object
        carries its ``week`` column). ``client``: a ``google.cloud.bigquery.Client``; ``location``: the dataset's,
    when this creates it. A load that fails after its week's delete leaves the week out of the table: the
    run fails with the error, and its retry loads the week again."""
    from google.cloud import bigquery

    assert isinstance(client, bigquery.Client)
    new_dataset = bigquery.Dataset(f"{project}.{dataset}")
    new_dataset.location = location
    client.create_dataset(new_dataset, exists_ok=True)
    table = bigquery.Table(f"{project}.{dataset}.{CLEAN_READINGS_TABLE}", schema=readings_schema())
    # Partitioned by week (one partition a week: about 52 a year, far under BigQuery's 4,000), so the
    # delete below and the mart's filter on the run's weeks read only those weeks.
    table.time_partitioning = bigquery.TimePartitioning(field="week")
    client.create_table(table, exists_ok=True)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        schema=readings_schema(),
    )
    for week in sorted({str(w) for w in weeks}):
        date.fromisoformat(week)  # a week key, nothing else, goes into the SQL below
        client.query(
            f"delete from `{project}`.`{dataset}`.`{CLEAN_READINGS_TABLE}` where week = date '{week}'"
        ).result()
        job = client.load_table_from_uri(week_uri(lake_url, week), table, job_config=config)
        job.result()


def bigquery_client(settings: "Settings") -> object:
    """A ``google.cloud.bigquery.Client`` for the mart's project: against the emulator when
    BIGQUERY_EMULATOR_HOST is set (the client sends every request there; no credentials), else with the
    profile's method (a service-account key file, or Application Default Credentials)."""
    from google.cloud import bigquery

    if os.environ.get("BIGQUERY_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(project=settings.bigquery_project, credentials=AnonymousCredentials())
    if settings.bigquery_method == "service-account" and settings.bigquery_keyfile:
        return bigquery.Client.from_service_account_json(
            settings.bigquery_keyfile, project=settings.bigquery_project, location=settings.bigquery_location
        )
    return bigquery.Client(project=settings.bigquery_project, location=settings.bigquery_location)


def prepare_clean_layer(settings: "Settings", weeks: Iterable[str] | None) -> int | None:
    """Before a dbt run of the bigquery target: with ``MTA_BIGQUERY_CLEAN_LAYER=load_job``, load the run's
    weeks (every week with clean readings in the lake when ``weeks`` is None: a full rebuild) and return
    how many; with ``external_table``, nothing to do (None): dbt's on-run-start creates the table."""
    if settings.bigquery_clean_layer != "load_job":
        return None
    if weeks is None:
        from mta_lake.core.lake import open_lake

        keys = open_lake(settings).list(CLEAN_READINGS_PREFIX)
        weeks = sorted({week for week in (clean_week_of_key(obj.key) for obj in keys) if week})
    weeks = list(weeks)
    load_weeks(
        bigquery_client(settings),
        settings.lake_url,
        settings.bigquery_project,
        settings.bigquery_dataset,
        weeks,
        location=settings.bigquery_location,
    )
    return len(weeks)
