"""`serve` as a real process on 127.0.0.1: gunicorn in the same process, model loaded before the
port opens, SAGEMAKER_BIND_TO_PORT honoured, SIGTERM handled gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.common import free_port, wait_until

SERVE = str(Path(sys.executable).with_name("serve"))


def start(model_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SERVE],
        env={
            **os.environ,
            "MPG_MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def server(trained) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = start(trained.pipeline_dir, port)
    try:
        wait_until(lambda: ready(port) or process.poll() is not None, 60, "/ping")
        assert process.poll() is None, process.communicate()[0]
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serves_on_the_bound_port_and_answers(server) -> None:
    _, port = server
    response = requests.post(
        f"http://127.0.0.1:{port}/invocations",
        data="8,307,130,3504,12,70,1\n4,97,88,2130,14.5,70,3\n",
        headers={"Content-Type": "text/csv"},
        timeout=10,
    )
    assert response.status_code == 200
    assert len(response.text.split()) == 2


def test_a_six_mib_body_is_accepted(server) -> None:
    _, port = server
    row = "4,97,88,2130,14.5,70,3\n"
    body = row * ((6 * 1024 * 1024) // len(row))
    assert len(body) <= 6 * 1024 * 1024
    response = requests.post(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "text/csv"},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.text.count("\n") == body.count("\n")
    too_big = body + row * 2000
    response = requests.post(
        f"http://127.0.0.1:{port}/invocations",
        data=too_big,
        headers={"Content-Type": "text/csv"},
        timeout=60,
    )
    assert response.status_code == 413


def test_sigterm_exits_gracefully_within_30_seconds(server) -> None:
    process, port = server
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 30
    assert not ready(port)


def test_missing_model_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    process = start(tmp_path, free_port())
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "no artifact.json in" in output


def test_bad_settings_fail_fast(trained) -> None:
    process = start(trained.pipeline_dir, free_port(), SAGEMAKER_MODEL_SERVER_WORKERS="zero")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "SAGEMAKER_MODEL_SERVER_WORKERS='zero' is not an integer" in output
