"""The real CLI in a subprocess: `dagster asset materialize ... --partition <week>`.

Each run costs a process start (~5 s), so there are three: a local lake, a GCS lake
(fake-gcs-server), and a partition key that is not a week.
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

from mta_lake.core.lake import GCSLake, Lake, LocalLake
from mta_lake.core.layout import raw_key
from mta_lake_tests.support.fake_gcs import FakeGCS
from mta_lake_tests.support.mirror import MtaMirror

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).with_name("dagster"))
WEEK = "2017-05-27"
NAME = "turnstile_170603.txt"


def run_cli(partition: str, env_overrides: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
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
    command = [str(Path(sys.executable).with_name("mta-lake")), "materialize", week]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_mta_lake_materialize_lands_a_week_and_says_so_in_one_line(
    mirror: MtaMirror, sample_files: dict[str, bytes], tmp_path: Path
) -> None:
    lake_folder = tmp_path / "lake"
    result = run_mta_lake_materialize(
        WEEK, {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)}, tmp_path / "home"
    )
    assert_landed_and_recorded(result, tmp_path / "home", LocalLake(lake_folder), mirror, sample_files[NAME])
    assert result.stdout.splitlines()[0] == f"raw_turnstile {WEEK}: materialized"
    assert "Traceback" not in result.stderr and "DEBUG" not in result.stderr


def test_mta_lake_materialize_says_why_a_week_failed_once_without_step_retries(
    mirror: MtaMirror, tmp_path: Path
) -> None:
    # The week's file is not on the site any more: the asset fails with its reason. The asset's
    # RetryPolicy would retry the step after a minute; this command does not, and says it once.
    mirror.remove(NAME)
    lake_folder = tmp_path / "lake"
    result = run_mta_lake_materialize(
        WEEK, {"MTA_SITE_URL": mirror.url, "MTA_LAKE_URL": str(lake_folder)}, tmp_path / "home"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"raw_turnstile {WEEK}: failed: week {WEEK} ({NAME}") and "not published" in first
    output = result.stdout + result.stderr
    assert output.count(f"week {WEEK} ({NAME}") == 1 and "Traceback" not in output
    assert not lake_folder.exists() or not any(lake_folder.rglob("*.gz"))
