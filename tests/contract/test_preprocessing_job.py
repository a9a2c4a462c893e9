"""The preprocess entry point on a tmp /opt/ml tree (SAGEMAKER_BASE_DIR relocates /opt/ml)."""

from __future__ import annotations

import shutil
import signal
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpg_core.artifact.files import unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.features import raw_features
from mpg_core.schema import FEATURES
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
        (  # really missing, beside columns spelt the article's way: named in canonical form
            lambda root: (root / "processing/input/train/train.csv").write_text(
                "MPG,Cylinders,Displacement,Horsepower,Weight,Acceleration,Year,Origin\n"
                "18,8,307,130,3504,12,70,1\n"
            ),
            "train: missing column(s) ['model_year'] in train.csv; found ['mpg', 'cylinders', "
            "'displacement', 'horsepower', 'weight', 'acceleration', 'year', 'origin']",
        ),
        (  # one shard of several lacks a column: an error, not NaN for the imputers to fill
            lambda root: (root / "processing/input/validation/more.csv").write_text(
                "mpg,cylinders,displacement,horsepower,weight,acceleration,origin\n"
                "18,8,307,130,3504,12,1\n"
            ),
            "validation: missing column(s) ['model_year'] in more.csv",
        ),
        (
            lambda root: (root / "processing/input/train/train.csv").write_text(
                "mpg,cylinders,displacement,horsepower,weight,acceleration,model year,origin,"
                "Model_Year\n18,8,307,130,3504,12,70,1,71\n"
            ),
            "train: train.csv: ambiguous columns: 'model year' and 'Model_Year' are the same "
            "column 'model_year'",
        ),
        (
            lambda root: (root / "processing/input/test/test.csv").write_text(
                "mpg,cylinders,displacement,horsepower,weight,acceleration,model_year,origin,"
                "car name,Car_Name\n18,8,307,130,3504,12,70,1,a,b\n"
            ),
            "test: test.csv: ambiguous columns: 'car name' and 'Car_Name'",
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


# --- the inputs people have: the article's headers, extra columns, the UCI file itself ------

ARTICLE_NAMES = {  # the seed article's spellings, and the mixed case spreadsheets give
    "mpg": "MPG",
    "cylinders": "Cylinders",
    "displacement": " displacement ",
    "horsepower": "HorsePower",
    "weight": "weight",
    "acceleration": "Acceleration",
    "model_year": "model year",
    "origin": "Origin",
    "car_name": "car name",
}


def features_of(root: Path) -> dict[str, pd.DataFrame]:
    out = root / "processing/output/features"
    return {s: pd.read_csv(out / s / f"{s}.csv") for s in ("train", "validation", "test")}


def test_article_header_spellings_and_extra_columns_give_the_same_features(
    ml_root: Path, tmp_path: Path
) -> None:
    assert run(ml_root) == 0
    expected = features_of(ml_root)
    article = tmp_path / "article"
    for split in ("train", "validation", "test"):
        raw = pd.read_csv(ml_root / f"processing/input/{split}/{split}.csv")
        raw = raw.rename(columns=ARTICLE_NAMES)[list(reversed(ARTICLE_NAMES.values()))]
        raw.insert(0, "id", range(len(raw)))  # an extra column, ignored
        path = article / f"processing/input/{split}/{split}.csv"
        path.parent.mkdir(parents=True)
        raw.to_csv(path, index=False)
        assert "model year" in path.read_text().splitlines()[0]
    assert run(article) == 0
    for split, frame in features_of(article).items():
        pd.testing.assert_frame_equal(frame, expected[split], check_exact=True)


@pytest.mark.parametrize("name", ["auto-mpg.data", "auto-mpg.csv"])
def test_the_whole_uci_file_as_train_is_fitted_on_as_given(
    ml_root: Path, tmp_path: Path, name: str
) -> None:
    """The raw UCI file (or a headerless CSV of it) as the train input: the job fits on all of
    it; splitting, when wanted, is the user's to do before."""
    from importlib import resources

    from mpg_core.dataset import load_auto_mpg
    from mpg_core.features import build_preprocessor

    for split in ("train", "validation", "test"):
        shutil.rmtree(ml_root / "processing/input" / split)
    train = ml_root / "processing/input/train"
    train.mkdir()
    bundled = resources.files("mpg_core").joinpath("data/auto-mpg.data")
    if name.endswith(".data"):
        (train / name).write_bytes(bundled.read_bytes())
    else:
        load_auto_mpg().to_csv(train / name, header=False, index=False)
    assert run(ml_root) == 0

    out = ml_root / "processing/output"
    assert sorted(p.name for p in (out / "features").iterdir()) == ["train"]
    features = pd.read_csv(out / "features/train/train.csv")
    uci = load_auto_mpg()
    assert len(features) == len(uci) == 398
    expected = build_preprocessor().fit_transform(raw_features(uci, "uci"))
    np.testing.assert_allclose(features.drop(columns=["mpg"]).to_numpy(), expected, rtol=1e-9)
    np.testing.assert_array_equal(features["mpg"], uci["mpg"])
    artifact = load_artifact(
        unpack_model_tarball(out / "preprocessor" / "model.tar.gz", tmp_path / "x")
    )
    assert artifact.info["fitted_on_rows"] == 398
    assert tuple(artifact.input_columns) == FEATURES
