"""The monitoring baseline's format and the drift tests, on synthetic columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mpg_core.errors import ConfigError
from mpg_core.monitoring.baseline import (
    BINS,
    PREDICTION,
    SAMPLE_SIZE,
    constraints_for,
    level_counts,
    parse_baseline,
    table_statistics,
    with_predictions,
)
from mpg_core.monitoring.drift import categorical_drift, column_drift, numeric_drift, psi


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    weight = rng.normal(3000, 500, n)
    weight[:5] = np.nan
    return pd.DataFrame(
        {
            "weight": weight,
            "cylinders": rng.choice([4.0, 6.0, 8.0], n, p=[0.5, 0.3, 0.2]),
            "colour": rng.choice(["red", "blue"], n),
        }
    )


@pytest.fixture
def baseline_parts() -> tuple[dict, dict]:
    rng = np.random.default_rng(1)
    frame = _frame(rng, 2000)
    stats = table_statistics(frame, ["weight", "cylinders", "colour"], ["cylinders", "colour"])
    stats = with_predictions(stats, rng.normal(20, 5, 500), classification=False)
    return stats, constraints_for(stats, "regression", {"rmse": 2.0, "r2": 0.9}, "test")


def test_statistics_follow_model_monitors_shape(baseline_parts: tuple[dict, dict]) -> None:
    stats, constraints = baseline_parts
    assert stats["version"] == 0 and stats["dataset"] == {"item_count": 2000}
    weight, cylinders, colour, prediction = stats["features"]
    numbers = weight["numerical_statistics"]
    assert weight["inferred_type"] == "Fractional"
    assert numbers["common"] == {"num_present": 1995, "num_missing": 5}
    buckets = numbers["distribution"]["histogram"]["buckets"]
    assert len(buckets) == BINS and sum(b["count"] for b in buckets) == 1995
    assert len(numbers["distribution"]["sample"]) == SAMPLE_SIZE
    assert numbers["min"] <= numbers["distribution"]["quantiles"]["0.5"] <= numbers["max"]
    levels = cylinders["string_statistics"]["distribution"]["categorical"]["buckets"]
    # 4.0 in the table is the level "4", as a CSV row at the endpoint spells it.
    assert [b["value"] for b in levels] == ["4", "6", "8"]
    assert cylinders["inferred_type"] == "Integral" and colour["inferred_type"] == "String"
    assert prediction["name"] == PREDICTION and prediction["role"] == "prediction"
    assert constraints["features"][1]["string_constraints"]["domains"] == ["4", "6", "8"]
    assert constraints["features"][0]["completeness"] == pytest.approx(1995 / 2000)
    quality = constraints["model_quality"]["constraints"]
    assert quality["rmse"]["comparison_operator"] == "GreaterThanThreshold"
    assert quality["r2"] == {
        "threshold": pytest.approx(0.72),
        "comparison_operator": "LessThanThreshold",
    }


def test_same_distribution_does_not_drift_a_shifted_one_does(
    baseline_parts: tuple[dict, dict],
) -> None:
    baseline = parse_baseline(*baseline_parts, "test")
    weight = baseline.columns[0]
    rng = np.random.default_rng(2)
    same = numeric_drift(weight, rng.normal(3000, 500, 300))
    shifted = numeric_drift(weight, rng.normal(3600, 500, 300))
    assert same.drift_score < 0.05 and same.p_value > 0.01
    assert shifted.drift_score > 0.5 and shifted.p_value < 1e-6
    assert sum(same.current_shares) == pytest.approx(1.0)


def test_categories_new_levels_and_missing_rates(baseline_parts: tuple[dict, dict]) -> None:
    baseline = parse_baseline(*baseline_parts, "test")
    cylinders = baseline.columns[1]
    traffic = pd.Series(["4", "4", "6", "8", "5", "5", None, "?"] * 50)
    d = categorical_drift(cylinders, traffic)
    assert d.new_levels == ("5",)
    assert d.new_level_share == pytest.approx(2 / 6)
    assert d.missing_rate == pytest.approx(0.25) and d.baseline_missing_rate == 0.0
    assert d.p_value == 0.0 and d.drift_score > 0.2
    same = column_drift(cylinders, pd.Series(np.repeat([4.0, 6.0, 8.0], [250, 150, 100])))
    assert same.new_level_share == 0.0 and same.p_value > 0.5 and same.drift_score == 0.0


def test_psi_and_level_counts() -> None:
    assert psi(np.array([50.0, 50.0]), np.array([50.0, 50.0])) == 0.0
    assert psi(np.array([90.0, 10.0]), np.array([10.0, 90.0])) > 1.0
    counts, missing = level_counts(pd.Series([" a", "a", "?", "", None, "b"]))
    assert counts.to_dict() == {"a": 2, "b": 1} and missing == 3


def test_thresholds_overrides_file_then_defaults(baseline_parts: tuple[dict, dict]) -> None:
    stats, constraints = baseline_parts
    constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.3
    baseline = parse_baseline(stats, constraints, "test")
    assert baseline.thresholds()["comparison_threshold"] == 0.3
    assert baseline.thresholds({"comparison_threshold": 0.5})["comparison_threshold"] == 0.5
    assert parse_baseline(stats, None, "t").thresholds()["comparison_threshold"] == 0.2
    with pytest.raises(ConfigError):
        parse_baseline({"version": 1, "features": []}, None, "old")
