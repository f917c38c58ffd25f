"""`mta_lake.definitions.defs`, the resources chosen by the environment, and lake setting errors."""

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dagster import AssetKey, DagsterInstance, Definitions, materialize
from dagster._core.definitions.backfill_policy import BackfillPolicyType
from dagster_gcp import GCSResource

from mta_lake.core import weeks
from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.lake import LakeError, parse_lake_url
from mta_lake.core.settings import DEFAULT_LAKE_PATH
from mta_lake.defs.partitions import turnstile_weeks
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import (
    KEY_VARIABLE,
    GCSLakeResource,
    LocalLakeResource,
    MtaSource,
    lake_resource_from_env,
    source_resource_from_env,
)
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.instances import instance_with_every_week
from mta_lake_harness.paths import REPO_ROOT

SECRET_MARKER = "SECRETMARKER-do-not-log-7f3a9c"
FAKE_KEY = {
    "type": "service_account",
    "project_id": "mta-test",
    "private_key_id": "0123456789abcdef",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARKER}\n-----END PRIVATE KEY-----\n",
    "client_email": "lake@mta-test.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


# -- defs -----------------------------------------------------------------------------------


def test_defs_load_and_validate() -> None:
    from mta_lake.definitions import defs

    assert isinstance(defs, Definitions)
    Definitions.validate_loadable(defs)
    asset = defs.resolve_assets_def("raw_turnstile")
    assert asset.key == AssetKey("raw_turnstile")
    assert asset.group_names_by_key[AssetKey("raw_turnstile")] == "raw"
    assert asset.partitions_def == turnstile_weeks
    assert asset.backfill_policy is not None
    assert asset.backfill_policy.policy_type == BackfillPolicyType.MULTI_RUN
    assert asset.backfill_policy.max_partitions_per_run == 26
    assert {"mta_source", "lake"} <= set(defs.resources or {})


def test_turnstile_weeks_are_the_instances_keys(instance: DagsterInstance) -> None:
    """Dynamic partitions: the keys are what the instance holds (the index sensor keeps them)."""
    assert turnstile_weeks.name == "turnstile_weeks"
    keys = turnstile_weeks.get_partition_keys(dynamic_partitions_store=instance)
    assert keys[0] == "2010-05-01" and keys[-1] == weeks.latest_ended_week().isoformat()
    assert all(datetime.fromisoformat(k).weekday() == 5 for k in keys)


def test_the_lake_is_named_a_folder_or_gcs_on_the_assets_page(tmp_path: Path) -> None:
    """raw_turnstile's kind and metadata say where the lake is: a folder as a folder, GCS as GCS."""
    code = (
        "from mta_lake.definitions import defs\n"
        "spec = defs.resolve_assets_def('raw_turnstile').specs_by_key\n"
        "(spec,) = spec.values()\n"
        "print(sorted(spec.kinds), spec.metadata['lake'])\n"
    )
    for url, kind, words in (
        (str(tmp_path / "lake"), "folder", "local folder"),
        ("gs://bucket/mta", "gcs", "GCS bucket bucket"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={"PATH": "/usr/bin:/bin", "MTA_LAKE_URL": url, "HOME": str(tmp_path), "DAGSTER_HOME": ""},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"['{kind}']" in result.stdout and words in result.stdout


def test_definitions_validate_cli(tmp_path: Path) -> None:
    dagster = str(Path(sys.executable).with_name("dagster"))
    result = subprocess.run(
        [dagster, "definitions", "validate", "-m", "mta_lake.definitions"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def core_modules() -> list[str]:
    """Every module under mta_lake/core/, found on disk (a new module is covered without a change here)."""
    root = REPO_ROOT / "mta_lake" / "core"
    return sorted(
        ".".join(("mta_lake", "core", *path.relative_to(root).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for path in root.rglob("*.py")
    )


def test_core_modules_do_not_import_dagster() -> None:
    modules = core_modules()
    assert {"mta_lake.core.landing", "mta_lake.core.settings", "mta_lake.core.reconcile"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'dagster_gcp', 'dagster_dbt'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


# -- resources chosen by the environment ----------------------------------------------------


def test_folder_and_file_urls_give_a_local_lake(tmp_path: Path) -> None:
    by_path = lake_resource_from_env({"MTA_LAKE_URL": str(tmp_path / "lake")})
    by_url = lake_resource_from_env({"MTA_LAKE_URL": (tmp_path / "lake").as_uri()})
    default = lake_resource_from_env({})
    assert isinstance(by_path, LocalLakeResource) and isinstance(by_url, LocalLakeResource)
    assert by_path.path == by_url.path == str(tmp_path / "lake")
    assert isinstance(default, LocalLakeResource) and default.path == str(DEFAULT_LAKE_PATH)
    assert by_path.lake().uri("raw/x.gz") == (tmp_path / "lake" / "raw" / "x.gz").as_uri()


def test_gs_url_gives_a_gcs_resource() -> None:
    resource = lake_resource_from_env(
        {"MTA_LAKE_URL": "gs://my-bucket/some/prefix/", "GOOGLE_CLOUD_PROJECT": "p1"}
    )
    assert isinstance(resource, GCSLakeResource) and isinstance(resource, GCSResource)
    assert (resource.bucket, resource.prefix, resource.project) == ("my-bucket", "some/prefix", "p1")
    assert resource.service_account_json is None


@pytest.mark.parametrize("url", ["gs://", "s3://bucket/x", "http://example.com/lake"])
def test_unusable_lake_url_names_the_setting(url: str) -> None:
    with pytest.raises(LakeError, match="MTA_LAKE_URL"):
        parse_lake_url(url)


def test_source_from_env() -> None:
    assert source_resource_from_env({"MTA_SITE_URL": "http://127.0.0.1:1/developers"}).site_url.endswith(
        ":1/developers"
    )
    assert source_resource_from_env({}).site_url == "https://web.mta.info/developers"


def test_gcs_lake_through_the_resource(fake_gcs: FakeGCS) -> None:
    bucket = fake_gcs.create_bucket()
    lake = lake_resource_from_env({"MTA_LAKE_URL": f"gs://{bucket}/p"}).lake()
    assert isinstance(lake, GCSLake)
    lake.check_access()
    with lake.writer("raw/a.gz") as pending:
        pending.write(b"abc")
    assert [o.key for o in lake.list("raw/")] == ["raw/a.gz"]
    assert [b.name for b in fake_gcs.client().list_blobs(bucket)] == ["p/raw/a.gz"]


# -- lake setting errors name the setting, never the secret ---------------------------------


def assert_no_secret(text: str, secret: str) -> None:
    assert "PRIVATE KEY" not in text
    for line in secret.splitlines():
        if len(line) >= 12 and "PRIVATE KEY" not in line:
            for start in range(0, len(line) - 12, 6):
                assert line[start : start + 12] not in text


@pytest.mark.parametrize(
    "key_text",
    [json.dumps(FAKE_KEY), json.dumps(FAKE_KEY)[:-20], json.dumps({**FAKE_KEY, "client_email": None})],
    ids=["unparseable_private_key", "truncated_json", "bad_field"],
)
def test_bad_service_account_key(key_text: str) -> None:
    resource = GCSLakeResource(bucket="b", service_account_json=key_text)
    with pytest.raises(LakeError) as caught:
        resource.lake()
    message = str(caught.value)
    assert KEY_VARIABLE in message
    assert SECRET_MARKER not in message
    assert_no_secret(message, FAKE_KEY["private_key"])
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_bad_key_through_dagster_never_shows_the_secret(
    monkeypatch: pytest.MonkeyPatch, mirror: object
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, json.dumps(FAKE_KEY))
    resources = {
        "mta_source": MtaSource(site_url="http://127.0.0.1:9/developers"),
        "lake": lake_resource_from_env({"MTA_LAKE_URL": "gs://b/p", KEY_VARIABLE: "set"}),
    }
    with instance_with_every_week() as instance:
        result = materialize(
            [raw_turnstile],
            resources=resources,
            partition_key="2017-05-27",
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        (failure,) = result.get_step_failure_events()
        error = failure.step_failure_data.error
        assert error is not None and KEY_VARIABLE in error.message
        everything = "\n".join(
            [error.to_string(), str(result.dagster_run.run_config)]
            + [str(entry) for entry in instance.all_logs(result.run_id)]
        )
        assert SECRET_MARKER not in everything
        assert_no_secret(everything, FAKE_KEY["private_key"])


class _Refuse(BaseHTTPRequestHandler):
    """Every request refused: 403 for storage calls, 400 invalid_grant for token requests."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/token"):
            code, body = 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        else:
            code, body = 403, {"error": {"code": 403, "message": "caller does not have storage.objects.list"}}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _refuse


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_denied_access_names_the_credential_settings(
    refusing_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", refusing_server)
    lake = GCSLakeResource(bucket="private-bucket", prefix="p").lake()
    with pytest.raises(LakeError) as caught:
        lake.check_access()
    assert "denied" in str(caught.value) and "GOOGLE_APPLICATION_CREDENTIALS" in str(caught.value)
    assert "private-bucket" in str(caught.value)


def test_refused_service_account_names_the_setting_not_the_key(
    refusing_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A well-formed key whose token request is refused (revoked key, wrong account)."""
    private_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    key = {**FAKE_KEY, "private_key": private_key, "token_uri": f"{refusing_server}/token"}
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", refusing_server)
    lake = GCSLakeResource(bucket="b", service_account_json=json.dumps(key)).lake()
    with pytest.raises(LakeError) as caught:
        lake.check_access()
    message = str(caught.value)
    assert KEY_VARIABLE in message
    assert_no_secret(message, private_key)


def test_missing_bucket_names_the_bucket_and_setting(fake_gcs: FakeGCS) -> None:
    lake = GCSLake(fake_gcs.client(), "no-such-bucket", "p")
    with pytest.raises(LakeError, match=r"bucket 'no-such-bucket' does not exist.*MTA_LAKE_URL"):
        lake.check_access()
    with pytest.raises(LakeError, match="no-such-bucket"), lake.writer("raw/x.gz") as pending:
        pending.write(b"x")
