"""Estimators the training job builds around scikit-learn tree ensembles: a forest classifier
whose leaves vote with smoothed class frequencies, a weighted blend of several (ensemble
selection) and a classifier's calibration. They live in the shared package so every image
unpickles them; their answers are what the compiled walk reproduces
(:mod:`mpg_core.artifact.compiler`, :mod:`mpg_core.artifact.blend`).

Regressors answer ``predict``; classifiers ``predict_proba`` in ``classes_`` order (the members
share it: all are fitted on the same labels) and ``predict``, the first most probable class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from mpg_core.artifact.blend import Calibration, blend


def smooth_leaf_votes(forest: Any, leaf_prior: float) -> None:
    """Shrink every leaf's class frequencies ``f`` of a fitted scikit-learn forest classifier
    toward its tree's (the root's), in place: ``(n * f + m * root) / (n + m)`` for a leaf of
    ``n`` (weighted) training rows and ``m = leaf_prior`` (the m-estimate of Provost and
    Domingos' probability estimation trees). A fully grown tree's leaves are pure, so without
    it a forest answers probability 0 for a class none of its leaves saw for the row, and one
    such row of that class costs a log loss of 34."""
    if leaf_prior == 0:
        return
    for estimator in forest.estimators_:
        tree = estimator.tree_
        leaves = tree.children_left == -1
        rows = tree.weighted_n_node_samples[leaves][:, None, None]
        # tree_.value is a view of the tree's own buffer: predict_proba, pickling and the
        # compiler all read the smoothed votes.
        tree.value[leaves] = (rows * tree.value[leaves] + leaf_prior * tree.value[0]) / (
            rows + leaf_prior
        )


class SmoothedForestClassifier(ClassifierMixin, BaseEstimator):
    """A random forest or extra-trees classifier (``forest``, unfitted) fitted, then its leaf
    votes smoothed (:func:`smooth_leaf_votes`); it answers as the fitted forest ``forest_``
    does. ``leaf_prior=0`` is scikit-learn's forest exactly; its default is the
    hyperparameter's (:mod:`mpg_core.hyperparameters`), so none is restated here."""

    def __init__(self, forest: Any, leaf_prior: float) -> None:
        self.forest = forest
        self.leaf_prior = leaf_prior

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SmoothedForestClassifier:
        self.forest_ = clone(self.forest).fit(X, y, sample_weight=sample_weight)
        smooth_leaf_votes(self.forest_, float(self.leaf_prior))
        self.classes_ = self.forest_.classes_
        self.n_features_in_ = self.forest_.n_features_in_
        return self

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.forest_.feature_importances_)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self.forest_.predict_proba(X), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _Blended(BaseEstimator):
    """Built from fitted members: a scikit-learn estimator so that a Pipeline takes it as its
    last step. ``fit`` refits every member on new rows and keeps the weights."""

    def __init__(self, members: Sequence[Any], weights: Sequence[float] | np.ndarray) -> None:
        if not members or len(members) != len(weights):
            raise ValueError("a blend needs one weight per member, and at least one member")
        self.members = tuple(members)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.n_features_in_ = int(members[0].n_features_in_)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _Blended:
        for member in self.members:
            member.fit(X, y, sample_weight=sample_weight)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        parts = ", ".join(
            f"{type(m).__name__}: {w:.3f}" for m, w in zip(self.members, self.weights, strict=True)
        )
        return f"{type(self).__name__}({parts})"


class BlendedRegressor(_Blended):
    """``sum_k weights[k] * members[k].predict(X)``."""

    def predict(self, X: Any) -> np.ndarray:
        outputs = [np.asarray(m.predict(X), dtype=np.float64) for m in self.members]
        return blend(outputs, self.weights)


class BlendedClassifier(_Blended):
    """``sum_k weights[k] * members[k].predict_proba(X)``, then for a binary classifier the
    optional ``calibration``."""

    def __init__(
        self,
        members: Sequence[Any],
        weights: Sequence[float] | np.ndarray,
        calibration: Calibration | None = None,
    ) -> None:
        super().__init__(members, weights)
        self.classes_ = np.asarray(members[0].classes_)
        if any(not np.array_equal(m.classes_, self.classes_) for m in self.members):
            raise ValueError("blend members order their classes differently")
        if calibration is not None and calibration.binary_only and len(self.classes_) != 2:
            raise ValueError(f"{calibration.method} calibration is for binary classifiers")
        self.calibration = calibration

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = blend(
            [np.asarray(m.predict_proba(X), dtype=np.float64) for m in self.members], self.weights
        )
        return proba if self.calibration is None else self.calibration.calibrate(proba)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
