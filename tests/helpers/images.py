"""Running the real images on the Docker engine with SageMaker's layout mounted: what the image
tests share."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from tests.helpers.common import free_port, wait_until


def docker(
    *args: str, timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def run_processing(images, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return docker(
        "run",
        "--rm",
        "-v",
        f"{root / 'processing'}:/opt/ml/processing",
        "-v",
        f"{root / 'output'}:/opt/ml/output",
        images["preprocessing"],
        *args,
    )


def run_training(
    images, root: Path, name: str | None = None, detach: bool = False
) -> subprocess.CompletedProcess[str]:
    return docker(
        "run",
        *(["-d"] if detach else ["--rm"]),
        *(["--name", name] if name else []),
        "-v",
        f"{root}:/opt/ml",
        images["training"],
        "train",
    )


def start_serving(
    images, model_dir: Path, containers: list[str], *env: str, container_port: int = 8080
) -> int:
    port = free_port()
    name = f"mpg-test-serve-{port}"
    containers.append(name)
    docker(
        "run",
        "-d",
        "--name",
        name,
        "-p",
        f"127.0.0.1:{port}:{container_port}",
        "-v",
        f"{model_dir}:/opt/ml/model:ro",
        *env,
        images["serving"],
        "serve",
        check=True,
    )

    def ready() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(ready, 60, f"/ping of {name}")
    return port


def run_evaluate(images, root: Path):
    (root / "output").mkdir(exist_ok=True)
    return docker(
        "run",
        "--rm",
        "--entrypoint",
        "evaluate",
        "-v",
        f"{root / 'processing'}:/opt/ml/processing",
        "-v",
        f"{root / 'output'}:/opt/ml/output",
        images["training"],
        *ARGUMENTS,
    )


ARGUMENTS = (
    "--model=/opt/ml/processing/input/model",
    "--test=/opt/ml/processing/input/test",
    "--report=/opt/ml/processing/output/evaluation",
)
