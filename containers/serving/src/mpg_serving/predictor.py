"""The loaded artifact behind the endpoint: what it takes in and what it gives back.

The artifact written by training is the source of truth. At start-up it is compiled into a
fast form (:mod:`mpg_serving.fast_preprocessor`, :mod:`mpg_serving.fast_forest`) that is
checked against the artifact's own scikit-learn estimator on probe rows; a model the fast path
cannot handle, or does not reproduce, is served by scikit-learn instead, logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mpg_core.artifacts import Artifact, load_artifact
from mpg_core.errors import RequestError
from mpg_serving.fast_forest import FLOAT32_MAX, CompiledForest, UnsupportedForest, compile_forest
from mpg_serving.fast_preprocessor import CompiledPreprocessor, Unsupported, compile_preprocessor

log = logging.getLogger(__name__)

# The fast path must reproduce scikit-learn to this relative tolerance, or it is not used.
PARITY_RTOL = 1e-9
PROBE_ROWS = 256


def check_model_range(features: np.ndarray) -> None:
    """Trees compare float32 features: a value beyond float32's range would make scikit-learn
    raise (a 500), so it is the client's 400 here."""
    if not (np.abs(features) <= FLOAT32_MAX).all():
        raise RequestError(
            "a value is too large for the model (beyond float32 range after "
            "preprocessing); check the units of the input"
        )


@dataclass(frozen=True)
class FastModel:
    """The compiled form of one artifact: preprocessor, forest, or both (a pipeline)."""

    preprocessor: CompiledPreprocessor | None
    forest: CompiledForest | None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        features = rows if self.preprocessor is None else self.preprocessor.transform(rows)
        if self.forest is None:
            return features
        check_model_range(features)
        return self.forest.predict(features)


def compile_artifact(artifact: Artifact) -> FastModel:
    """The fast form of ``artifact``; raises Unsupported/UnsupportedForest when there is none."""
    estimator = artifact.estimator
    if artifact.kind == "preprocessor":
        return FastModel(compile_preprocessor(estimator, artifact.input_columns), None)
    if artifact.kind == "model":
        return FastModel(None, compile_forest(estimator))
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) != 2:
        raise Unsupported("pipeline other than preprocessor + forest")
    pre = compile_preprocessor(steps[0][1], artifact.input_columns)
    forest = compile_forest(steps[1][1])
    if pre.n_outputs != forest.n_features:
        raise Unsupported("preprocessor outputs and forest inputs differ in number")
    return FastModel(pre, forest)


def probe_rows(artifact: Artifact, fast: FastModel, n: int = PROBE_ROWS) -> np.ndarray:
    """Deterministic rows that exercise every branch of the fast path: values around the
    fitted means, every known category, unknown categories, missing values, 2- and 4-digit
    model years. Features (kind "model") are drawn around zero, where scaled features live."""
    rng = np.random.default_rng(20240601)
    width = len(artifact.input_columns)
    pre = fast.preprocessor
    if pre is None:
        return rng.normal(scale=2.0, size=(n, width))
    rows = np.empty((n, width))
    # Column positions in the frame after the age step, mapped back to raw input columns.
    raw_of = [j for j in range(width) if j != pre.year_column] + [pre.year_column]
    for block in pre.blocks:
        for k, col in enumerate(block.columns):
            raw = raw_of[col]
            if hasattr(block, "categories"):
                cats = block.categories[k]
                choices = np.concatenate([cats, cats[:1] + 0.5, [-1.0]])
                rows[:, raw] = rng.choice(choices, size=n)
            else:
                mean = 0.0 if block.mean is None else block.mean[k]
                scale = 1.0 if block.scale is None else block.scale[k]
                rows[:, raw] = mean + scale * rng.normal(scale=1.5, size=n)
    # The year column held age above; turn it back into model years, half as two digits.
    age = rows[:, pre.year_column]
    years = np.round(pre.reference_year - age)
    rows[:, pre.year_column] = np.where(rng.random(n) < 0.5, years - 1900, years)
    rows[rng.random((n, width)) < 0.1] = np.nan
    return rows


@dataclass(frozen=True)
class Predictor:
    artifact: Artifact
    fast: FastModel | None = None

    @property
    def kind(self) -> str:
        return self.artifact.kind

    @property
    def input_columns(self) -> tuple[str, ...]:
        return self.artifact.input_columns

    @property
    def output_columns(self) -> tuple[str, ...]:
        return self.artifact.output_columns

    @property
    def allows_missing(self) -> bool:
        """Raw rows may lack values (the preprocessor imputes them); features may not."""
        return self.kind != "model"

    @property
    def returns_features(self) -> bool:
        return self.kind == "preprocessor"

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` is a float64 matrix in :attr:`input_columns` order. Returns predictions
        (1-D) or, for a preprocessor, the feature matrix (2-D)."""
        if self.fast is not None:
            return self.fast.predict(rows)
        return self.predict_sklearn(rows)

    def predict_sklearn(self, rows: np.ndarray) -> np.ndarray:
        """The artifact's own estimator: the reference, and the fallback."""
        estimator: Any = self.artifact.estimator
        if self.kind == "model":
            check_model_range(rows)
            return np.asarray(estimator.predict(rows), dtype=np.float64)
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(self.input_columns))
        call: Callable[[Any], Any] = (
            estimator.transform if self.kind == "preprocessor" else estimator.predict
        )
        try:
            return np.asarray(call(frame), dtype=np.float64)
        except ValueError as exc:
            # Finite numbers of the right width that the model still refuses (e.g. a value
            # scaled beyond float32): the client's input, not a server fault.
            raise RequestError(f"the model cannot use these values: {str(exc)[:200]}") from None


def _serial_forest(estimator: Any) -> None:
    """The training job fits with n_jobs=-1; at serving time a thread pool per request only
    adds overhead (workers already use every core)."""
    forest = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if hasattr(forest, "n_jobs"):
        forest.n_jobs = 1


def make_predictor(artifact: Artifact, fast_path: bool = True) -> Predictor:
    """Compile and check the fast path; fall back to scikit-learn (logged once) otherwise."""
    _serial_forest(artifact.estimator)
    reference = Predictor(artifact)
    if not fast_path:
        log.info("fast path disabled; serving with scikit-learn")
        return reference
    try:
        fast = compile_artifact(artifact)
        probes = probe_rows(artifact, fast)
        expected = reference.predict_sklearn(probes)
        got = fast.predict(probes)
        if got.shape != expected.shape or not np.allclose(
            got, expected, rtol=PARITY_RTOL, atol=0.0
        ):
            raise Unsupported("fast path disagrees with scikit-learn on probe rows")
    except (Unsupported, UnsupportedForest, RequestError) as exc:
        log.warning(
            "fast path unavailable; serving with scikit-learn",
            extra={"kind": artifact.kind, "reason": str(exc)},
        )
        return reference
    log.info(
        "fast path ready",
        extra={
            "kind": artifact.kind,
            "small_batch_engine": "treelite-gtil"
            if fast.forest and fast.forest.gtil_model
            else None,
        },
    )
    return Predictor(artifact, fast)


def load_predictor(model_dir: Path, fast_path: bool = True) -> Predictor:
    predictor = make_predictor(load_artifact(model_dir), fast_path)
    log.info(
        "model loaded",
        extra={
            "kind": predictor.kind,
            "dir": str(model_dir),
            "inputs": len(predictor.input_columns),
            "fast_path": predictor.fast is not None,
        },
    )
    return predictor
