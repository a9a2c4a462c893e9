"""The real images on the real Docker engine, with SageMaker's /opt/ml layout mounted."""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests

from mpg_core.artifact.reader import load_artifact
from mpg_core.metrics import metric_definitions
from tests.helpers.common import free_port, wait_until
from tests.helpers.images import docker, run_processing, run_training, start_serving
from tests.helpers.jobs import make_tree
from tests.helpers.serving import BAD, ROW

pytestmark = pytest.mark.docker


def test_processing_job(images, trained, tmp_path: Path) -> None:
    shutil.copytree(trained.bronze, tmp_path / "processing" / "input")
    result = run_processing(images, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "processing" / "output"
    assert sorted(p.name for p in (out / "features").iterdir()) == ["test", "train", "validation"]
    assert (out / "preprocessor" / "model.tar.gz").is_file()
    # The image fits the same preprocessor as the host: one lock, same libraries.
    assert (out / "features/test/test.csv").read_text() == (
        trained.features / "test/test.csv"
    ).read_text()


def test_processing_container_arguments_and_failure(images, trained, tmp_path: Path) -> None:
    shutil.copytree(trained.bronze / "train", tmp_path / "processing" / "input" / "raw")
    result = run_processing(
        images,
        tmp_path,
        "--train",
        "/opt/ml/processing/input/raw",
        "--features",
        "/opt/ml/processing/output/f",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "processing/output/f/train/train.csv").is_file()
    (tmp_path / "processing/input/raw/train.csv").write_text("nothing,useful\n1,2\n")
    failed = run_processing(images, tmp_path, "--train", "/opt/ml/processing/input/raw")
    assert failed.returncode == 3
    assert (tmp_path / "output/message").read_text().startswith("DataError: train: missing")


def test_training_job(images, trained, tmp_path: Path) -> None:
    root = make_tree(tmp_path, trained, {"n_estimators": "50", "max_features": '"0.8"'})
    result = run_training(images, root)
    assert result.returncode == 0, result.stdout + result.stderr
    for definition in metric_definitions("regression"):
        assert len(re.findall(definition["Regex"], result.stdout + result.stderr)) == 1
    assert load_artifact(root / "model").kind == "pipeline"
    assert (root / "output/data/evaluation.json").is_file()
    assert (root / "output/success").is_file()  # written by sagemaker-training's runner


def test_failing_training_job_leaves_the_failure_file(images, trained, tmp_path: Path) -> None:
    root = make_tree(tmp_path, trained, {"n_estimators": "-3"})
    result = run_training(images, root)
    assert result.returncode == 2
    failure = (root / "output/failure").read_text()
    assert failure.startswith(
        "ConfigError: hyperparameter n_estimators=-3 must be an integer in [1, 10000]"
    )
    assert len(failure.encode()) <= 1025


def test_docker_stop_stops_training_cleanly(
    images, trained, tmp_path: Path, containers: list[str]
) -> None:
    hyperparameters = {"algorithm": "random_forest", "n_estimators": "10000", "n_jobs": "1"}
    root = make_tree(tmp_path, trained, hyperparameters)
    name = f"mpg-test-stop-{free_port()}"
    containers.append(name)
    assert run_training(images, root, name=name, detach=True).returncode == 0
    wait_until(
        lambda: "training random forest" in docker("logs", name).stdout, 60, "training to start"
    )
    started = time.monotonic()
    docker("stop", "-t", "120", name, check=True)  # SIGTERM, SIGKILL after 120 s (as SageMaker)
    assert time.monotonic() - started < 30
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "143"
    assert (root / "output/failure").read_text().startswith("JobStopped: stopped by SIGTERM")


@pytest.mark.parametrize("stage", ["training", "preprocessing"])
def test_a_stop_right_after_start_is_not_ignored(
    images, trained, tmp_path: Path, containers: list[str], stage: str
) -> None:
    """PID 1 ignores SIGTERM until it has a handler: the jobs install theirs before their
    heavy imports, so a stop during start-up ends the job at once, not at SIGKILL."""
    name = f"mpg-test-early-stop-{free_port()}"
    containers.append(name)
    if stage == "training":
        root = make_tree(tmp_path, trained, {})
        mounts = ["-v", f"{root}:/opt/ml"]
        command = [images["training"], "train"]
        failure = root / "output/failure"
    else:
        shutil.copytree(trained.bronze, tmp_path / "processing" / "input")
        mounts = [
            "-v",
            f"{tmp_path / 'processing'}:/opt/ml/processing",
            "-v",
            f"{tmp_path / 'output'}:/opt/ml/output",
        ]
        command = [images["preprocessing"]]
        failure = tmp_path / "output/failure"
    docker("run", "-d", "--name", name, *mounts, *command, check=True)

    def sigterm_caught() -> bool:  # bit 15 of PID 1's caught-signals mask
        status = docker("exec", name, "cat", "/proc/1/status").stdout
        mask = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0"
        )
        return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))

    wait_until(sigterm_caught, 30, "the SIGTERM handler", interval=0.02)
    started = time.monotonic()
    docker("stop", "-t", "120", name, check=True)
    assert time.monotonic() - started < 15
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "143"
    assert "stopped by SIGTERM" in failure.read_text()


@pytest.fixture(scope="module")
def serving_port(images, trained) -> int:
    started: list[str] = []
    try:
        yield start_serving(images, trained.pipeline_dir, started)
    finally:
        for name in started:
            docker("rm", "-f", name)


@pytest.mark.parametrize(("body", "content_type", "status", "message"), BAD)
def test_serving_bad_requests(
    serving_port: int, body: str | bytes, content_type: str | None, status: int, message: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(
        f"http://127.0.0.1:{serving_port}/invocations", data=body, headers=headers, timeout=10
    )
    assert response.status_code == status, response.text
    if message is not None:
        assert message in response.json()["error"]


def test_serving_predicts_and_reports_execution_parameters(serving_port: int) -> None:
    base = f"http://127.0.0.1:{serving_port}"
    response = requests.post(
        f"{base}/invocations",
        data=f"{ROW}\n{ROW}\n",
        headers={"Content-Type": "text/csv", "Accept": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200 and len(response.json()["predictions"]) == 2
    params = requests.get(f"{base}/execution-parameters", timeout=5).json()
    assert params["BatchStrategy"] == "MULTI_RECORD"
    body = "x" * (6 * 1024 * 1024 + 1)
    assert (
        requests.post(
            f"{base}/invocations", data=body, timeout=30, headers={"Content-Type": "text/csv"}
        ).status_code
        == 413
    )


def test_serving_honours_bind_to_port_and_stops_on_sigterm(
    images, trained, containers: list[str]
) -> None:
    port = start_serving(
        images,
        trained.pipeline_dir,
        containers,
        "-e",
        "SAGEMAKER_BIND_TO_PORT=9123",
        container_port=9123,
    )
    name = containers[-1]
    assert requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200
    started = time.monotonic()
    docker("stop", "-t", "30", name, check=True)
    assert time.monotonic() - started < 30
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"


def test_serving_without_a_model_exits_with_the_reason(images, tmp_path: Path) -> None:
    result = docker(
        "run", "--rm", "-v", f"{tmp_path}:/opt/ml/model:ro", images["serving"], "serve", timeout=120
    )
    assert result.returncode == 1
    assert "no artifact.json in /opt/ml/model" in result.stdout + result.stderr


def inspect(ref: str) -> dict:
    return json.loads(docker("image", "inspect", ref, check=True).stdout)[0]


def test_images_follow_the_contract_and_share_layers(images) -> None:
    serving, training, processing = (
        inspect(images[k]) for k in ("serving", "training", "preprocessing")
    )
    labels = serving["Config"]["Labels"] or {}
    assert labels.get("com.amazonaws.sagemaker.capabilities.accept-bind-to-port") == "true"
    assert serving["Config"]["Cmd"] == ["serve"] and not serving["Config"]["Entrypoint"]
    assert training["Config"]["Cmd"] == ["train"] and not training["Config"]["Entrypoint"]
    assert processing["Config"]["Entrypoint"] == ["preprocess"]
    for image in (serving, training, processing):
        assert image["Config"]["User"] in ("", "root", "0")  # SageMaker runs containers as root
        assert image["Architecture"] == "amd64"
    core_layers = inspect(images["serving"].replace("mpg-serving", "mpg-core"))["RootFS"]["Layers"]
    for image in (serving, training, processing):
        assert image["RootFS"]["Layers"][: len(core_layers)] == core_layers
        # Each image adds at most two layers of its own on top of the shared ones.
        assert len(image["RootFS"]["Layers"]) - len(core_layers) <= 2


def test_runtime_images_hold_no_compilers_caches_or_tests(images) -> None:
    script = (
        "import pathlib, shutil, sys; site = pathlib.Path(sys.prefix) / 'lib';"
        "print(shutil.which('gcc'), shutil.which('cc'), shutil.which('uv'),"
        " sum(1 for p in site.rglob('tests') if p.is_dir()),"
        " pathlib.Path('/root/.cache').exists())"
    )
    for ref in images.values():
        result = docker("run", "--rm", "--entrypoint", "python3", ref, "-c", script, check=True)
        assert result.stdout.split() == ["None", "None", "None", "0", "False"], ref
