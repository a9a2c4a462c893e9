"""A forest classifier's smoothed leaf votes (mpg_core.models.SmoothedForestClassifier, the
``leaf_prior`` hyperparameter): no class gets probability 0, ``leaf_prior=0`` is
scikit-learn's forest exactly, and the compiled walk, pickling and refitting keep the
smoothing."""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from mpg_core.artifact import compiler, npz, parity
from mpg_core.errors import ConfigError
from mpg_core.hyperparameters import Hyperparameters
from mpg_core.models import SmoothedForestClassifier
from mpg_training.estimators import build_estimator
from mpg_training.selection import refit

FAMILIES = {"random_forest": RandomForestClassifier, "extra_trees": ExtraTreesClassifier}


def separable(classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose classes a tree separates perfectly: every leaf of a full tree is pure."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(240, 3))
    y = np.digitize(X[:, 0], np.linspace(-0.6, 0.6, classes - 1))
    return X, y


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_scikit_learns_forest_answers_zero_and_the_smoothed_one_does_not(family: str) -> None:
    X, y = separable(3)
    far = np.array([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])  # deep inside the first and last class
    plain = build_estimator("classification", Hyperparameters(family, leaf_prior=0)).fit(X, y)
    smoothed = build_estimator("classification", Hyperparameters(family)).fit(X, y)
    assert isinstance(smoothed, SmoothedForestClassifier) and smoothed.leaf_prior == 0.1
    assert (plain.predict_proba(far) == 0).any()
    proba = smoothed.predict_proba(X)
    assert proba.min() > 0 and smoothed.predict_proba(far).min() > 0
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The smoothing softens; it does not reorder: the labels are the forest's.
    np.testing.assert_array_equal(smoothed.predict(X), plain.predict(X))
    assert smoothed.predict_proba(far).max() < plain.predict_proba(far).max()


def test_a_heavier_prior_softens_more() -> None:
    X, y = separable(2)
    top = [
        build_estimator("classification", Hyperparameters("random_forest", leaf_prior=m))
        .fit(X, y)
        .predict_proba(X)
        .max()
        for m in (0.5, 1.0, 4.0)
    ]
    assert top[0] > top[1] > top[2]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_leaf_prior_zero_is_scikit_learns_forest(family: str) -> None:
    X, y = separable(3)
    ours = SmoothedForestClassifier(FAMILIES[family](n_estimators=20, random_state=3), 0.0)
    theirs = FAMILIES[family](n_estimators=20, random_state=3)
    np.testing.assert_array_equal(
        ours.fit(X, y).predict_proba(X), theirs.fit(X, y).predict_proba(X)
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("classes", [2, 4])
def test_the_compiled_walk_answers_the_smoothed_votes(
    family: str, classes: int, tmp_path: Path
) -> None:
    X, y = separable(classes, seed=classes)
    weights = np.where(y == 0, 3.0, 1.0)  # weighted rows: the leaf's n is a weight
    model = build_estimator(
        "classification", Hyperparameters(family, n_estimators=15, leaf_prior=2.5)
    ).fit(X, y, sample_weight=weights)
    compiled = compiler.compile_estimator("model", model, ["a", "b", "c"])
    rows = parity.random_rows(compiled, 2000)
    assert np.abs(compiled.predict(rows) - model.predict_proba(rows)).max() <= 1e-6
    npz.save_compiled(tmp_path / "c.npz", compiled)
    loaded = npz.load_compiled(tmp_path / "c.npz")
    assert np.abs(loaded.predict(rows) - model.predict_proba(rows)).max() <= 1e-6
    assert loaded.predict(rows).min() > 0


def test_pickling_cloning_and_refitting_keep_the_smoothing() -> None:
    X, y = separable(3)
    model = build_estimator("classification", Hyperparameters("random_forest")).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    # (the forest adds its trees' votes on threads: equal to the last bits, not bit for bit)
    np.testing.assert_allclose(joblib.load(buffer).predict_proba(X), model.predict_proba(X))
    for again in (clone(model).fit(X, y), refit(model, X, y)):
        assert isinstance(again, SmoothedForestClassifier)
        np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X))


def test_leaf_prior_is_a_forest_classifiers_setting() -> None:
    assert Hyperparameters("extra_trees").leaf_prior == 0.1
    assert Hyperparameters(leaf_prior=3).for_family("random_forest").leaf_prior == 3.0
    hgb = Hyperparameters(leaf_prior=3).for_family("hist_gradient_boosting")
    assert "leaf_prior" not in hgb.as_dict()
    with pytest.raises(ConfigError, match="leaf_prior does not apply to algorithm"):
        Hyperparameters("hist_gradient_boosting", leaf_prior=1)
    with pytest.raises(ConfigError, match=r"leaf_prior=-1.*\[0, 1e\+06\]"):
        Hyperparameters("random_forest", leaf_prior=-1)
    # A regression forest has no class votes: the setting leaves it scikit-learn's.
    regressor = build_estimator("regression", Hyperparameters("random_forest", leaf_prior=5))
    assert type(regressor).__name__ == "RandomForestRegressor"
    assert "leaf_prior" not in Hyperparameters("random_forest").sklearn_params()
