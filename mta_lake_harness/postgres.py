"""A throw-away database on the PostgreSQL server at 127.0.0.1:5432 (trust auth, user postgres).

    with fresh_database() as db:      # skips (or fails under CI=true) if the server is down
        env = db.dagster_env()        # DAGSTER_POSTGRES_* for deploy/dagster.yaml
        with db.connect() as conn: ...

The database gets a unique name and is dropped afterwards, even if Dagster processes still
hold connections (they are terminated first).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import pytest

HOST = os.environ.get("MTA_TEST_POSTGRES_HOST", "127.0.0.1")
PORT = int(os.environ.get("MTA_TEST_POSTGRES_PORT", "5432"))
USER = os.environ.get("MTA_TEST_POSTGRES_USER", "postgres")
PASSWORD = os.environ.get("MTA_TEST_POSTGRES_PASSWORD", "")


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    """Skip the test, except under CI=true, where a missing service is a failure."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the Postgres tests must run)")
    pytest.skip(reason)


def _connect(dbname: str):
    return psycopg2.connect(
        host=HOST, port=PORT, user=USER, password=PASSWORD or None, dbname=dbname, connect_timeout=3
    )


@dataclass(frozen=True)
class Database:
    name: str

    def connect(self):
        return _connect(self.name)

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads for its Postgres storage."""
        return {
            "DAGSTER_POSTGRES_HOST": HOST,
            "DAGSTER_POSTGRES_PORT": str(PORT),
            "DAGSTER_POSTGRES_USER": USER,
            "DAGSTER_POSTGRES_PASSWORD": PASSWORD,
            "DAGSTER_POSTGRES_DB": self.name,
        }

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()


def _admin():
    try:
        connection = _connect("postgres")
    except psycopg2.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        skip_or_fail(f"PostgreSQL is not reachable at {HOST}:{PORT} as {USER}: {first_line}")
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    return connection


@contextmanager
def fresh_database(prefix: str = "mta_lake_test") -> Iterator[Database]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            yield Database(name)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()
