"""The loaded artifact behind the endpoint: what it takes in and what it gives back.

Three engines, tried in this order, each logged at start-up:

1. ``compiled``: the artifact's ``compiled.npz`` (written and checked against the estimator by
   the training or preprocessing job, see :mod:`mpg_core.compiled`), when ``artifact.json``
   records it and both its hash and the estimator's match the files. numpy and the C tree walk
   only: scikit-learn, pandas and scipy are never imported, which is most of the cold start.
2. ``fast``: no usable compiled form (an older artifact, a hash that does not match): the
   estimator is unpickled and compiled at start-up by the same :mod:`mpg_core.compiled`,
   checked against the estimator itself on the same random rows the jobs check.
3. ``sklearn``: the estimator's own ``predict``/``transform``, for models neither form handles.

The artifact written by training stays the source of truth throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mpg_core.artifacts import (
    COMPILED_KEY,
    ESTIMATOR_FILE,
    ESTIMATOR_SHA256_KEY,
    Artifact,
    load_artifact,
    read_manifest,
)
from mpg_core.compiled import (
    COMPILED_FILE,
    CompiledModel,
    NotCompilable,
    compile_checked,
    load_compiled,
    sha256_file,
)
from mpg_core.errors import RequestError

log = logging.getLogger(__name__)

FLOAT32_MAX = float(np.finfo(np.float32).max)
# Rows the start-up compilation is checked on (the jobs check 10,000 before writing a file).
STARTUP_CHECK_ROWS = 2000
# Big batches go through the compiled form in slices of this many rows: each slice's
# temporaries (~1 MB each) are reused from the heap, where one pass over a 5 MB body would
# page-fault in a dozen fresh 10-20 MB arrays, and glibc would keep the heap they grew.
SLICE_ROWS = 8192


def check_model_range(features: np.ndarray) -> None:
    """Trees compare float32 features: a value beyond float32's range would make scikit-learn
    raise (a 500), so it is the client's 400 here."""
    if not (np.abs(features) <= FLOAT32_MAX).all():
        raise RequestError(
            "a value is too large for the model (beyond float32 range after "
            "preprocessing); check the units of the input"
        )


def predict_compiled(model: CompiledModel, rows: np.ndarray) -> np.ndarray:
    """The compiled form's answer, with the same float32-range check as scikit-learn's."""
    if len(rows) <= SLICE_ROWS:
        return _predict_slice(model, rows)
    return np.concatenate(
        [_predict_slice(model, rows[i : i + SLICE_ROWS]) for i in range(0, len(rows), SLICE_ROWS)]
    )


def _predict_slice(model: CompiledModel, rows: np.ndarray) -> np.ndarray:
    features = rows if model.preprocessor is None else model.preprocessor.transform(rows)
    if model.forest is None:
        return features
    check_model_range(features)
    return model.forest.predict(features)


@dataclass(frozen=True)
class Predictor:
    """``artifact`` is None when the compiled form came from ``compiled.npz``: the estimator
    is never unpickled."""

    kind: str
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    artifact: Artifact | None = None
    compiled: CompiledModel | None = None
    engine: str = "sklearn"  # compiled, fast or sklearn (see the module docstring)

    @classmethod
    def of(cls, artifact: Artifact, compiled: CompiledModel | None = None) -> Predictor:
        return cls(
            kind=artifact.kind,
            input_columns=artifact.input_columns,
            output_columns=artifact.output_columns,
            artifact=artifact,
            compiled=compiled,
            engine="sklearn" if compiled is None else "fast",
        )

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
        if self.compiled is not None:
            return predict_compiled(self.compiled, rows)
        return self.predict_sklearn(rows)

    def predict_sklearn(self, rows: np.ndarray) -> np.ndarray:
        """The artifact's own estimator: the reference, and the fallback."""
        assert self.artifact is not None, "the estimator is not loaded (compiled form)"
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
    """Compile the estimator and check it against itself; fall back to scikit-learn (logged
    once) when it does not compile or does not agree."""
    _serial_forest(artifact.estimator)
    if not fast_path:
        log.info("fast path disabled; serving with scikit-learn")
        return Predictor.of(artifact)
    kind = artifact.kind
    try:
        checked = compile_checked(
            kind, artifact.estimator, artifact.input_columns, random_count=STARTUP_CHECK_ROWS
        )
    except NotCompilable as exc:
        log.warning(
            "fast path unavailable; serving with scikit-learn",
            extra={"kind": kind, "reason": str(exc)},
        )
        return Predictor.of(artifact)
    log.info("fast path ready", extra={"kind": kind, "checked_rows": checked.checked_rows})
    return Predictor.of(artifact, checked.model)


def _compiled_form(model_dir: Path, manifest: dict[str, Any]) -> CompiledModel | None:
    """The artifact's compiled form when artifact.json vouches for it; None (logged, once, with
    the reason) when the estimator must be loaded instead."""
    entry = manifest.get(COMPILED_KEY)
    path = model_dir / COMPILED_FILE
    reason = None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        reason = "artifact.json records no compiled form (older or uncompilable artifact)"
    elif not path.is_file():
        reason = f"{COMPILED_FILE} is missing"
    elif sha256_file(path) != entry["sha256"]:
        reason = f"{COMPILED_FILE} does not match the sha256 in artifact.json"
    elif sha256_file(model_dir / ESTIMATOR_FILE) != manifest.get(ESTIMATOR_SHA256_KEY):
        reason = f"{ESTIMATOR_FILE} is not the estimator {COMPILED_FILE} was compiled from"
    if reason is None:
        try:
            model = load_compiled(path)
            kind = manifest["kind"]
            width = len(manifest["input_columns"])
            if (model.preprocessor is None) != (kind == "model") or (model.forest is None) != (
                kind == "preprocessor"
            ):
                raise NotCompilable(f"compiled form does not fit a {kind!r} artifact")
            if model.preprocessor is not None:
                n_inputs = model.preprocessor.n_inputs
            else:
                assert model.forest is not None
                n_inputs = model.forest.n_features
            if n_inputs != width:
                raise NotCompilable(f"compiled form takes {n_inputs} inputs, not {width}")
            return model
        except (NotCompilable, OSError, ValueError, KeyError) as exc:
            reason = f"{COMPILED_FILE} unreadable: {str(exc)[:200]}"
    log.warning(
        "compiled form unavailable; loading the estimator",
        extra={"dir": str(model_dir), "reason": reason},
    )
    return None


def load_predictor(model_dir: Path, fast_path: bool = True) -> Predictor:
    """The artifact's compiled form when it has a valid one (and ``fast_path``), else the
    estimator through :func:`make_predictor`."""
    manifest = read_manifest(model_dir)
    compiled = _compiled_form(model_dir, manifest) if fast_path else None
    if compiled is not None:
        predictor = Predictor(
            kind=manifest["kind"],
            input_columns=tuple(manifest["input_columns"]),
            output_columns=tuple(manifest["output_columns"]),
            compiled=compiled,
            engine="compiled",
        )
    else:
        predictor = make_predictor(load_artifact(model_dir), fast_path)
    log.info(
        "model loaded",
        extra={
            "kind": predictor.kind,
            "dir": str(model_dir),
            "inputs": len(predictor.input_columns),
            "engine": predictor.engine,
        },
    )
    return predictor
