"""quickstart's pure parts: the names derived from a table's file name (two tables side by
side), the fingerprints that decide which steps are reused, the report's metrics and the row
the printed predict command sends."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from mpg_launch.quickstart.steps import (
    csv_row,
    fingerprint,
    leaderboard_lines,
    metric_lines,
    report_metrics,
    step_keys,
)
from mpg_launch.settings import preflight
from mpg_launch.table.remembered import remembered_schema, schema_path, table_name

IMAGES = {"preprocessing": "mpg-preprocessing:h1", "training": "mpg-training:h1"}


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("my data.csv", "my-data"),
        ("Breast_Cancer.csv", "breast-cancer"),
        ("2024 sales.csv", "t-2024-sales"),
        ("___.csv", "t"),
        ("x" * 90 + ".csv", "x" * 40),
    ],
)
def test_a_tables_name_is_a_sagemaker_name_from_its_file_name(file: str, name: str) -> None:
    assert table_name(Path("/data") / file) == name
    preflight.endpoint_name(name, "test")  # deploy's own check: room for its timestamp


def test_two_tables_have_their_own_remembered_schema(tmp_path: Path) -> None:
    first, second = schema_path(tmp_path, Path("a.csv")), schema_path(tmp_path, Path("b.csv"))
    assert first != second and first.parent.parent == second.parent.parent
    assert remembered_schema(tmp_path, Path("a.csv")) is None
    first.parent.mkdir(parents=True)
    first.write_text("target = 'y'\n")
    assert remembered_schema(tmp_path, Path("elsewhere/a.csv")) == first


def test_each_step_is_keyed_on_its_inputs_only() -> None:
    base = step_keys(b"x,y\n1,2\n", b"schema", 42, IMAGES, {})
    assert base == step_keys(b"x,y\n1,2\n", b"schema", 42, IMAGES, {})
    other_table = step_keys(b"x,y\n1,3\n", b"schema", 42, IMAGES, {})
    assert len({base.data, other_table.data}) == 2 and other_table.train != base.train
    other_seed = step_keys(b"x,y\n1,2\n", b"schema", 7, IMAGES, {})
    assert other_seed.data != base.data
    tuned = step_keys(b"x,y\n1,2\n", b"schema", 42, IMAGES, {"n_estimators": "50"})
    assert (tuned.data, tuned.preprocess) == (base.data, base.preprocess)
    assert tuned.train != base.train  # only training (and evaluation) run again
    retrained = step_keys(b"x,y\n1,2\n", b"schema", 42, {**IMAGES, "training": "t:2"}, {})
    assert retrained.preprocess == base.preprocess and retrained.train != base.train
    assert base.job("diabetes", "prep").startswith("diabetes-prep-")
    assert base.job("diabetes", "train")[-8:] == base.job("diabetes", "eval")[-8:]
    assert fingerprint("ab", "c") != fingerprint("a", "bc")


def test_the_reports_scalar_metrics_are_printed_curves_and_matrices_left_out() -> None:
    report = {
        "binary_classification_metrics": {
            "confusion_matrix": {"a": {"a": 3}},
            "accuracy": {"value": 0.9, "standard_deviation": 0.01},
            "receiver_operating_characteristic_curve": {"false_positive_rates": [0.0]},
        },
        "classification_metrics": {
            "accuracy": {"value": 0.9},
            "balanced_accuracy": {"value": 0.85},
        },
    }
    metrics = report_metrics(report)
    assert metrics == {"accuracy": 0.9, "balanced_accuracy": 0.85}
    assert metric_lines({"rmse": 56.14134}) == ["test rmse = 56.1413"]


def test_the_row_reads_back_as_the_tables_values() -> None:
    values = [59.0, "male", None, 'a "quoted", text']
    line = csv_row(values)
    assert "\n" not in line
    assert next(csv.reader(io.StringIO(line))) == ["59.0", "male", "", 'a "quoted", text']


def test_the_leaderboard_kept_by_the_training_job_prints_as_its_log_does() -> None:
    selection = {
        "metric": "rmse",
        "judged_on": "validation rows",
        "chosen": "ensemble",
        "leaderboard": [
            {
                "model": "ensemble",
                "judged": {"rmse": 2.41234567},
                "validation": {"rmse": 2.5},
                "fit_seconds": 0.1234,
                "size_bytes": 20480,
                "serve_us_per_row": None,  # JSON's null: the job measured none
            },
            {
                "model": "random_forest",
                "judged": {"rmse": 2.6},
                "validation": {},
                "fit_seconds": 1.5,
                "size_bytes": 512,
                "serve_us_per_row": 3.21,
            },
        ],
    }
    title, header, first, second = leaderboard_lines(selection)
    assert title == "leaderboard (chosen by rmse on validation rows):"
    words = ["model", "judged", "rmse", "valid", "rmse", "fit", "s", "size", "KB", "µs/row"]
    assert header.split() == words
    assert first.split() == ["ensemble", "2.412346", "2.500000", "0.12", "20", "nan", "*"]
    assert second.split() == ["random_forest", "2.600000", "nan", "1.50", "0", "3.2"]
    assert len({len(header), len(second)}) == 1  # the columns line up
    assert leaderboard_lines(None) == leaderboard_lines({"leaderboard": []}) == []


def test_the_leaderboard_reads_as_the_training_jobs_own_table() -> None:
    """From the rows the job keeps (``Candidate.row``, through JSON), the lines its log prints
    (``Selection.table``), chosen mark and all."""
    import json

    import numpy as np

    from mpg_training.selection import Candidate, Selection

    def candidate(name: str, loss: float, valid: dict[str, float], us: float) -> Candidate:
        return Candidate(
            name, None, np.zeros(1), {"log_loss": loss}, 0.25, 40_960, us, validation_metrics=valid
        )

    board = [
        candidate("extra_trees", 0.31, {"log_loss": 0.33}, 12.5),
        candidate("random_forest", 0.12, {"log_loss": 0.14}, 8.25),
        candidate("hist_gradient_boosting", 0.2, {}, 30.0),
    ]
    selection = Selection(board[1], board, "log_loss", judged_on="5-fold cross-validation")
    kept = {
        "metric": selection.metric,
        "judged_on": selection.judged_on,
        "chosen": selection.chosen.name,
        "leaderboard": [c.row() for c in sorted(board, key=lambda c: c.metrics["log_loss"])],
    }
    lines = leaderboard_lines(json.loads(json.dumps(kept)))
    assert lines[0] == "leaderboard (chosen by log_loss on 5-fold cross-validation):"
    assert lines[1:] == selection.table().splitlines()
