"""The training image's ``evaluate`` as SageMaker Processing runs it: ContainerEntrypoint
["evaluate"], the contract's ContainerArguments, /opt/ml/processing and /opt/ml/output mounted."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mpg_training.model_quality import PREDICTED_VS_ACTUAL_PLOT, REPORT_FILE, RESIDUALS_PLOT
from tests.helpers.images import run_evaluate
from tests.helpers.jobs import PNG_SIGNATURE, processing_tree

pytestmark = pytest.mark.docker


def test_evaluate_in_the_training_image(images, trained, tmp_path: Path) -> None:
    root = processing_tree(tmp_path / "ok", trained.pipeline_dir, trained.bronze / "test")
    result = run_evaluate(images, root)
    assert result.returncode == 0, result.stdout + result.stderr
    out = root / "processing/output/evaluation"
    metrics = json.loads((out / REPORT_FILE).read_text())["regression_metrics"]
    # The image has the host's libraries (one lock): the same numbers as training printed.
    trained_test = json.loads(trained.pipeline_report.read_text())["metrics"]["test"]
    assert metrics["rmse"]["value"] == pytest.approx(trained_test["rmse"], abs=1e-6)
    for plot in (PREDICTED_VS_ACTUAL_PLOT, RESIDUALS_PLOT):
        assert (out / plot).read_bytes().startswith(PNG_SIGNATURE)

    bad = processing_tree(tmp_path / "bad", trained.pipeline_dir, trained.bronze / "test")
    test_csv = bad / "processing/input/test/test.csv"
    pd.read_csv(test_csv).drop(columns=["mpg"]).to_csv(test_csv, index=False)
    failed = run_evaluate(images, bad)
    assert failed.returncode == 3
    assert (bad / "output/message").read_text().startswith("DataError: test: column 'mpg'")
