"""Shared fixtures: a trained set of artifacts built in-process, the Docker engine and images,
and for the launcher a moto server (S3, ECR, SageMaker, Logs, CloudWatch, Application Auto
Scaling) on 127.0.0.1 with a free port. Docker tests never silently skip in CI (CI=true).

The folders are the tiers, and mark their tests: ``aws/`` (botocore's Stubber or the moto
server) is ``aws``; ``image/`` (the real Docker engine) is ``docker``. Helpers that are not
fixtures live in ``tests/helpers/``."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from mpg_core import dataset
from mpg_core.artifact.files import MODEL_TARBALL
from mpg_core.hyperparameters import Hyperparameters
from mpg_launch.cli.main import main
from mpg_launch.settings.config import LaunchConfig, load_config
from mpg_preprocessing.job import PreprocessConfig
from mpg_preprocessing.job import run as preprocess
from mpg_training.job import TrainConfig
from mpg_training.job import run as train
from tests.helpers.common import (
    IMAGE_TAG,
    IMAGES,
    IN_CI,
    REPO,
    Trained,
    docker_available,
    free_port,
)
from tests.helpers.launch import REGION, ROLE_ARN, STUB_ROLE, wait_http
from tests.tables import write_table

TESTS = Path(__file__).resolve().parent
# Folder -> the markers every test under it gets (a tier is where a test lives).
TIER_MARKERS = {"aws": ("aws",), "image": ("docker",)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(TESTS).parts
        for marker in TIER_MARKERS.get(parts[0], ()) if len(parts) > 1 else ():
            item.add_marker(marker)


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


# The launcher's AWS side: a moto server, an environment pointing at it, a bucket.


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = Path(sys.executable).parent / "moto_server"
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/moto-api/", 30)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every boto3 client in this process (and the CLI) talks to the moto server; state is
    reset so tests do not see each other's resources."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MPG_REGION": REGION,
        "MPG_ROLE_ARN": ROLE_ARN,
        # --local runs the images this test session built (tests/conftest.py IMAGE_TAG).
        "MPG_LOCAL_IMAGE_TAG": IMAGE_TAG,
    }
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "MPG_CONFIG",
        "MPG_BUCKET",
        "MPG_REGISTRY",
        "MPG_IMAGE_REGISTRY",
        "MPG_IMAGE_TAG",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def bucket(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"mpg-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
    monkeypatch.setenv("MPG_BUCKET", name)
    # --local runs in these tests keep their objects in this (moto) bucket, not a folder.
    monkeypatch.setenv("MPG_LOCAL_S3", "aws")
    return name


@pytest.fixture(autouse=True)
def _private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's local state (init's and quickstart's remembered schemas, local records) in
    its own folder, never the user's ~/.cache/mpg-launch/local; a test may set another."""
    monkeypatch.setenv("MPG_LOCAL_STATE_DIR", str(tmp_path / "mpg-state"))


@pytest.fixture(autouse=True)
def _require_docker(request: pytest.FixtureRequest) -> None:
    """Docker tests need the engine and the three images: tests/conftest.py's ``images``
    fails under CI=true without an engine and builds missing images with `make images`."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("images")


@pytest.fixture
def config() -> LaunchConfig:
    """A complete launcher config for request-building tests (nothing is sent)."""
    return load_config(
        env={
            "MPG_REGION": "eu-west-1",
            "MPG_ROLE_ARN": STUB_ROLE,
            "MPG_BUCKET": "my-bucket",
            "MPG_IMAGE_TAG": "git-abc",
        }
    )


@pytest.fixture(scope="session")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tables of one's own (iris, diabetes) with the schema ``init`` writes for each."""
    folder = tmp_path_factory.mktemp("tables")
    for name in ("iris", "diabetes"):
        table, target = write_table(name, folder)
        assert (
            main(
                [
                    "init",
                    "--table",
                    str(table),
                    "--target",
                    target,
                    "--out",
                    str(folder / f"{name}.toml"),
                ],
                env={"MPG_LOCAL_STATE_DIR": str(folder / "state")},  # not the user's
                out=lambda line: None,
            )
            == 0
        )
    return folder
