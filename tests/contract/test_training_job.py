"""`train` (sagemaker-training's runner importing mpg_training.job) as a process on a tmp /opt/ml
tree: the same command the image runs, with SAGEMAKER_BASE_DIR in place of /opt/ml."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mpg_core.artifact.reader import load_artifact
from mpg_core.metrics import metric_definitions
from tests.helpers.common import tree_cpu_seconds, wait_until
from tests.helpers.jobs import CHANNELS, TRAIN, make_tree, run_train


def test_trains_evaluates_and_writes_a_servable_model(tmp_path: Path, trained) -> None:
    root = make_tree(
        tmp_path,
        trained,
        {"algorithm": "random_forest", "n_estimators": "40", "max_depth": '"None"'},
    )
    result = run_train(root)
    assert result.returncode == 0, result.stdout + result.stderr
    logs = result.stdout + result.stderr
    values = {}
    for definition in metric_definitions("regression"):
        found = re.findall(definition["Regex"], logs)
        assert len(found) == 1, definition
        values[definition["Name"]] = float(found[0])
    # A fair random forest on Auto MPG: validation RMSE roughly 2.5-3.5 mpg.
    assert 1.5 < values["validation:rmse"] < 4.0
    assert values["validation:r2"] > 0.8
    report = json.loads((root / "output/data/evaluation.json").read_text())
    assert report["metrics"]["validation"]["rmse"] == pytest.approx(
        values["validation:rmse"], abs=1e-6
    )
    assert report["hyperparameters"]["n_estimators"] == 40
    artifact = load_artifact(root / "model")
    assert artifact.kind == "pipeline" and len(artifact.input_columns) == 7
    assert not (root / "output/failure").exists()


def test_without_the_preprocessor_channel_the_model_takes_features(tmp_path: Path, trained) -> None:
    root = make_tree(tmp_path, trained, {"n_estimators": "10"}, ("train", "validation"))
    assert run_train(root).returncode == 0
    assert load_artifact(root / "model").kind == "model"


@pytest.mark.parametrize(
    ("hyperparameters", "channels", "expected"),
    [
        (
            {"n_estimators": "many"},
            CHANNELS,
            "ConfigError: hyperparameter n_estimators='many' must be an integer",
        ),
        ({"depth": "3"}, CHANNELS, "ConfigError: unknown hyperparameter(s) ['depth']"),
        ({}, ("validation",), "ConfigError: missing channel(s) ['train']"),
    ],
)
def test_failures_leave_the_reason_first_and_exit_nonzero(
    tmp_path: Path,
    trained,
    hyperparameters: dict[str, str],
    channels: tuple[str, ...],
    expected: str,
) -> None:
    root = make_tree(tmp_path, trained, hyperparameters, channels)
    result = run_train(root)
    assert result.returncode == 2
    failure = (root / "output/failure").read_text()
    assert failure.startswith(expected) and len(failure) <= 1025
    assert not (root / "model" / "artifact.json").exists()


def test_bad_feature_file_fails_with_data_error(tmp_path: Path, trained) -> None:
    root = make_tree(tmp_path, trained, {})
    (root / "input/data/validation/validation.csv").write_text("mpg,weight\n20,x\n")
    result = run_train(root)
    assert result.returncode == 3
    assert (root / "output/failure").read_text().startswith("DataError: validation: feature")


def test_sigterm_stops_cleanly_with_a_reason(tmp_path: Path, trained) -> None:
    # Enough trees on one core that the job is still fitting when SIGTERM arrives.
    root = make_tree(
        tmp_path, trained, {"algorithm": "random_forest", "n_estimators": "10000", "n_jobs": "1"}
    )
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(root),
        "SAGEMAKER_TRAINING_MODULE": "mpg_training.job:main",
    }
    process = subprocess.Popen(
        [TRAIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "training random forest" in line:
            break
    # Well into the fit: the job's processes have spent CPU on it since the log line.
    fitting_from = tree_cpu_seconds(process.pid)
    wait_until(
        lambda: tree_cpu_seconds(process.pid) >= fitting_from + 0.5, 60, "the fit to be under way"
    )
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    assert time.monotonic() - started < 30
    assert (root / "output/failure").read_text().startswith("JobStopped: stopped by SIGTERM")
