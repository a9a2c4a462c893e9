"""The loaded artifact behind the endpoint: what it takes in and what it gives back.

Three engines, tried in this order, each logged at start-up:

1. ``compiled``: the artifact's ``compiled.npz`` (written and checked against the estimator by
   the training or preprocessing job, see :mod:`mpg_core.compiled`), when ``artifact.json``
   records it and both its hash and the estimator's match the files. numpy only: scikit-learn,
   pandas and scipy are never imported, which is most of the cold start.
2. ``fast``: no usable compiled form (an older artifact, a hash that does not match): the
   estimator is unpickled and compiled at start-up (the preprocessor by
   :mod:`mpg_core.compiled`, the forest by :mod:`mpg_serving.fast_forest`), checked on probe
   rows against the estimator itself.
3. ``sklearn``: the estimator's own ``predict``/``transform``, for models neither form handles.

The artifact written by training stays the source of truth throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
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
    Preprocessor,
    compile_preprocessor,
    load_compiled,
    sha256_file,
)
from mpg_core.errors import RequestError
from mpg_serving.fast_forest import FLOAT32_MAX, CompiledForest, UnsupportedForest, compile_forest

log = logging.getLogger(__name__)

# From this many rows the compiled form hands over to the start-up fast path's per-tree Cython
# loop (~2x cheaper per row than numpy's level-by-level walk on big batches): the estimator is
# unpickled in the worker on its first such batch (~1 s once, and ~100 MiB per worker), so
# small-request endpoints never pay for scikit-learn.
LARGE_BATCH_ROWS = 8192
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

    preprocessor: Preprocessor | None
    forest: CompiledForest | None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        features = rows if self.preprocessor is None else self.preprocessor.transform(rows)
        if self.forest is None:
            return features
        check_model_range(features)
        return self.forest.predict(features)


def compile_artifact(artifact: Artifact) -> FastModel:
    """The fast form of ``artifact``; raises NotCompilable/UnsupportedForest when there is none."""
    estimator = artifact.estimator
    if artifact.kind == "preprocessor":
        return FastModel(compile_preprocessor(estimator, artifact.input_columns), None)
    if artifact.kind == "model":
        return FastModel(None, compile_forest(estimator))
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) != 2:
        raise NotCompilable("pipeline other than preprocessor + forest")
    pre = compile_preprocessor(steps[0][1], artifact.input_columns)
    forest = compile_forest(steps[1][1])
    if pre.n_outputs != forest.n_features:
        raise NotCompilable("preprocessor outputs and forest inputs differ in number")
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
            if block.kind == "onehot":
                cats = block.categories[k]
                choices = np.concatenate([cats, cats[:1] + 0.5, [-1.0]])
                rows[:, raw] = rng.choice(choices, size=n)
            else:
                assert block.mean is not None and block.scale is not None  # numeric blocks
                rows[:, raw] = block.mean[k] + block.scale[k] * rng.normal(scale=1.5, size=n)
    # The year column held age above; turn it back into model years, half as two digits.
    age = rows[:, pre.year_column]
    years = np.round(pre.reference_year - age)
    rows[:, pre.year_column] = np.where(rng.random(n) < 0.5, years - 1900, years)
    rows[rng.random((n, width)) < 0.1] = np.nan
    return rows


def predict_compiled(model: CompiledModel, rows: np.ndarray) -> np.ndarray:
    """The compiled form's answer, with the same float32-range check as the other engines."""
    features = rows if model.preprocessor is None else model.preprocessor.transform(rows)
    if model.forest is None:
        return features
    check_model_range(features)
    return model.forest.predict(features)


@dataclass(frozen=True)
class Predictor:
    """``artifact`` is None when the compiled form serves: the estimator is never unpickled."""

    kind: str
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    artifact: Artifact | None = None
    fast: FastModel | None = None
    compiled: CompiledModel | None = None
    model_dir: Path | None = None  # where the estimator is, for large batches (compiled form)
    _large: dict[str, Predictor | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, artifact: Artifact, fast: FastModel | None = None) -> Predictor:
        return cls(artifact.kind, artifact.input_columns, artifact.output_columns, artifact, fast)

    @property
    def engine(self) -> str:
        if self.compiled is not None:
            return "compiled"
        return "sklearn" if self.fast is None else "fast"

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
            if len(rows) >= LARGE_BATCH_ROWS and self.model_dir is not None:
                large = self._large_batch_predictor()
                if large is not None:
                    return large.predict(rows)
            return predict_compiled(self.compiled, rows)
        if self.fast is not None:
            return self.fast.predict(rows)
        return self.predict_sklearn(rows)

    def _large_batch_predictor(self) -> Predictor | None:
        """The start-up fast path for big batches, made on first use (once per worker); None
        when it is not faster here (no fast path for this estimator), so the compiled form
        goes on serving."""
        if "predictor" not in self._large:
            assert self.model_dir is not None
            try:
                found = make_predictor(load_artifact(self.model_dir))
            except Exception as exc:  # the compiled form still serves; the reason is logged
                log.warning("no large-batch engine", extra={"reason": str(exc)[:200]})
                found = None
            self._large["predictor"] = found if found is not None and found.fast else None
            log.info(
                "large-batch engine loaded",
                extra={"engine": None if self._large["predictor"] is None else "fast"},
            )
        return self._large["predictor"]

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
    """Compile and check the fast path; fall back to scikit-learn (logged once) otherwise."""
    _serial_forest(artifact.estimator)
    reference = Predictor.of(artifact)
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
            raise NotCompilable("fast path disagrees with scikit-learn on probe rows")
    except (NotCompilable, UnsupportedForest, RequestError) as exc:
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
    return Predictor.of(artifact, fast)


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
            model_dir=model_dir,
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
