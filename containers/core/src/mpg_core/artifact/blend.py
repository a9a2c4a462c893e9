"""The compiled model head beyond one forest: a :class:`Blend` of member forests with stored
weights, and an optional :class:`Calibration` of the blended probabilities. numpy
only, like :mod:`mpg_core.artifact.compiled`: the serving image imports it at start-up.

A Blend has the interface :class:`~mpg_core.artifact.compiled.Forest` has where the rest of the
compiled form reads it (``predict``, ``n_features``, ``is_classifier``, ``n_outputs``), so
``CompiledModel.forest`` holds either. Its answer is
``sum_k weights[k] * members[k].predict(features)`` (a regressor's values or a classifier's
class probabilities, member order), then for a calibrated classifier
:meth:`Calibration.calibrate` (a binary one's second-class probability through a sigmoid or
isotonic map; any classifier's through a temperature).

The picklable estimators it reproduces are :mod:`mpg_core.models`' (they call the same
:meth:`Calibration.apply`, so the two agree to the members' own rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mpg_core.artifact.compiled import Forest, NotCompilable

CALIBRATIONS = ("sigmoid", "isotonic", "temperature")
# Probabilities are clipped this far from 0 and 1 before the sigmoid's logit (a forest's leaf
# may say 0 or 1 exactly).
_EPS = 1e-12


@dataclass(frozen=True)
class Calibration:
    """A map of a classifier's probabilities to calibrated ones.

    Binary classifiers, on the second class's probability ``p``: ``sigmoid`` (Platt scaling on
    the logit): ``1 / (1 + exp(-(a * logit(p) + b)))``; ``isotonic``: a non-decreasing
    step-line through the knots (``np.interp`` over ``x``, ``y``; clipped at both ends, as
    scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``).
    Any classifier: ``temperature``, every class's probability raised to the power ``a`` and
    the row normalised (``softmax(a * log p)``; a > 1 sharpens the under-confident averages of
    a forest, a < 1 softens); the order of the classes never changes."""

    method: str
    a: float = 1.0
    b: float = 0.0
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.method not in CALIBRATIONS:
            raise NotCompilable(f"unknown calibration {self.method!r}")
        if self.method == "sigmoid" and not (np.isfinite(self.a) and np.isfinite(self.b)):
            raise NotCompilable("sigmoid calibration with a non-finite coefficient")
        if self.method == "temperature" and not (np.isfinite(self.a) and self.a > 0):
            raise NotCompilable("temperature calibration needs a finite power above 0")
        if self.method == "isotonic" and not (
            len(self.x) == len(self.y) >= 1
            and np.isfinite(self.x).all()
            and (np.diff(self.x) >= 0).all()
            and ((self.y >= 0) & (self.y <= 1)).all()
        ):
            raise NotCompilable("isotonic calibration knots are not increasing probabilities")

    @property
    def binary_only(self) -> bool:
        return self.method != "temperature"

    def apply(self, p: np.ndarray) -> np.ndarray:
        """A binary classifier's second-class probabilities ``p``, calibrated."""
        if self.method == "temperature":
            return self.calibrate(np.column_stack([1.0 - p, p]))[:, 1]
        if self.method == "isotonic":
            return np.interp(p, self.x, self.y)
        q = np.clip(p, _EPS, 1.0 - _EPS)
        return 1.0 / (1.0 + np.exp(-(self.a * np.log(q / (1.0 - q)) + self.b)))

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities, calibrated: a temperature's over every class; a binary
        map's on the second class, the first's the rest."""
        if self.method == "temperature":
            scaled = self.a * np.log(np.clip(proba, _EPS, 1.0))
            scaled = np.exp(scaled - scaled.max(axis=1, keepdims=True))
            return scaled / scaled.sum(axis=1, keepdims=True)
        p = self.apply(proba[:, 1])
        return np.column_stack([1.0 - p, p])


def blend(outputs: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``sum_k weights[k] * outputs[k]``, in member order (both the estimator and the compiled
    form add in this order)."""
    total = weights[0] * outputs[0]
    for weight, output in zip(weights[1:], outputs[1:], strict=True):
        total = total + weight * output
    return total


@dataclass(frozen=True)
class Blend:
    """Member forests answered together: see the module docstring."""

    members: tuple[Forest, ...]
    weights: np.ndarray  # float64, one per member
    calibration: Calibration | None = None

    def __post_init__(self) -> None:
        first = self.members[0] if self.members else None
        if (
            first is None
            or len(self.weights) != len(self.members)
            or not np.isfinite(self.weights).all()
            or any(m.n_features != first.n_features for m in self.members)
            or any(m.is_classifier != first.is_classifier for m in self.members)
        ):
            raise NotCompilable("blend members differ in inputs or task, or weights mismatch")
        if self.calibration is not None and not first.is_classifier:
            raise NotCompilable("a calibrated regressor")

    @property
    def n_features(self) -> int:
        return self.members[0].n_features

    @property
    def is_classifier(self) -> bool:
        return self.members[0].is_classifier

    @property
    def n_outputs(self) -> int:
        """The first member's raw outputs per row (before its link)."""
        return self.members[0].n_outputs

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The blended answer (see the module docstring) for (n, n_features) float64 rows."""
        answer = blend([m.predict(features) for m in self.members], self.weights)
        if self.calibration is not None:
            binary = answer.ndim == 2 and answer.shape[1] == 2
            if answer.ndim != 2 or (self.calibration.binary_only and not binary):
                raise NotCompilable("a binary calibration of a classifier that is not binary")
            answer = self.calibration.calibrate(answer)
        return answer
