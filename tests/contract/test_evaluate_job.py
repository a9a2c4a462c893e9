"""The evaluate entry point on a tmp /opt/ml tree, with the session's trained pipeline artifact
packed the way a training job uploads it (model.tar.gz)."""

from __future__ import annotations

import io
import json
import math
import shutil
import signal
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mpg_core.artifact.files import MODEL_TARBALL, pack_model_tarball
from mpg_launch.pipeline.parameters import NO_APPROVED_MODEL_README, NO_APPROVED_MODEL_TEXT
from mpg_training.evaluate import main
from mpg_training.model_quality import (
    PREDICTED_VS_ACTUAL_PLOT,
    REPORT_FILE,
    RESIDUALS_PLOT,
)
from tests.helpers.jobs import processing_tree

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """main() installs the job's stop handlers in this process; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run(root: Path, *args: str) -> int:
    return main(
        [
            f"--model={root}/processing/input/model",
            f"--test={root}/processing/input/test",
            f"--report={root}/processing/output/evaluation",
            *args,
        ],
        env={"SAGEMAKER_BASE_DIR": str(root)},
    )


def report_of(root: Path) -> dict:
    return json.loads((root / "processing/output/evaluation" / REPORT_FILE).read_text())


def failure_of(root: Path) -> str:
    return (root / "output" / "failure").read_text()


def test_metrics_are_the_ones_training_printed_for_test(tmp_path: Path, trained) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    assert run(root) == 0
    metrics = report_of(root)["regression_metrics"]
    assert sorted(metrics) == ["mae", "mse", "r2", "rmse"]
    # Same model, same 60 rows: raw rows through the artifact give what training measured on
    # the preprocessed features.
    trained_test = json.loads(trained.pipeline_report.read_text())["metrics"]["test"]
    for name in ("mae", "rmse", "r2"):
        assert metrics[name]["value"] == pytest.approx(trained_test[name], abs=1e-6), name
    assert metrics["mse"]["value"] == pytest.approx(trained_test["rmse"] ** 2, rel=1e-9)
    for name, entry in metrics.items():
        assert set(entry) == {"value", "standard_deviation"}
        assert math.isfinite(entry["standard_deviation"]) and entry["standard_deviation"] > 0, name
    # 80% samples of one split move RMSE by a fraction of itself, not by multiples.
    assert metrics["rmse"]["standard_deviation"] < 0.5 * metrics["rmse"]["value"]
    assert not (root / "output" / "failure").exists()


def test_the_report_is_reproducible(tmp_path: Path, trained) -> None:
    first = processing_tree(tmp_path / "a", trained.pipeline_dir, trained.bronze / "test")
    second = processing_tree(tmp_path / "b", trained.pipeline_dir, trained.bronze / "test")
    assert run(first) == 0 and run(second) == 0
    assert report_of(first) == report_of(second)


@pytest.mark.parametrize("name", [PREDICTED_VS_ACTUAL_PLOT, RESIDUALS_PLOT])
def test_plots_are_real_pngs(tmp_path: Path, trained, name: str) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    assert run(root) == 0
    data = (root / "processing/output/evaluation" / name).read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # decodes every pixel: a truncated file fails here
        assert image.format == "PNG" and image.width >= 400 and image.height >= 300
        # Something is drawn: a blank canvas has one colour.
        assert len(np.unique(np.asarray(image.convert("L")))) > 10


def test_an_extracted_artifact_folder_is_read_too(tmp_path: Path, trained) -> None:
    root = tmp_path
    shutil.copytree(trained.pipeline_dir, root / "processing/input/model")
    shutil.copytree(trained.bronze / "test", root / "processing/input/test")
    assert run(root) == 0
    assert report_of(root)["regression_metrics"]["rmse"]["value"] > 0


def _without_mpg(test_dir: Path) -> None:
    path = test_dir / "test.csv"
    pd.read_csv(path).drop(columns=["mpg"]).to_csv(path, index=False)


def _header_only(test_dir: Path) -> None:
    path = test_dir / "test.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")


def _missing_mpg_value(test_dir: Path) -> None:
    path = test_dir / "test.csv"
    frame = pd.read_csv(path)
    frame.loc[3, "mpg"] = None
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("spoil", "code", "expected"),
    [
        (_without_mpg, 3, "DataError: test: column 'mpg' is missing"),
        (_header_only, 3, "DataError: test: "),
        (_missing_mpg_value, 3, "DataError: test: column 'mpg' has missing values"),
    ],
)
def test_bad_test_split_fails_with_the_reason(
    tmp_path: Path, trained, spoil, code: int, expected: str
) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    spoil(root / "processing/input/test")
    assert run(root) == code
    assert failure_of(root).startswith(expected)
    if spoil is _header_only:
        assert "holds no rows" in failure_of(root)
    # Processing shows /opt/ml/output/message as the job's ExitMessage.
    assert (root / "output/message").read_text() == failure_of(root)
    assert not (root / "processing/output/evaluation" / REPORT_FILE).exists()


def test_no_model_input(tmp_path: Path, trained) -> None:
    shutil.copytree(trained.bronze / "test", tmp_path / "processing/input/test")
    assert run(tmp_path) == 2
    assert failure_of(tmp_path).startswith("ConfigError: model input ")
    assert "does not exist" in failure_of(tmp_path)


@pytest.mark.parametrize("artifact", ["model_dir", "preprocessor_dir"])
def test_an_artifact_that_does_not_take_raw_rows_to_mpg_is_refused(
    tmp_path: Path, trained, artifact: str
) -> None:
    root = processing_tree(tmp_path, getattr(trained, artifact), trained.bronze / "test")
    assert run(root) == 2
    assert "evaluate needs a 'pipeline' artifact" in failure_of(root)


def test_a_model_tarball_that_is_not_an_artifact_is_refused(tmp_path: Path, trained) -> None:
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "weights.bin").write_bytes(b"\0" * 16)
    root = processing_tree(tmp_path / "ml", stray, trained.bronze / "test")
    assert run(root) == 2
    assert failure_of(root).startswith("ConfigError: no artifact.json in ")


def test_a_tarball_escaping_its_folder_is_refused(tmp_path: Path, trained) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    tarball = root / "processing/input/model" / MODEL_TARBALL
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    assert run(root) == 2
    assert "refusing to extract '../escape.txt'" in failure_of(root)


@pytest.fixture(scope="module")
def weak_pipeline(tmp_path_factory: pytest.TempPathFactory, trained) -> Path:
    """A one-stump forest on the same features: better than the mean, worse than ``trained``."""
    from mpg_core.hyperparameters import Hyperparameters
    from mpg_training.job import TrainConfig
    from mpg_training.job import run as train

    root = tmp_path_factory.mktemp("weak")
    channels = {s: trained.features / s for s in ("train", "validation", "test")}
    train(
        TrainConfig(
            channels={**channels, "preprocessor": trained.preprocessor_tarball.parent},
            model_dir=root / "pipeline",
            output_data_dir=root / "out",
            hyperparameters=Hyperparameters("random_forest", n_estimators=1, max_depth=2),
        )
    )
    return root / "pipeline"


def approved_input(root: Path, artifact_dir: Path) -> str:
    """The approved version's model.tar.gz where the Evaluate step's 'approved' input puts it."""
    folder = root / "processing/input/approved"
    folder.mkdir(parents=True)
    pack_model_tarball(artifact_dir, folder / MODEL_TARBALL)
    return f"--approved-model={folder}"


def test_the_gate_beats_the_baseline_by_default(tmp_path: Path, trained) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    assert run(root) == 0
    gate = report_of(root)["gate"]
    assert gate["passed"] is True and gate["decided_by"] == "all"
    assert [c["check"] for c in gate["checks"]] == ["baseline"]
    assert gate["reason"].startswith("passed every check: rmse ")


def test_the_gate_applies_the_pipelines_absolute_threshold(tmp_path: Path, trained) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    assert run(root, "--absolute-threshold=1.0") == 0
    gate = report_of(root)["gate"]
    rmse = report_of(root)["regression_metrics"]["rmse"]["value"]
    assert gate["passed"] is False and gate["decided_by"] == "absolute"
    assert gate["reason"] == (
        f"failed the absolute check: rmse {rmse:.6g} not <= 1 (rmse at most 1)"
    )
    assert run(root, "--absolute-threshold=") == 0  # the empty value: no threshold
    assert report_of(root)["gate"]["passed"] is True
    # 0, the pipeline's default for a user's own table, is no threshold too.
    assert run(root, "--absolute-threshold=0") == 0
    gate = report_of(root)["gate"]
    assert gate["passed"] is True and "absolute" not in [c["check"] for c in gate["checks"]]


def test_the_gate_refuses_a_model_worse_than_the_approved_version(
    tmp_path: Path, trained, weak_pipeline: Path
) -> None:
    root = processing_tree(tmp_path, weak_pipeline, trained.bronze / "test")
    assert run(root, approved_input(root, trained.pipeline_dir)) == 0
    report = report_of(root)
    gate = report["gate"]
    assert gate["passed"] is False and gate["decided_by"] == "approved"
    assert [c["check"] for c in gate["checks"]] == ["baseline", "approved"]
    assert gate["checks"][0]["passed"] is True  # better than the mean, not good enough
    # The approved version scored on the same rows: what training measured for it.
    theirs = json.loads(trained.pipeline_report.read_text())["metrics"]["test"]
    assert gate["approved"]["metrics"]["rmse"] == pytest.approx(theirs["rmse"], abs=1e-6)
    assert report["regression_metrics"]["rmse"]["value"] > theirs["rmse"]


def test_the_gate_passes_a_model_no_worse_than_the_approved_version(
    tmp_path: Path, trained, weak_pipeline: Path
) -> None:
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    assert run(root, approved_input(root, weak_pipeline)) == 0
    gate = report_of(root)["gate"]
    assert gate["passed"] is True and gate["decided_by"] == "all"
    assert [c["check"] for c in gate["checks"]] == ["baseline", "approved"]


@pytest.mark.parametrize("holds", ["readme", "test-split"])
def test_an_approved_input_without_a_model_means_no_comparison(
    tmp_path: Path, trained, holds: str
) -> None:
    """The pipeline's default ApprovedModelData holds only the launcher's "no approved model"
    README (what `pipeline upsert` writes); a prefix of data (a stored pipeline from before
    that README, whose default was the test split) holds no model either."""
    root = processing_tree(tmp_path, trained.pipeline_dir, trained.bronze / "test")
    approved = root / "processing/input/approved"
    if holds == "readme":
        approved.mkdir(parents=True)
        (approved / NO_APPROVED_MODEL_README).write_text(NO_APPROVED_MODEL_TEXT)
    else:
        shutil.copytree(trained.bronze / "test", approved)
    assert run(root, f"--approved-model={approved}") == 0
    assert [c["check"] for c in report_of(root)["gate"]["checks"]] == ["baseline"]
