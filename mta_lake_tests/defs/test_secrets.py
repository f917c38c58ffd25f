"""No key material leaks: not into the event log, the compute logs, the run config, the
materialisation metadata, error messages or the logs -- whether the run succeeds or fails.

A throwaway RSA service-account key (generated here, never valid anywhere) is put in
``MTA_GCS_SERVICE_ACCOUNT_JSON``; the resources are the real ones (``lake_resource_from_env``).
The google client really uses the key: it signs a JWT and exchanges it for a token at the key's
``token_uri``, which points at a local HTTP server; the objects go to fake-gcs-server (through
``STORAGE_EMULATOR_HOST``). Nothing reaches the internet.

Also: the image runs as a numeric non-root user and copies no key; ``make dev`` binds 127.0.0.1.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from dagster import DagsterInstance, materialize

from mta_lake.core.gcs_lake import GCSLake
from mta_lake.core.layout import raw_key
from mta_lake.core.published_weeks import PARTITIONS_NAME
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import (
    KEY_VARIABLE,
    GCSLakeResource,
    lake_resource_from_env,
    source_resource_from_env,
)
from mta_lake_harness.fake_gcs import FakeGCS
from mta_lake_harness.mirror import MtaMirror
from mta_lake_harness.paths import REPO_ROOT

WEEK = "2015-09-12"
FILE = "turnstile_150919.txt"
SLICE = 16
"""A leak of any 16 consecutive characters of the key counts."""


class TokenServer:
    """An OAuth2 token endpoint on 127.0.0.1: hands out a fake token, or refuses (a revoked key).

    ``issuers`` records who signed each request's JWT (its ``iss``, the key's ``client_email``):
    proof that a service-account key, and which one, was used (fake-gcs-server checks no token).
    """

    def __init__(self) -> None:
        self.refuse = False
        self.requests = 0
        self.issuers: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                server.requests += 1
                server.issuers.append(jwt_issuer(form.get("assertion", [""])[0]))
                if server.refuse:
                    status, body = (
                        400,
                        {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                    )
                else:
                    status, body = (
                        200,
                        {"access_token": "fake-token", "expires_in": 3600, "token_type": "Bearer"},
                    )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/token"

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture(autouse=True)
def no_regional_access_boundary_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep google-auth from calling iamcredentials.googleapis.com.

    google-auth 2.62 looks up a service account's "regional access boundary" in a background
    thread after each token refresh; here that lookup could only fail (no internet) and wastes
    ~110 s of DNS retries. It is a feature switch of the library, not part of what is tested.
    """
    from google.auth import credentials

    monkeypatch.setattr(
        credentials.CredentialsWithRegionalAccessBoundary,
        "_is_regional_access_boundary_lookup_required",
        lambda self: False,
    )


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    try:
        yield server
    finally:
        server.stop()


def jwt_issuer(assertion: str) -> str:
    """The ``iss`` of a signed JWT (its signature is not checked: the key is a throwaway)."""
    try:
        payload = assertion.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"]
    except (IndexError, ValueError, KeyError):
        return ""


def throwaway_key(token_uri: str) -> dict[str, str]:
    """A real RSA service-account key in Google's JSON layout, valid nowhere."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "mta-lake-secrets-test",
        "private_key_id": uuid.uuid4().hex + uuid.uuid4().hex[:8],
        "private_key": pem,
        "client_email": "lake-writer@mta-lake-secrets-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }


def secret_slices(key: dict[str, str]) -> set[str]:
    """Every 16-character slice of the private key's body and of its id."""
    lines = [line for line in key["private_key"].splitlines() if line and not line.startswith("-----")]
    pieces = [*lines, "".join(lines), key["private_key_id"]]
    return {piece[i : i + SLICE] for piece in pieces for i in range(len(piece) - SLICE + 1)}


def leaks(text: str, slices: set[str]) -> list[str]:
    # JSON and log formatting may escape "/" or "+" in base64; undo the usual escapes first.
    text = text.replace("\\/", "/").replace("\\u002b", "+").replace("\\n", "\n")
    return sorted({text[i : i + SLICE] for i in range(len(text) - SLICE + 1)} & slices)[:5]


def scan_folder(folder: Path, slices: set[str]) -> dict[str, list[str]]:
    """Every file under ``folder`` (SQLite event log, run storage, compute logs), as text."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            hits = leaks(path.read_bytes().decode("latin-1"), slices)
            if hits:
                found[str(path)] = hits
    return found


def run_and_scan(
    key_text: str,
    slices: set[str],
    bucket: str,
    mirror: MtaMirror,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> tuple[bool, str]:
    """Materialise WEEK with the key set; return (success, error text); assert nothing leaked."""
    monkeypatch.setenv(KEY_VARIABLE, key_text)
    monkeypatch.setenv("MTA_LAKE_URL", f"gs://{bucket}/mta")
    monkeypatch.setenv("MTA_SITE_URL", mirror.url)
    lake_resource = lake_resource_from_env()
    assert isinstance(lake_resource, GCSLakeResource)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(tempdir=str(home)) as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, [WEEK])  # published (the index sensor's job)
        result = materialize(
            [raw_turnstile],
            partition_key=WEEK,
            resources={"mta_source": source_resource_from_env(), "lake": lake_resource},
            instance=instance,
            raise_on_error=False,
        )
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        records = instance.all_logs(result.run_id)
        texts = {
            "event log": "\n".join(repr(record) for record in records),
            "run config": json.dumps(run.run_config, default=str),
            "run tags": json.dumps(run.tags, default=str),
            "materialisations": repr(result.asset_materializations_for_node("raw_turnstile")),
            "errors": "\n".join(
                repr(event.event_specific_data) for event in result.all_events if event.is_failure
            ),
            "repr of the resource": repr(lake_resource),
        }
        success = result.success
        error_text = texts["errors"]
    captured = capfd.readouterr()
    texts["stdout/stderr"] = captured.out + captured.err
    texts["python logging"] = caplog.text
    found = {where: hits for where, text in texts.items() if (hits := leaks(text, slices))}
    found.update(scan_folder(home, slices))
    assert found == {}, f"key material found: {found}"
    assert "googleapis.com" not in texts["python logging"], "a request tried to leave the machine"
    assert len(records) > 5 and any(home.rglob("*.db")), "nothing was recorded: the scan proves nothing"
    return success, error_text


@pytest.fixture
def served(sample_files: dict[str, bytes]) -> Iterator[MtaMirror]:
    with MtaMirror() as mirror:
        mirror.add(FILE, sample_files[FILE])
        yield mirror


def test_a_run_with_a_key_leaks_nothing(
    fake_gcs: FakeGCS,
    served: MtaMirror,
    token_server: TokenServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    sample_files: dict[str, bytes],
) -> None:
    key = throwaway_key(token_server.url)
    bucket = fake_gcs.create_bucket()
    success, errors = run_and_scan(
        json.dumps(key), secret_slices(key), bucket, served, tmp_path, monkeypatch, capfd, caplog
    )
    assert success, errors
    assert token_server.requests >= 1, "the key was never used: the test proves nothing"
    assert set(token_server.issuers) == {key["client_email"]}
    landed = GCSLake(fake_gcs.client(), bucket, "mta").stat(raw_key(FILE))
    assert landed is not None and landed.metadata["source_bytes"] == str(len(sample_files[FILE]))


def test_a_run_with_a_refused_key_fails_and_leaks_nothing(
    fake_gcs: FakeGCS,
    served: MtaMirror,
    token_server: TokenServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The token endpoint refuses the key (revoked): the run fails, the key stays secret."""
    token_server.refuse = True
    key = throwaway_key(token_server.url)
    success, errors = run_and_scan(
        json.dumps(key),
        secret_slices(key),
        fake_gcs.create_bucket(),
        served,
        tmp_path,
        monkeypatch,
        capfd,
        caplog,
    )
    assert not success
    assert token_server.requests >= 1
    assert "invalid_grant" in errors or "RefreshError" in errors, errors


def test_a_run_with_a_corrupt_key_fails_clearly_and_leaks_nothing(
    fake_gcs: FakeGCS,
    served: MtaMirror,
    token_server: TokenServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key whose private_key was damaged (a bad copy-paste): a clear error naming the variable."""
    key = throwaway_key(token_server.url)
    body = key["private_key"].splitlines()
    key["private_key"] = "\n".join([*body[:5], body[5][::-1], *body[6:]])  # not parseable any more
    success, errors = run_and_scan(
        json.dumps(key),
        secret_slices(key),
        fake_gcs.create_bucket(),
        served,
        tmp_path,
        monkeypatch,
        capfd,
        caplog,
    )
    assert not success
    assert KEY_VARIABLE in errors, errors
    assert token_server.requests == 0


# -- the image and local development ---------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    path = REPO_ROOT / "Dockerfile"
    if not path.exists():
        pytest.skip("no Dockerfile in this checkout")
    text = re.sub(r"\\\n", " ", path.read_text())  # join continuation lines
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def test_image_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for word, rest in dockerfile_instructions() if word == "USER"]
    assert users, "the Dockerfile has no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: not a numeric non-root UID"
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_image_holds_no_key() -> None:
    suspicious = re.compile(r"(\.json\b|credential|service.?account|\.pem\b|\.p12\b|key)", re.IGNORECASE)
    for word, rest in dockerfile_instructions():
        if word in ("COPY", "ADD"):
            sources = [s for s in rest.split() if not s.startswith("--")][:-1]
            assert not any(suspicious.search(s) for s in sources), (
                f"{word} {rest}: copies a key into the image"
            )
            assert not any(s in (".", "./") for s in sources) or (REPO_ROOT / ".dockerignore").exists()
        if word in ("ENV", "ARG"):
            for name in (KEY_VARIABLE, "GOOGLE_APPLICATION_CREDENTIALS"):
                assert name not in rest, f"{word} {rest}: bakes a credential setting into the image"


def test_make_dev_binds_localhost_only() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    commands = [
        line for line in makefile.splitlines() if "dagster dev" in line and not line.lstrip().startswith("#")
    ]
    assert commands, "no `dagster dev` command in the Makefile"
    for command in commands:
        assert re.search(r"(-h|--host)[ =]127\.0\.0\.1\b", command), command
        assert "0.0.0.0" not in command


# -- credentials on every path, for every way of giving them ----------------------------------
#
# One function chooses them (mta_lake.core.lake.gcs_credentials) and every path opens the lake
# through it: runs and sensors (the resources), the partitions' snapshot and the CLI (open_lake),
# and dbt's duckdb_gcs target (the gcs_lake_filesystem plugin). fake-gcs-server accepts any token,
# so each test also checks the credentials object built and who signed the token request.

WAYS = ["key_json", "key_file", "emulator"]


def give_credentials(
    way: str, key: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Set the environment for ``way`` (STORAGE_EMULATOR_HOST stays: the emulator is the server)."""
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    values: dict[str, str] = {}
    if way == "key_json":
        values[KEY_VARIABLE] = json.dumps(key)
    elif way == "key_file":
        path = tmp_path / "gcp-key.json"
        path.write_text(json.dumps(key))
        values["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def expected_source(way: str) -> str:
    return {
        "key_json": KEY_VARIABLE,
        "key_file": "GOOGLE_APPLICATION_CREDENTIALS",
        "emulator": "STORAGE_EMULATOR_HOST (anonymous)",
    }[way]


def assert_credentials_of(
    way: str, credentials: object, token_server: TokenServer, key: dict[str, str]
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.oauth2 import service_account

    if way == "emulator":
        assert isinstance(credentials, AnonymousCredentials)
        assert token_server.requests == 0
    else:
        assert isinstance(credentials, service_account.Credentials)
        assert credentials.service_account_email == key["client_email"]
        assert token_server.issuers and set(token_server.issuers) == {key["client_email"]}


def parquet_bytes(rows: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"entries": list(range(rows))}), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("way", WAYS)
def test_open_lake_and_the_resources_use_the_credentials_given(
    way: str, fake_gcs: FakeGCS, token_server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_lake (the CLI, the partitions' snapshot) and the resource outside a run (sensors) alike."""
    from mta_lake.core.lake import open_lake
    from mta_lake.core.settings import Settings

    key = throwaway_key(token_server.url)
    bucket = fake_gcs.create_bucket()
    give_credentials(way, key, tmp_path, monkeypatch)
    monkeypatch.setenv("MTA_LAKE_URL", f"gs://{bucket}/mta")
    fake_gcs.client().bucket(bucket).blob("mta/state/published_files.json").upload_from_string(b"{}")

    lake = open_lake(Settings.from_env())
    assert isinstance(lake, GCSLake) and lake.credentials_source == expected_source(way)
    assert [o.key for o in lake.list("state/")] == ["state/published_files.json"]
    assert_credentials_of(way, lake.client._credentials, token_server, key)

    # The resource as sensors and the partitions' loader use it: outside a run the key field still
    # holds the EnvVar (the variable's name), and the key is read from the variable.
    outside = lake_resource_from_env().lake()
    assert isinstance(outside, GCSLake) and outside.credentials_source == expected_source(way)
    assert [o.key for o in outside.list("state/")] == ["state/published_files.json"]


@pytest.mark.parametrize("way", WAYS)
def test_the_marts_gcs_filesystem_uses_the_credentials_given(
    way: str, fake_gcs: FakeGCS, token_server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duckdb_gcs plugin's filesystem, registered with DuckDB as dbt does, reads the lake."""
    import duckdb

    from mta_lake.core.lake import gcs_credentials
    from mta_lake.core.mart.gcs_lake_filesystem import lake_filesystem

    key = throwaway_key(token_server.url)
    bucket = fake_gcs.create_bucket()
    fake_gcs.client().bucket(bucket).blob("mta/t.parquet").upload_from_string(parquet_bytes(5))
    give_credentials(way, key, tmp_path, monkeypatch)
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    filesystem = lake_filesystem()
    with duckdb.connect() as connection:
        connection.register_filesystem(filesystem)
        count = connection.execute(
            f"select count(*) from read_parquet('gs://{bucket}/mta/t.parquet')"
        ).fetchone()
    assert count == (5,)
    assert gcs_credentials().source == expected_source(way)
    if way == "emulator":
        assert filesystem.credentials.credentials is None  # gcsfs's anonymous mode
        assert token_server.requests == 0
    else:
        assert_credentials_of(way, filesystem.credentials.credentials, token_server, key)


def test_no_credentials_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mta_lake.core.lake import LakeError, gcs_credentials

    for name in (KEY_VARIABLE, "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # no metadata server here: do not wait for one
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud login either
    with pytest.raises(LakeError, match="no GCS credentials: set GOOGLE_APPLICATION_CREDENTIALS"):
        gcs_credentials()


def test_a_key_file_that_is_not_one_names_the_variable_not_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mta_lake.core.lake import LakeError, gcs_credentials

    path = tmp_path / "key.json"
    path.write_text('{"private_key": "-----BEGIN PRIVATE KEY-----\\nSECRETSECRETSECRET\\n"}')
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    with pytest.raises(LakeError) as caught:
        gcs_credentials()
    assert f"GOOGLE_APPLICATION_CREDENTIALS={path} is not a usable key file" in str(caught.value)
    assert "SECRET" not in str(caught.value) and caught.value.__cause__ is None


def subprocess_env(key: dict[str, str], bucket: str, fake_gcs: FakeGCS, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "warehouse").mkdir(exist_ok=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in (KEY_VARIABLE, "GOOGLE_APPLICATION_CREDENTIALS") and not name.startswith("MTA_")
    }
    env.update(
        {
            KEY_VARIABLE: json.dumps(key),
            "STORAGE_EMULATOR_HOST": fake_gcs.url,
            "MTA_LAKE_URL": f"gs://{bucket}/mta",
            "MTA_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "mta.duckdb"),
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return env


def test_the_cli_reads_a_lake_in_gcs_with_the_key(
    fake_gcs: FakeGCS,
    served: MtaMirror,
    token_server: TokenServer,
    tmp_path: Path,
    sample_files: dict[str, bytes],
) -> None:
    """``mta-lake status`` against GCS with the key in MTA_GCS_SERVICE_ACCOUNT_JSON (it used to fail:
    the CLI opened the lake with the EnvVar's name as the key)."""
    key = throwaway_key(token_server.url)
    bucket = fake_gcs.create_bucket()
    with GCSLake(fake_gcs.client(), bucket, "mta").writer(raw_key(FILE)) as pending:
        pending.write(b"landed earlier")
    env = subprocess_env(key, bucket, fake_gcs, tmp_path)
    env["MTA_SITE_URL"] = served.url
    done = subprocess.run(
        [str(Path(sys.executable).with_name("mta-lake")), "status", "--from", WEEK, "--to", WEEK, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["weeks"]["landed"] == [WEEK]
    assert set(token_server.issuers) == {key["client_email"]}
    assert leaks(done.stdout + done.stderr, secret_slices(key)) == []


def test_dbt_reads_a_lake_in_gcs_with_the_key(
    fake_gcs: FakeGCS, token_server: TokenServer, tmp_path: Path
) -> None:
    """The real ``dbt`` on the duckdb_gcs target (the profile's plugin), the key in the environment;
    nothing of it in dbt's output, logs or manifest."""
    from mta_lake.core.mart.dbt_project import PROJECT_DIR, Warehouse, dbt_executable

    key = throwaway_key(token_server.url)
    bucket = fake_gcs.create_bucket()
    fake_gcs.client().bucket(bucket).blob("mta/t.parquet").upload_from_string(parquet_bytes(7))
    query = f"select count(*) as n from read_parquet('gs://{bucket}/mta/t.parquet')"
    work = tmp_path / "dbt"
    # The settings reach dbt as --vars (mta_lake.core.mart.dbt_project): the warehouse's, here.
    warehouse = Warehouse(lake_url=f"gs://{bucket}/mta", path=tmp_path / "w.duckdb", work_dir=work)
    done = subprocess.run(
        [
            dbt_executable(), "show", "--inline", query, "--target", "duckdb_gcs", "--output", "json",
            "--vars", json.dumps(warehouse.dbt_vars()),
            "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        ],
        env=subprocess_env(key, bucket, fake_gcs, tmp_path),
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert '"n": 7' in done.stdout
    assert set(token_server.issuers) == {key["client_email"]}
    slices = secret_slices(key)
    assert leaks(done.stdout + done.stderr, slices) == []
    assert scan_folder(work, slices) == {}
    assert any(work.rglob("*.log")) and any(work.rglob("manifest.json")), (
        "nothing written: the scan proves nothing"
    )
