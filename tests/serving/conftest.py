"""A real `serve` process (gunicorn, 2 workers) on 127.0.0.1 for the bad-input and fault tests,
and helpers to see its worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.helpers.common import free_port, wait_until

SERVE = str(Path(sys.executable).with_name("serve"))
ROW = "8,307,130,3504,12,70,1"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    max_payload_bytes: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> set[int]:
        """PIDs of the gunicorn workers (the children of the `serve` process)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(c) for c in children}

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/ping", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False


def start_server(model_dir: Path, workers: int = 2, **env: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [SERVE],
        env={
            **os.environ,
            "MPG_MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    max_mb = int(env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6"))
    server = Server(process, port, max_mb * 1024 * 1024)
    wait_until(lambda: server.ready() or process.poll() is not None, 60, "/ping 200")
    assert process.poll() is None, "serve exited during start-up"
    # /ping answers as soon as one worker is up; wait for all of them.
    wait_until(lambda: len(server.workers()) == workers, 30, f"{workers} workers")
    return server


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="module")
def server(trained) -> Iterator[Server]:
    """One server for a whole module; a 1 MiB body limit keeps the over-limit bodies cheap."""
    s = start_server(trained.pipeline_dir, SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    try:
        yield s
    finally:
        stop_server(s)
