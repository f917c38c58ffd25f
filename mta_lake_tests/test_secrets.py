"""No key material leaks: not into the event log, the compute logs, the run config, the
materialisation metadata, error messages or the logs -- whether the run succeeds or fails.

A throwaway RSA service-account key (generated here, never valid anywhere) is put in
``MTA_GCS_SERVICE_ACCOUNT_JSON``; the resources are the real ones (``lake_resource_from_env``).
The google client really uses the key: it signs a JWT and exchanges it for a token at the key's
``token_uri``, which points at a local HTTP server; the objects go to fake-gcs-server (through
``STORAGE_EMULATOR_HOST``). Nothing reaches the internet.

Also: the image runs as a numeric non-root user and copies no key; ``make dev`` binds 127.0.0.1.
"""

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from mta_lake.core.lake import GCSLake
from mta_lake.core.layout import raw_key
from mta_lake.defs.raw.assets import raw_turnstile
from mta_lake.defs.resources import (
    KEY_VARIABLE,
    GCSLakeResource,
    lake_resource_from_env,
    source_resource_from_env,
)
from mta_lake_tests.support.fake_gcs import FakeGCS
from mta_lake_tests.support.mirror import MtaMirror

REPO_ROOT = Path(__file__).resolve().parents[1]
WEEK = "2015-09-12"
FILE = "turnstile_150919.txt"
SLICE = 16
"""A leak of any 16 consecutive characters of the key counts."""


class TokenServer:
    """An OAuth2 token endpoint on 127.0.0.1: hands out a fake token, or refuses (a revoked key)."""

    def __init__(self) -> None:
        self.refuse = False
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
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
