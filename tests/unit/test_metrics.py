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
            regex = next(
                d["Regex"] for d in METRIC_DEFINITIONS if d["Name"] == f"{split}:{metric}"
            )
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
