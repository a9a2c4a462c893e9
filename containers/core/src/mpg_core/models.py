"""Estimators the training job builds from fitted scikit-learn tree ensembles: a weighted
blend of several (ensemble selection) and a classifier's calibration. They live in the
shared package so every image unpickles them; their answers are what
:mod:`mpg_core.artifact.blend` reproduces on the compiled walk.

Regressors answer ``predict``; classifiers ``predict_proba`` in ``classes_`` order (the members
share it: all are fitted on the same labels) and ``predict``, the first most probable class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from mpg_core.artifact.blend import Calibration, blend


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
