"""The real CLIs in a subprocess: `dagster asset materialize ... --partition <week>` and `mta-lake materialize`.

Each run costs a process start (~5 s), so there are few: a local lake, a GCS lake (fake-gcs-server),
a key that is not a week, a week the MTA never published (refused by both, nothing recorded), a week
through every layer, and a failure said once.
"""

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import google_crc32c
import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.lake import Lake, LocalLake
from mta_lake.core.layout import WEEKLY_ASSETS, clean_readings_key, raw_key
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.mirror import MtaMirror, Status
from mta_lake_harness.paths import REPO_ROOT

DAGSTER = str(Path(sys.executable).with_name("dagster"))
WEEK = "2017-05-27"
NAME = "turnstile_170603.txt"


def prepared_home(home: Path, partitions: list[str]) -> None:
    """A local instance, as `make dev` has one, whose partitions are ``partitions`` (the index sensor's
    job in a running deployment: `dagster asset materialize` alone never reads the index)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, partitions)


def recorded_runs(home: Path) -> int:
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        return len(instance.get_run_records())


def run_cli(partition: str, env_overrides: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    prepared_home(home, [WEEK])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTA_", "DAGSTER_"))}
    env.pop("STORAGE_EMULATOR_HOST", None)
    env.update(env_overrides, DAGSTER_HOME=str(home))
    command = [DAGSTER, "asset", "materialize", "-m", "mta_lake.definitions"]
    command += ["--select", "raw_turnstile", "--partition", partition]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def assert_landed_and_recorded(
    result: subprocess.CompletedProcess[str], home: Path, lake: Lake, mirror: MtaMirror, data: bytes
) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with lake.open_read(raw_key(NAME)) as stream:
        assert gzip.decompress(stream.read()) == data
    crc = f"{google_crc32c.value(data):08x}"
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        records = instance.fetch_materializations(AssetKey("raw_turnstile"), limit=10).records
        assert len(records) == 1
        materialization = records[0].event_log_entry.asset_materialization
        assert materialization is not None and materialization.partition == WEEK
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        assert metadata["dagster/uri"] == lake.uri(raw_key(NAME))
        assert metadata["source_url"] == f"{mirror.url}/data/nyct/turnstile/{NAME}"
        assert metadata["source_bytes"] == len(data)
        assert metadata["data_rows"] == len(data.splitlines()) - 1
        assert metadata["source_crc32c"] == crc
        assert metadata["status"] == "landed"
        assert materialization.tags is not None and materialization.tags["dagster/data_version"] == crc
    assert mirror.gets(NAME) == 1


def test_cli_lands_a_week_in_a_local_folder(
    mirror: MtaMirror, sample_files: dict[str, bytes], tmp_path: Path
) -> None:
    lake_folder = tmp_path / "lake"
    result = run_cli(WEEK, {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)}, tmp_path / "home")
    assert_landed_and_recorded(result, tmp_path / "home", LocalLake(lake_folder), mirror, sample_files[NAME])


def test_cli_lands_a_week_in_a_gcs_bucket(
    mirror: MtaMirror, sample_files: dict[str, bytes], fake_gcs: FakeGCS, tmp_path: Path
) -> None:
    bucket = fake_gcs.create_bucket()
    result = run_cli(
        WEEK,
        {
            "MTA_SITE_URL": mirror.url,
            "MTA_LAKE_URL": f"gs://{bucket}/lake",
            "STORAGE_EMULATOR_HOST": fake_gcs.url,
        },
        tmp_path / "home",
    )
    lake = GCSLake(fake_gcs.client(), bucket, "lake")
    assert_landed_and_recorded(result, tmp_path / "home", lake, mirror, sample_files[NAME])
    assert [o.key for o in lake.list("raw/")] == [raw_key(NAME)]


@pytest.mark.parametrize("bad_key", ["2017-05-28"])
def test_cli_bad_partition_key_fails_clearly(bad_key: str, mirror: MtaMirror, tmp_path: Path) -> None:
    lake_folder = tmp_path / "lake"
    result = run_cli(
        bad_key, {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)}, tmp_path / "home"
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert bad_key in output and "partition" in output.lower()
    assert mirror.gets(NAME) == 0
    assert not lake_folder.exists() or not any(lake_folder.rglob("*.gz"))


def run_mta_lake_materialize(
    week: str, env_overrides: dict[str, str], home: Path
) -> subprocess.CompletedProcess[str]:
    """``mta-lake materialize WEEK`` (what ``make materialize`` runs) in a subprocess."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTA_", "DAGSTER_"))}
    env.pop("STORAGE_EMULATOR_HOST", None)
    env.update(env_overrides, DAGSTER_HOME=str(home))
    command = [str(Path(sys.executable).with_name("mta-lake")), "materialize", *week.split()]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_dagster_asset_materialize_refuses_a_week_that_was_never_published(
    mirror: MtaMirror, tmp_path: Path
) -> None:
    """Not a partition (the partitions are the published weeks): Dagster refuses it before any run."""
    lake_folder = tmp_path / "lake"
    result = run_cli(
        "2020-01-04", {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)}, tmp_path / "home"
    )
    assert result.returncode != 0
    assert "2020-01-04" in result.stdout + result.stderr
    assert recorded_runs(tmp_path / "home") == 0
    assert not lake_folder.exists() or not any(lake_folder.rglob("*.gz"))


def test_mta_lake_materialize_builds_the_week_through_every_layer_one_line_each(
    mirror: MtaMirror, sample_files: dict[str, bytes], tmp_path: Path
) -> None:
    """The default: raw, clean and the mart's four models, each said in one line about the week asked for.
    A fresh instance has no partitions: the command reads the index and adds the published weeks."""
    lake_folder = tmp_path / "lake"
    env = {
        "MTA_SITE_URL": mirror.url,
        "MTA_LAKE_URL": str(lake_folder),
        "MTA_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "mta.duckdb"),
    }
    result = run_mta_lake_materialize(WEEK, env, tmp_path / "home")
    assert_landed_and_recorded(result, tmp_path / "home", LocalLake(lake_folder), mirror, sample_files[NAME])
    lines = result.stdout.splitlines()
    assert lines[: len(WEEKLY_ASSETS)] == [f"{name} {WEEK}: materialized" for name in WEEKLY_ASSETS]
    assert lines[-1].startswith("run ") and len(lines) == len(WEEKLY_ASSETS) + 1
    assert LocalLake(lake_folder).stat(clean_readings_key(WEEK)) is not None
    # Neither Dagster's nor dbt's own output reaches the terminal (both are in the run's event log).
    assert "Running with dbt" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "DEBUG" not in result.stderr and "INFO" not in result.stderr
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "home"))) as instance:
        assert WEEK in instance.get_dynamic_partitions(PARTITIONS_NAME)
        assert "2015-09-12" in instance.get_dynamic_partitions(PARTITIONS_NAME)  # every published week


def test_mta_lake_materialize_refuses_a_week_that_was_never_published(
    mirror: MtaMirror, tmp_path: Path
) -> None:
    lake_folder = tmp_path / "lake"
    result = run_mta_lake_materialize(
        "2020-01-04", {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)}, tmp_path / "home"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().startswith("mta-lake materialize: error: week 2020-01-04: not published:")
    assert "turnstile_200111.txt" in result.stderr and "Traceback" not in result.stderr
    assert not result.stdout.strip()
    assert recorded_runs(tmp_path / "home") == 0
    assert not lake_folder.exists() or not any(lake_folder.rglob("*.gz"))


def test_mta_lake_materialize_says_why_a_week_failed_once_without_step_retries(
    mirror: MtaMirror, tmp_path: Path
) -> None:
    # The index lists the week's file but the site answers 404: the asset fails with its reason,
    # said once, whatever the step's retries.
    mirror.inject(NAME, Status(404), Status(404), Status(404))
    lake_folder = tmp_path / "lake"
    result = run_mta_lake_materialize(
        f"{WEEK} --select raw",
        {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)},
        tmp_path / "home",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"raw_turnstile {WEEK}: failed: week {WEEK} ({NAME}") and "404" in first
    output = result.stdout + result.stderr
    assert output.count(f"week {WEEK} ({NAME}") == 1 and "Traceback" not in output
    assert not lake_folder.exists() or not any(lake_folder.rglob("*.gz"))


@pytest.mark.parametrize("select", ["bogus", "raw,nothing", ""])
def test_mta_lake_materialize_bad_selection_exits_2_in_one_line(select: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mta-lake")), "materialize", WEEK, "--select", select],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--select" in result.stderr
