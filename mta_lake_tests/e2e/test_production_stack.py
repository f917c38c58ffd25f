"""The production topology on loopback: the deployed dagster.yaml against real Postgres.

The same trio docker-compose.yaml starts, as separate processes: ``dagster code-server start``
(the image's default command), ``dagster-daemon run`` and ``dagster-webserver``, both with the
gRPC workspace (deploy/workspace.yaml, pointed at 127.0.0.1). DAGSTER_HOME holds
deploy/dagster.yaml as written, minus its DockerRunLauncher block (no Docker engine here:
Dagster's default launcher starts each run as a process of the code server instead).

An asset backfill launched through GraphQL lands its weeks from the MTA mirror in
fake-gcs-server; the daemon is SIGKILLed mid-backfill and started again; the backfill completes,
every week is downloaded and materialised exactly once, and every object is intact.
"""

import gzip
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from mta_lake.core import weeks
from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.layout import WEEKLY_ASSETS, clean_readings_key, raw_key
from mta_lake.tools.graphql import DagsterGraphQL
from mta_lake_harness.dagster_processes import (
    VENV_BIN,
    ProcessGroup,
    dagster_env,
    wait_for_graphql,
    wait_for_port,
)
from mta_lake_harness.fake_gcs import FakeGCS, free_port
from mta_lake_harness.graphql import wait_for_partitions
from mta_lake_harness.mirror import FILES_PREFIX, MtaMirror, Stall
from mta_lake_harness.paths import RAW_SAMPLES, REPO_ROOT
from mta_lake_harness.postgres import Database, fresh_database

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


MODULE = "mta_lake.definitions"
# Six consecutive weeks of the new-format era, each served with a real (small) new-format file.
FIRST_WEEK = date(2016, 1, 2)
WEEK_COUNT = 6
SAMPLE = "turnstile_150919.txt"


ORPHANED_START_TIMEOUT = 20
"""Seconds before run monitoring fails a run still STARTING (deployed: 180, for an image pull). A
SIGKILL of the daemon between dequeuing a run and launching it leaves that run STARTING with no worker;
monitoring fails it after this and run_retries launches it again (seen in CI once)."""


def production_instance_yaml() -> str:
    """deploy/dagster.yaml without its run launcher, and with a shorter ``start_timeout_seconds``
    (ORPHANED_START_TIMEOUT): everything else exactly as deployed."""
    config = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    assert config["run_launcher"]["class"] == "DockerRunLauncher"
    del config["run_launcher"]
    config["run_monitoring"]["start_timeout_seconds"] = ORPHANED_START_TIMEOUT
    return yaml.safe_dump(config, sort_keys=False)


def loopback_workspace_yaml(port: int) -> str:
    """deploy/workspace.yaml with the code server's address replaced by 127.0.0.1:port."""
    config = yaml.safe_load((REPO_ROOT / "deploy" / "workspace.yaml").read_text())
    (entry,) = config["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=port)
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture
def database() -> Iterator[Database]:
    with fresh_database() as db:
        yield db


@pytest.fixture
def week_files() -> dict[str, bytes]:
    """Partition key -> file bytes, for WEEK_COUNT weeks, as the mirror serves them."""
    data = (RAW_SAMPLES / SAMPLE).read_bytes()
    files = {}
    for i in range(WEEK_COUNT):
        week = FIRST_WEEK + timedelta(days=7 * i)
        # Each week a different file (one more data line dropped each week), so a week that
        # landed under another week's name would be caught by the byte comparison.
        lines = data.splitlines(keepends=True)
        files[week.isoformat()] = b"".join(lines[: len(lines) - i])
    return files


@pytest.fixture
def production_mirror(week_files: dict[str, bytes]) -> Iterator[MtaMirror]:
    with MtaMirror() as server:
        for key, data in week_files.items():
            server.add(weeks.file_name(weeks.week_end(date.fromisoformat(key))), data)
        yield server


def test_backfill_survives_a_daemon_kill(
    tmp_path: Path,
    database: Database,
    fake_gcs: FakeGCS,
    production_mirror: MtaMirror,
    week_files: dict[str, bytes],
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(production_instance_yaml())
    grpc_port, ui_port = free_port(), free_port()
    workspace = home / "workspace.yaml"
    workspace.write_text(loopback_workspace_yaml(grpc_port))
    bucket = fake_gcs.create_bucket()

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"GOOGLE_APPLICATION_CREDENTIALS", "MTA_GCS_SERVICE_ACCOUNT_JSON", "DAGSTER_HOME"}
    }
    env.update(database.dagster_env())
    env.update(
        MTA_SITE_URL=production_mirror.url,
        MTA_LAKE_URL=f"gs://{bucket}/mta",
        STORAGE_EMULATOR_HOST=fake_gcs.url,
        GOOGLE_CLOUD_PROJECT="mta-lake-test",
        MTA_WEEKS_PER_RUN="1",
        # The reconcile sensor would request the same weeks on its own (it sees them listed
        # and missing); this test is about one backfill surviving a daemon kill.
        MTA_RECONCILE_SENSOR="stopped",
    )
    env = dagster_env(env, home)
    # A little slower per week, so runs are still in flight when the daemon dies.
    for name in production_mirror.listed_names():
        production_mirror.inject(name, Stall(seconds=2.0, after=1000))

    bin_ = str(VENV_BIN)
    code_args = [
        f"{bin_}/dagster",
        "code-server",
        "start",
        "-m",
        MODULE,
        "-h",
        "127.0.0.1",
        "-p",
        str(grpc_port),
    ]
    daemon_args = [f"{bin_}/dagster-daemon", "run", "-w", str(workspace)]
    webserver_args = [
        f"{bin_}/dagster-webserver", "-h", "127.0.0.1", "-p", str(ui_port), "-w", str(workspace),
    ]  # fmt: skip
    logs = tmp_path / "logs"
    started: list[ProcessGroup] = []
    try:
        # Like the containers: started from a folder with no workspace.yaml or dagster.yaml.
        code = ProcessGroup.start(code_args, env, logs / "code-server.log", cwd=tmp_path)
        started.append(code)
        wait_for_port("127.0.0.1", grpc_port, timeout=90, process=code)
        webserver = ProcessGroup.start(webserver_args, env, logs / "webserver.log", cwd=tmp_path)
        started.append(webserver)
        daemon = ProcessGroup.start(daemon_args, env, logs / "daemon-1.log", cwd=tmp_path)
        started.append(daemon)
        url = f"http://127.0.0.1:{ui_port}"
        wait_for_graphql(url, timeout=120, process=webserver)

        # The instance really is Postgres: Dagster created its tables in our database.
        tables = {
            row[0] for row in database.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"runs", "event_logs", "bulk_actions", "concurrency_limits"} <= tables

        client = DagsterGraphQL(url)
        # The index sensor, running in the daemon, makes the published weeks partitions on its first tick.
        wait_for_partitions(client, sorted(week_files))
        # The raw and clean layers: this test is about the daemon, Postgres and GCS; the mart over a
        # GCS lake has its own test (test_the_same_mart_from_a_lake_in_gcs).
        backfill_id = client.launch_asset_backfill(sorted(week_files), asset_keys=WEEKLY_ASSETS[:2])

        # Mid-backfill: once the first week is recorded, and before the last one is.
        landed_at_kill = wait_for_materializations(database, at_least=1, timeout=120, daemon=daemon)
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.process.wait(10)
        assert landed_at_kill < WEEK_COUNT, "the backfill finished before the daemon was killed"

        daemon = ProcessGroup.start(daemon_args, env, logs / "daemon-2.log", cwd=tmp_path)
        started.append(daemon)
        final = client.wait_for_backfill(backfill_id, timeout=180 + ORPHANED_START_TIMEOUT, poll_interval=1.0)

        assert final.status == "COMPLETED_SUCCESS", final.summary()
        assert final.succeeded and not final.failed_weeks, final.summary()

        # Runs recorded in Postgres: one successful run per week (MTA_WEEKS_PER_RUN=1), all
        # tagged with this backfill, none left queued or started. A run the kill orphaned before it
        # started is failed by run monitoring and retried: it downloaded nothing (checked below).
        runs = recorded_runs(database, backfill_id)
        succeeded = [run for run in runs.values() if run["status"] == "SUCCESS"]
        assert sorted(week for run in succeeded for week in run["weeks"]) == sorted(week_files), runs
        assert {run["status"] for run in runs.values()} <= {"SUCCESS", "FAILURE"}, runs

        # Nothing landed twice: one materialisation per week in the event log ...
        materialized = database.query(
            "SELECT partition, count(*) FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s GROUP BY partition",
            (json.dumps(["raw_turnstile"]),),
        )
        assert dict(materialized) == dict.fromkeys(week_files, 1)
        # ... and one download per file from the MTA.
        for name in production_mirror.listed_names():
            assert production_mirror.requests[FILES_PREFIX + name] == 1, name

        # Nothing lost: every week in the bucket, whole, and nothing else.
        lake = GCSLake(fake_gcs.client(), bucket, "mta")
        expected_keys = {
            raw_key(weeks.file_name(weeks.week_end(date.fromisoformat(key)))): key for key in week_files
        }
        stored_objects = {obj.key: obj for obj in lake.list("raw/")}
        assert sorted(stored_objects) == sorted(expected_keys)
        # ... and each week's clean week beside it, in the same bucket.
        assert sorted(obj.key for obj in lake.list("clean/turnstile_readings/")) == sorted(
            clean_readings_key(key) for key in week_files
        )
        for object_key, week in expected_keys.items():
            with lake.open_read(object_key) as stored:
                assert gzip.decompress(stored.read()) == week_files[week], week
            assert stored_objects[object_key].metadata["source_bytes"] == str(len(week_files[week]))
    finally:
        for group in reversed(started):
            group.stop()


def wait_for_materializations(database: Database, at_least: int, timeout: float, daemon: ProcessGroup) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.check_alive("dagster-daemon")
        (count,) = database.query(
            "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        )[0]
        if count >= at_least:
            return count
        time.sleep(0.2)
    raise AssertionError(f"no week materialised within {timeout:.0f} s (see the logs in the test's tmp_path)")


def recorded_runs(database: Database, backfill_id: str) -> dict[str, dict]:
    """The backfill's runs as Postgres has them: run id -> status and the weeks it covered."""
    rows = database.query(
        "SELECT r.run_id, r.status, t.key, t.value FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
        "WHERE r.run_id IN (SELECT run_id FROM run_tags WHERE key = 'dagster/backfill' AND value = %s)",
        (backfill_id,),
    )
    runs: dict[str, dict] = {}
    for run_id, status, key, value in rows:
        runs.setdefault(run_id, {"status": status, "tags": {}})["tags"][key] = value
    for run in runs.values():
        tags = run.pop("tags")
        if "dagster/partition" in tags:
            run["weeks"] = [tags["dagster/partition"]]
        else:
            start = date.fromisoformat(tags["dagster/asset_partition_range_start"])
            end = date.fromisoformat(tags["dagster/asset_partition_range_end"])
            run["weeks"] = [
                (start + timedelta(days=d)).isoformat() for d in range(0, (end - start).days + 1, 7)
            ]
    return runs
