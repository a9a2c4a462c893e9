"""The parity check: the compiled form must give the estimator's own answers, on the rows
the estimator was fitted on and on random rows that visit every branch, before anything
serves it. The jobs run it before writing ``compiled.npz``; serving runs it at start-up for an
artifact without a usable one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpg_core.artifact.blend import Blend
from mpg_core.artifact.compiled import CompiledModel, Forest, NotCompilable
from mpg_core.artifact.compiler import compile_estimator
from mpg_core.artifact.estimator import EstimatorModel
from mpg_core.artifact.files import Kind

# The compiled form must give the estimator's answers to this relative tolerance, or it is not
# used (in practice the two agree to the last bit or two). A classifier's class probabilities
# to this absolute tolerance, with the same label (first most probable class) for every row
# whose top two probabilities are further apart than twice that (closer is a tie, which the
# order of a float sum decides either way).
PARITY_RTOL = 1e-6
PARITY_ATOL_PROBA = 1e-6
RANDOM_ROWS = 10_000


def random_rows(model: CompiledModel, n: int = RANDOM_ROWS, seed: int = 20240601) -> np.ndarray:
    """Rows in the artifact's input space that exercise every branch of the compiled form.

    Raw rows (a preprocessor in front): values around each fitted mean, every known category
    (a text column's codes) plus unknown ones, 2- and 4-digit model years and ~10% missing
    values. Feature rows (a forest alone): every split threshold's neighbourhood, so every
    node is visited both ways."""
    rng = np.random.default_rng(seed)
    pre = model.preprocessor
    if pre is None:
        assert model.forest is not None
        head = model.forest
        if isinstance(head, Blend):
            forests = head.members
        elif isinstance(head, Forest):
            forests = (head,)
        else:
            raise NotCompilable(f"no random rows for a {type(head).__name__}")
        rows = np.empty((n, head.n_features))
        for j in range(head.n_features):
            inner = [(f.left != np.arange(len(f.left))) & (f.feature == j) for f in forests]
            cuts = np.concatenate([f.threshold[i] for f, i in zip(forests, inner, strict=True)])
            # The histogram family's "everything but missing values" split sits at 1e300.
            cuts = cuts[np.abs(cuts) < 1e30]
            if len(cuts) == 0:
                rows[:, j] = rng.normal(size=n)
                continue
            span = max(float(np.ptp(cuts)), 1.0)
            rows[:, j] = rng.choice(cuts, n) + rng.normal(scale=0.05 * span, size=n)
        return rows
    width = pre.n_inputs
    rows = rng.normal(size=(n, width))
    # Frame positions after the age steps (year columns moved last, as ages) -> raw positions.
    raw_of = pre.raw_positions()
    for block in pre.blocks:
        for k, col in enumerate(block.columns):
            raw = raw_of[col]
            if block.kind in ("onehot", "ordinal"):
                cats = block.categories[k]
                rows[:, raw] = rng.choice(np.concatenate([cats, cats[:1] + 0.5, [-1.0]]), n)
            else:
                assert block.mean is not None and block.scale is not None
                rows[:, raw] = block.mean[k] + block.scale[k] * rng.normal(scale=1.5, size=n)
    # Each year column held an age above; turn it back into years, half as two digits.
    ages = raw_of[len(raw_of) - len(pre.year_columns) :]
    for raw, reference in zip(ages, pre.reference_years, strict=True):
        years = np.round(reference - rows[:, raw])
        rows[:, raw] = np.where(rng.random(n) < 0.5, years - 1900, years)
    rows[rng.random(rows.shape) < 0.1] = np.nan
    return rows


def max_relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    if got.shape != expected.shape:
        return float("inf")
    scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    error = np.abs(got - expected) / scale
    error[got == expected] = 0.0  # equal values (zeros, one-hot columns) are no error at all
    return float(error.max(initial=0.0)) if np.isfinite(got).all() else float("inf")


def proba_error(got: np.ndarray, expected: np.ndarray) -> float:
    """The largest absolute difference of two (n, classes) probability arrays, or inf when
    their labels differ on a row that is not a near-tie."""
    if got.shape != expected.shape or got.ndim != 2 or not np.isfinite(got).all():
        return float("inf")
    ordered = np.sort(expected, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 2 * PARITY_ATOL_PROBA
    if (got.argmax(axis=1) != expected.argmax(axis=1))[clear].any():
        return float("inf")
    return float(np.abs(got - expected).max(initial=0.0))


@dataclass(frozen=True)
class CheckedModel:
    model: CompiledModel
    checked_rows: int
    max_relative_error: float  # for a classifier: the largest absolute probability difference


def compile_checked(
    kind: Kind,
    estimator: Any,
    input_columns: Sequence[str],
    sample_rows: np.ndarray | None = None,
    random_count: int = RANDOM_ROWS,
) -> CheckedModel:
    """Compile ``estimator`` and check the compiled form against it on ``sample_rows`` plus
    ``random_count`` :func:`random_rows`; NotCompilable when it does not compile or differs by
    more than :data:`PARITY_RTOL`. The jobs call it before writing a file, serving at start-up
    for an artifact without a usable one."""
    model = compile_estimator(kind, estimator, input_columns)
    checks = [random_rows(model, random_count)]
    if sample_rows is not None and len(sample_rows):
        checks.insert(0, np.asarray(sample_rows, dtype=np.float64))
    rows = np.concatenate(checks)
    reference = EstimatorModel(
        kind,
        estimator,
        tuple(input_columns),
        model.preprocessor.levels if model.preprocessor else (),
    )
    got, expected = model.predict(rows), reference.predict(rows)
    if model.forest is not None and model.forest.is_classifier:
        error, tolerance = proba_error(got, expected), PARITY_ATOL_PROBA
    else:
        error, tolerance = max_relative_error(got, expected), PARITY_RTOL
    if not error <= tolerance:
        raise NotCompilable(f"compiled form differs from the estimator by {error:.3g}")
    return CheckedModel(model, len(rows), error)
