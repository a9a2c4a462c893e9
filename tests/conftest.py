"""Shared fixtures: a trained set of artifacts built in-process, the Docker engine and images,
free ports and polling helpers. Docker tests never silently skip in CI (CI=true)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mpg_core import dataset
from mpg_core.artifact.files import MODEL_TARBALL
from mpg_core.hyperparameters import Hyperparameters
from mpg_preprocessing.job import PreprocessConfig
from mpg_preprocessing.job import run as preprocess
from mpg_training.job import TrainConfig
from mpg_training.job import run as train

REPO = Path(__file__).resolve().parents[1]
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


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    from mpg_core.artifact.files import unpack_model_tarball

    root = tmp_path_factory.mktemp("trained")
    dataset.write_splits(dataset.split(dataset.load_auto_mpg()), root / "bronze")
    result = preprocess(
        PreprocessConfig(
            train_dir=root / "bronze/train",
            validation_dir=root / "bronze/validation",
            test_dir=root / "bronze/test",
            features_dir=root / "features",
            preprocessor_dir=root / "preprocessor",
        )
    )
    assert result.preprocessor_tarball is not None
    channels = {s: root / "features" / s for s in ("train", "validation", "test")}
    hp = Hyperparameters("random_forest", n_estimators=30)
    train(
        TrainConfig(
            channels={**channels, "preprocessor": root / "preprocessor"},
            model_dir=root / "pipeline",
            output_data_dir=root / "pipeline-out",
            hyperparameters=hp,
        )
    )
    train(
        TrainConfig(
            channels=channels,
            model_dir=root / "model",
            output_data_dir=root / "model-out",
            hyperparameters=hp,
        )
    )
    unpack_model_tarball(root / "preprocessor" / MODEL_TARBALL, root / "preprocessor-artifact")
    return Trained(
        bronze=root / "bronze",
        features=root / "features",
        preprocessor_tarball=root / "preprocessor" / MODEL_TARBALL,
        pipeline_dir=root / "pipeline",
        pipeline_report=root / "pipeline-out" / "evaluation.json",
        model_dir=root / "model",
        preprocessor_dir=root / "preprocessor-artifact",
    )


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


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if not docker_available():
        if IN_CI:
            pytest.fail("CI=true but no Docker engine answers: image tests must run in CI")
        pytest.skip("no Docker engine (run `make engine`)")


@pytest.fixture(scope="session")
def images(docker_engine: None) -> dict[str, str]:
    """The three images; built with `make images` when one is missing."""
    missing = [
        ref
        for ref in IMAGES.values()
        if subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode != 0
    ]
    if missing:
        subprocess.run(["make", "-C", str(REPO), "images", f"IMAGE_TAG={IMAGE_TAG}"], check=True)
    return IMAGES


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of containers a test starts; removed afterwards (only those)."""
    started: list[str] = []
    yield started
    for name in started:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
