"""Helpers every tier shares (not fixtures: those live in the conftest.py files): the repo's
paths, the images under test, free ports and polling to a deadline."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE_TAG = os.environ.get("MPG_IMAGE_TAG", "latest")
IMAGES = {name: f"mpg-{name}:{IMAGE_TAG}" for name in ("preprocessing", "training", "serving")}
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass(frozen=True)
class Trained:
    """Everything a pipeline run produces, made in-process once per session."""

    bronze: Path  # <split>/<split>.csv raw inputs
    features: Path  # <split>/<split>.csv
    preprocessor_tarball: Path
    pipeline_dir: Path  # kind "pipeline": raw rows -> mpg
    pipeline_report: Path  # training's evaluation.json for pipeline_dir (its test metrics)
    model_dir: Path  # kind "model": features -> mpg
    preprocessor_dir: Path  # kind "preprocessor": raw rows -> features


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``check`` until it is true, failing with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process below it, from
    /proc (Linux): how a test tells that a job is busy without sleeping a guessed time."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        used[child] = (int(fields[11]) + int(fields[12])) / tick

    def below(candidate: int) -> bool:
        while candidate > 1:
            if candidate == pid:
                return True
            candidate = parents.get(candidate, 0)
        return False

    return sum(seconds for child, seconds in used.items() if below(child))


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0
