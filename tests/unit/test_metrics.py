import re

import numpy as np
import pytest

from mpg_core.metrics import (
    METRIC_DEFINITIONS,
    classification_metrics,
    metric_definitions,
    metric_lines,
    regression_metrics,
)


def test_definitions_fit_sagemaker_limits() -> None:
    assert len(METRIC_DEFINITIONS) <= 40
    for definition in metric_definitions("regression"):
        assert len(definition["Name"]) <= 255 and len(definition["Regex"]) <= 500
        assert re.compile(definition["Regex"]).groups == 1


@pytest.mark.parametrize("value", [2.5, -0.25, 1e-7, 123456.0])
def test_every_printed_line_is_read_by_exactly_its_regex(value: float) -> None:
    values = {"mae": value, "rmse": value * 2, "r2": -value}
    for split in ("train", "validation", "test"):
        lines = metric_lines(split, values)
        log = "\n".join(lines)
        for metric, expected in values.items():
            regex = next(d["Regex"] for d in METRIC_DEFINITIONS if d["Name"] == f"{split}:{metric}")
            matches = re.findall(regex, log)
            assert len(matches) == 1
            assert float(matches[0]) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_validation_regex_does_not_match_train_lines() -> None:
    regex = next(d["Regex"] for d in METRIC_DEFINITIONS if d["Name"] == "validation:rmse")
    assert re.search(regex, "train:rmse=1.0") is None


def test_regression_metrics() -> None:
    m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert m["mae"] == pytest.approx(2 / 3)
    assert m["rmse"] == pytest.approx((4 / 3) ** 0.5)
    assert m["r2"] == pytest.approx(1 - 4 / 2)


def test_classification_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    classes = np.array(["a", "b", "c"])
    y = rng.choice(classes, 60)
    proba = rng.random((60, 3))
    proba /= proba.sum(axis=1, keepdims=True)
    m = classification_metrics(y, proba, classes)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert m["accuracy"] == pytest.approx(np.mean(classes[proba.argmax(axis=1)] == y))
    binary = np.array([0, 1])
    yb = rng.choice(binary, 40)
    pb = np.column_stack([1 - proba[:40, 0], proba[:40, 0]])
    assert classification_metrics(yb, pb, binary)["roc_auc"] == pytest.approx(
        roc_auc_score(yb, pb[:, 1])
    )


def test_definitions_cover_both_tasks_and_an_undefined_metric_is_not_printed() -> None:
    names = {d["Name"] for d in METRIC_DEFINITIONS}
    assert {"validation:rmse", "validation:accuracy", "test:roc_auc", "train:log_loss"} <= names
    assert len(METRIC_DEFINITIONS) == 24
    values = {"accuracy": 1.0, "balanced_accuracy": 1.0, "f1_macro": 1.0, "log_loss": 0.1}
    lines = metric_lines("test", {**values, "roc_auc": float("nan")})
    assert lines[0] == "test:accuracy=1.000000" and not any("roc_auc" in x for x in lines)
