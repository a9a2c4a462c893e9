"""`monitor` (the processing image's command) on a tmp /opt/ml tree: the baseline written by
training, captured held-out traffic with and without a shifted column, ground truth."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mpg_core.monitoring.baseline import CONSTRAINTS_FILE, PREDICTION, STATISTICS_FILE
from tests.helpers.capture_files import held_out, write_capture

MONITOR = str(Path(sys.executable).with_name("monitor"))


def test_training_writes_the_baseline_beside_the_model(trained) -> None:
    stats = json.loads((trained.pipeline_dir / STATISTICS_FILE).read_text())
    names = [f["name"] for f in stats["features"]]
    # The raw columns (from the preprocessing job), then the predictions on validation.
    assert names == [
        "cylinders",
        "displacement",
        "horsepower",
        "weight",
        "acceleration",
        "model_year",
        "origin",
        PREDICTION,
    ]
    horsepower = stats["features"][2]["numerical_statistics"]["common"]
    assert horsepower["num_missing"] > 0  # UCI's '?' rows, as the raw train split has them
    assert stats["features"][-1]["numerical_statistics"]["common"]["num_present"] == 60
    constraints = json.loads((trained.pipeline_dir / CONSTRAINTS_FILE).read_text())
    report = json.loads(trained.pipeline_report.read_text())
    assert constraints["model_quality"]["metrics"] == report["metrics"]["test"]
    # The features -> mpg model takes features: its baseline is theirs.
    model_stats = json.loads((trained.model_dir / STATISTICS_FILE).read_text())
    assert "weight" in [f["name"] for f in model_stats["features"]]
    assert "age" in [f["name"] for f in model_stats["features"]]


def _tree(root: Path, trained, rows: pd.DataFrame) -> list[str]:
    processing = root / "processing"
    shutil.copytree(trained.pipeline_dir, processing / "input/baseline")
    return write_capture(
        trained.pipeline_dir, rows, processing / "input/capture/ep/AllTraffic/2026/12/07/09/c.jsonl"
    )


def _monitor(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = subprocess.run(
        [MONITOR, "--no-metrics", *args],
        env={"SAGEMAKER_BASE_DIR": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = root / "processing/output/report/constraint_violations.json"
    return result, json.loads(out.read_text()) if out.is_file() else {}


@pytest.mark.parametrize(
    ("shift", "flagged"),
    [
        (None, set()),
        ("acceleration", {"acceleration"}),
        ("weight", {"weight"}),
    ],
)
def test_flags_the_shifted_column_and_only_it(tmp_path: Path, trained, shift, flagged) -> None:
    rows = held_out(trained.bronze)
    if shift == "acceleration":
        rows = rows.assign(acceleration=rows["acceleration"] + 4.0)
    elif shift == "weight":
        rows = rows.assign(weight=rows["weight"] * 1.3)
    _tree(tmp_path, trained, rows)
    result, violations = _monitor(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = {v["feature_name"] for v in violations["violations"]}
    assert found == flagged
    assert ("CompletedWithViolations" if flagged else "Completed:") in result.stdout
    report = (tmp_path / "processing/output/report/report.html").read_text()
    assert "<svg" in report and "acceleration" in report
    current = json.loads((tmp_path / "processing/output/report/statistics.json").read_text())
    assert current["dataset"]["item_count"] == len(rows)


def test_ground_truth_measures_quality_against_the_test_metrics(tmp_path: Path, trained) -> None:
    rows = held_out(trained.bronze)
    ids = _tree(tmp_path, trained, rows)
    truth = tmp_path / "processing/input/ground_truth"
    truth.mkdir(parents=True)
    # Honest labels: quality close to the test split's. Then labels 8 mpg off: a violation.
    pd.DataFrame({"inference_id": ids, "mpg": rows["mpg"]}).to_csv(truth / "a.csv", index=False)
    result, violations = _monitor(tmp_path)
    assert result.returncode == 0, result.stderr
    assert violations["violations"] == []
    pd.DataFrame({"inference_id": ids, "mpg": rows["mpg"] + 8}).to_csv(truth / "a.csv", index=False)
    result, violations = _monitor(tmp_path)
    quality = {v["metric_name"] for v in violations["violations"] if "metric_name" in v}
    assert quality == {"mae", "rmse", "r2"}
    assert (
        "Model quality on labelled traffic"
        in (tmp_path / "processing/output/report/report.html").read_text()
    )


def test_a_window_without_traffic_and_a_missing_baseline(tmp_path: Path, trained) -> None:
    _tree(tmp_path, trained, held_out(trained.bronze))
    result, violations = _monitor(
        tmp_path, "--window-end", "2026-12-08T00:00:00Z", "--window-hours", "1"
    )
    assert result.returncode == 0 and violations == {"violations": []}
    (tmp_path / "processing/input/baseline/statistics.json").unlink()
    result, _ = _monitor(tmp_path)
    assert result.returncode != 0
    assert "statistics.json" in (tmp_path / "output/failure").read_text()
