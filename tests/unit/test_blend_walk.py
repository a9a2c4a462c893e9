"""The compiled Blend against the scikit-learn-side blends of mpg_core.models: weighted
members of every family, sigmoid, isotonic and temperature calibration, through compiled.npz
and back,
within the parity tolerance (1e-6); and what the compiled form refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpg_core.artifact import compiler, npz, parity
from mpg_core.artifact.blend import Blend, Calibration
from mpg_core.artifact.compiled import CompiledModel, NotCompilable
from mpg_core.hyperparameters import ALGORITHMS, Hyperparameters
from mpg_core.models import BlendedClassifier, BlendedRegressor
from mpg_training.calibration import class_log_loss, fit_calibration, fit_temperature
from mpg_training.estimators import build_estimator


def table(task: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 4))
    score = X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * rng.normal(size=300)
    if task == "regression":
        return X, score
    if task == "binary":
        return X, np.where(score > 0.3, "yes", "no")
    return X, np.digitize(score, [-1.0, 0.0, 1.0])


def members(task: str) -> list[Any]:
    kind = "regression" if task == "regression" else "classification"
    X, y = table(task)
    return [
        build_estimator(kind, Hyperparameters(a, n_estimators=12, random_state=1)).fit(X, y)
        for a in ALGORITHMS
    ]


def assert_parity(estimator: Any, compiled: CompiledModel, rows: np.ndarray) -> None:
    answer = "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
    expected = getattr(estimator, answer)(rows)
    got = compiled.predict(rows)
    if answer == "predict":
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    else:
        assert np.abs(got - expected).max() <= 1e-6


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_a_weighted_blend_of_every_family_walks_as_scikit_learn_blends(
    task: str, tmp_path: Path
) -> None:
    fitted = members(task)
    weights = [0.4, 0.3, 0.2, 0.1]
    blend = (
        BlendedRegressor(fitted, weights)
        if task == "regression"
        else BlendedClassifier(fitted, weights)
    )
    compiled = compiler.compile_estimator("model", blend, ["a", "b", "c", "d"])
    assert isinstance(compiled.forest, Blend) and len(compiled.forest.members) == 4
    rows = parity.random_rows(compiled, 3000)
    assert_parity(blend, compiled, rows)
    npz.save_compiled(tmp_path / "c.npz", compiled)
    assert_parity(blend, npz.load_compiled(tmp_path / "c.npz"), rows)
    checked = parity.compile_checked("model", blend, ["a", "b", "c", "d"], table(task)[0])
    assert checked.max_relative_error <= 1e-6


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "temperature"])
def test_a_calibrated_binary_classifier_walks_with_its_calibration(
    method: str, tmp_path: Path
) -> None:
    fitted = members("binary")[:2]
    X, y = table("binary", seed=9)
    raw = BlendedClassifier(fitted, [0.5, 0.5])
    p = raw.predict_proba(X)[:, 1]
    calibration = fit_calibration(method, p, y == "yes")
    calibrated = BlendedClassifier(fitted, [0.5, 0.5], calibration)
    changed = calibrated.predict_proba(X)[:, 1]
    assert not np.allclose(changed, p)  # the calibration does something
    np.testing.assert_allclose(calibrated.predict_proba(X).sum(axis=1), 1.0)
    compiled = compiler.compile_estimator("model", calibrated, ["a", "b", "c", "d"])
    rows = parity.random_rows(compiled, 3000)
    assert_parity(calibrated, compiled, rows)
    npz.save_compiled(tmp_path / "c.npz", compiled)
    loaded = npz.load_compiled(tmp_path / "c.npz")
    assert isinstance(loaded.forest, Blend) and loaded.forest.calibration is not None
    assert loaded.forest.calibration.method == method
    assert_parity(calibrated, loaded, rows)


def test_a_temperature_calibrated_multiclass_blend_walks_with_its_power(tmp_path: Path) -> None:
    """Forests' averaged votes are under-confident: the power fitted on other rows sharpens
    them (a > 1), lowers their log loss there, keeps every row's class order, and the
    compiled walk answers the same through compiled.npz."""
    fitted = members("multiclass")[:2]
    X, y = table("multiclass", seed=9)
    raw = BlendedClassifier(fitted, [0.5, 0.5])
    proba = raw.predict_proba(X)
    y_index = np.searchsorted(raw.classes_, y)
    calibration = fit_temperature(proba, y_index)
    assert calibration.method == "temperature" and calibration.a != 1.0
    calibrated = BlendedClassifier(fitted, [0.5, 0.5], calibration)
    sharper = calibrated.predict_proba(X)
    assert class_log_loss(y_index, sharper) < class_log_loss(y_index, proba)
    np.testing.assert_allclose(sharper.sum(axis=1), 1.0)
    assert (sharper.argmax(axis=1) == proba.argmax(axis=1)).all()
    compiled = compiler.compile_estimator("model", calibrated, ["a", "b", "c", "d"])
    rows = parity.random_rows(compiled, 3000)
    assert_parity(calibrated, compiled, rows)
    npz.save_compiled(tmp_path / "c.npz", compiled)
    loaded = npz.load_compiled(tmp_path / "c.npz")
    assert isinstance(loaded.forest, Blend) and loaded.forest.calibration is not None
    assert loaded.forest.calibration.method == "temperature"
    assert loaded.forest.calibration.a == calibration.a
    assert_parity(calibrated, loaded, rows)
    # A binary map on three classes is refused by both forms.
    with pytest.raises(ValueError, match="sigmoid calibration is for binary"):
        BlendedClassifier(fitted, [0.5, 0.5], Calibration("sigmoid"))


def test_isotonic_calibration_is_monotone_and_clipped() -> None:
    calibration = Calibration("isotonic", x=np.array([0.2, 0.8]), y=np.array([0.1, 0.9]))
    np.testing.assert_allclose(
        calibration.apply(np.array([0.0, 0.2, 0.5, 0.8, 1.0])), [0.1, 0.1, 0.5, 0.9, 0.9]
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"method": "beta"},
        {"method": "isotonic", "x": np.array([0.5, 0.2]), "y": np.array([0.1, 0.9])},
        {"method": "isotonic", "x": np.array([0.2]), "y": np.array([1.5])},
        {"method": "sigmoid", "a": float("nan")},
        {"method": "temperature", "a": 0.0},
        {"method": "temperature", "a": float("inf")},
    ],
)
def test_a_bad_calibration_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(NotCompilable):
        Calibration(**bad)


def test_a_blend_refuses_members_that_do_not_fit_together() -> None:
    regressor = compiler.compile_forest(members("regression")[0])
    classifier = compiler.compile_forest(members("binary")[0])
    with pytest.raises(NotCompilable):
        Blend((regressor, classifier), np.array([0.5, 0.5]))
    with pytest.raises(NotCompilable):
        Blend((regressor,), np.array([0.5, 0.5]))
    with pytest.raises(NotCompilable, match="calibrated regressor"):
        Blend((regressor,), np.array([1.0]), Calibration("sigmoid"))
