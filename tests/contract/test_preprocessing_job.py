"""The preprocess entry point on a tmp /opt/ml tree (SAGEMAKER_BASE_DIR relocates /opt/ml)."""

from __future__ import annotations

import json
import shutil
import signal
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from mpg_core.artifact.files import unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.features import raw_features
from mpg_preprocessing.cli import main


@pytest.fixture
def ml_root(tmp_path: Path, trained) -> Path:
    inputs = tmp_path / "processing" / "input"
    shutil.copytree(trained.bronze, inputs)
    return tmp_path


def run(ml_root: Path, *args: str) -> int:
    return main(list(args), env={"SAGEMAKER_BASE_DIR": str(ml_root)})


def test_writes_features_and_a_preprocessor_fitted_on_train_only(ml_root: Path) -> None:
    assert run(ml_root) == 0
    out = ml_root / "processing" / "output"
    train_raw = pd.read_csv(ml_root / "processing/input/train/train.csv")
    for split in ("train", "validation", "test"):
        features = pd.read_csv(out / "features" / split / f"{split}.csv")
        raw = pd.read_csv(ml_root / f"processing/input/{split}/{split}.csv")
        assert len(features) == len(raw) and features.columns[0] == "mpg"
        assert not features.isna().any().any()
    with tarfile.open(out / "preprocessor" / "model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["artifact.json", "compiled.npz", "estimator.joblib"]
    artifact = load_artifact(
        unpack_model_tarball(out / "preprocessor" / "model.tar.gz", ml_root / "x")
    )
    assert artifact.kind == "preprocessor" and artifact.info["fitted_on_rows"] == len(train_raw)
    # Train statistics only: the imputer's median is train's, not all rows'.
    imputer = (
        artifact.estimator.named_steps["columns"]
        .named_transformers_["numeric"]
        .named_steps["impute"]
    )
    hp_index = list(imputer.feature_names_in_).index("horsepower")
    assert imputer.statistics_[hp_index] == raw_features(train_raw, "t")["horsepower"].median()
    train_features = pd.read_csv(out / "features/train/train.csv")
    assert abs(train_features["weight"].mean()) < 1e-9
    val_features = pd.read_csv(out / "features/validation/validation.csv")
    assert abs(val_features["weight"].mean()) > 1e-6


def test_arguments_override_paths_and_optional_splits(ml_root: Path, tmp_path: Path) -> None:
    shutil.rmtree(ml_root / "processing/input/test")
    custom = tmp_path / "elsewhere"
    assert run(ml_root, "--features", str(custom / "f"), "--preprocessor", str(custom / "p")) == 0
    assert sorted(p.name for p in (custom / "f").iterdir()) == ["train", "validation"]
    assert (custom / "p" / "model.tar.gz").is_file()


def test_features_file_name_template(ml_root: Path) -> None:
    assert run(ml_root, "--features-file", "{split}-features-{host}.csv") == 0
    out = ml_root / "processing" / "output" / "features"
    assert (out / "validation" / "validation-features-algo-1.csv").is_file()
    assert run(ml_root, "--features-file", "{nope}.csv") == 2
    assert "--features-file '{nope}.csv'" in (ml_root / "output" / "failure").read_text()


def test_multi_instance_names_are_host_unique_and_only_the_leader_writes_the_model(
    ml_root: Path,
) -> None:
    config = ml_root / "config"
    config.mkdir()
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]})
    )
    assert run(ml_root) == 0
    out = ml_root / "processing" / "output"
    assert (out / "features/train/train-algo-2.csv").is_file()
    assert not (out / "preprocessor" / "model.tar.gz").exists()


@pytest.mark.parametrize(
    ("break_input", "expected"),
    [
        (
            lambda root: shutil.rmtree(root / "processing/input/train"),
            "DataError: train: input folder",
        ),
        (
            lambda root: (root / "processing/input/train/train.csv").write_text(
                "mpg,cylinders\n1,2\n"
            ),
            "DataError: train: missing column(s)",
        ),
        (
            lambda root: (root / "processing/input/validation/validation.csv").write_text(
                "mpg,cylinders,displacement,horsepower,weight,acceleration,model_year,origin\n"
                "18,eight,307,130,3504,12,70,1\n"
            ),
            "column 'cylinders' has non-numeric values ['eight']",
        ),
        (
            lambda root: (root / "processing/input/train/train.csv").write_text(
                "cylinders,displacement,horsepower,weight,acceleration,model_year,origin\n"
                "8,307,130,3504,12,70,1\n"
            ),
            "column 'mpg' is missing",
        ),
    ],
)
def test_bad_input_leaves_the_reason_and_a_nonzero_exit(
    ml_root: Path, break_input, expected: str
) -> None:
    break_input(ml_root)
    assert run(ml_root) == 3
    for name in ("failure", "message"):  # FailureReason and ExitMessage
        text = (ml_root / "output" / name).read_text()
        assert text.startswith("DataError: ") and expected in text and len(text) <= 1025


def test_stop_signal_is_reported(ml_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def stopped(config):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr("mpg_preprocessing.job.run", stopped)
    try:
        assert run(ml_root) == 143
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert (ml_root / "output/failure").read_text().startswith("JobStopped: stopped by SIGTERM")
