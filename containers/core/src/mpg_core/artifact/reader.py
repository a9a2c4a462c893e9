"""Opening an artifact folder (an extracted ``model.tar.gz``): a model behind one ``predict``.

Three engines, tried in this order, the one chosen logged once:

1. ``compiled``: the folder's ``compiled.npz``, when ``artifact.json`` records it, both its
   hash and the estimator's match the files, and its shape fits the artifact's kind and width.
   numpy and the C tree walk only: scikit-learn, pandas and scipy are never imported.
2. ``fast``: no usable compiled form (an older artifact, a hash that does not match): the
   estimator is unpickled, compiled by the same compiler and checked against itself.
3. ``sklearn``: the estimator's own ``predict``/``transform``, for what neither form handles.

The pickled estimator stays the source of truth throughout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mpg_core.artifact.compiled import CompiledModel, Levels, NotCompilable
from mpg_core.artifact.estimator import EstimatorModel
from mpg_core.artifact.files import (
    COMPILED_FILE,
    COMPILED_KEY,
    ESTIMATOR_FILE,
    ESTIMATOR_SHA256_KEY,
    MANIFEST_KEYS,
    Artifact,
    Kind,
    library_versions,
    read_manifest,
    sha256_file,
)
from mpg_core.artifact.levels import estimator_levels
from mpg_core.artifact.npz import load_compiled
from mpg_core.artifact.parity import compile_checked

log = logging.getLogger(__name__)

Engine = Literal["compiled", "fast", "sklearn"]
# Rows the start-up compilation is checked on (the jobs check 10,000 before writing a file).
STARTUP_CHECK_ROWS = 2000


@dataclass(frozen=True)
class OpenedArtifact:
    """An artifact ready to answer: what it takes, what it gives, and the engine behind it."""

    kind: Kind
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    engine: Engine
    model: CompiledModel | EstimatorModel

    @property
    def input_levels(self) -> Levels:
        """Per input column, its text levels (its cells arrive as codes), or None (numbers)."""
        return self.model.input_levels

    @property
    def allows_missing(self) -> bool:
        """Raw rows may lack values (the preprocessor imputes them); features may not."""
        return self.kind != "model"

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """``rows``: a float64 matrix in :attr:`input_columns` order (NaN = missing). Returns
        predictions (1-D) or, for a preprocessor, the feature matrix (2-D). Values the model
        cannot take raise :class:`mpg_core.errors.RequestError`."""
        return self.model.predict(rows)


def load_artifact(directory: Path) -> Artifact:
    """Unpickle an artifact folder's estimator; a clear ConfigError when it is not one."""
    import joblib

    manifest = read_manifest(directory)
    current = library_versions()
    saved = manifest.get("versions", {})
    drift = {k: (v, current.get(k)) for k, v in saved.items() if current.get(k) != v}
    if drift:
        log.warning("artifact was written with other library versions", extra={"drift": drift})
    return Artifact(
        kind=manifest["kind"],
        estimator=joblib.load(directory / ESTIMATOR_FILE),
        input_columns=tuple(manifest["input_columns"]),
        output_columns=tuple(manifest["output_columns"]),
        info={k: v for k, v in manifest.items() if k not in MANIFEST_KEYS},
    )


def open_artifact(directory: Path, fast_path: bool = True) -> OpenedArtifact:
    """The artifact in ``directory`` behind the first engine that is available (see the
    module docstring); ``fast_path=False`` serves the estimator itself."""
    manifest = read_manifest(directory)
    compiled = _verified_compiled_form(directory, manifest) if fast_path else None
    if compiled is not None:
        opened = OpenedArtifact(
            kind=manifest["kind"],
            input_columns=tuple(manifest["input_columns"]),
            output_columns=tuple(manifest["output_columns"]),
            engine="compiled",
            model=compiled,
        )
    else:
        opened = _from_estimator(load_artifact(directory), fast_path)
    log.info(
        "model loaded",
        extra={
            "kind": opened.kind,
            "dir": str(directory),
            "inputs": len(opened.input_columns),
            "engine": opened.engine,
        },
    )
    return opened


def _from_estimator(artifact: Artifact, fast_path: bool) -> OpenedArtifact:
    """Compile the estimator and check it against itself; fall back to the estimator (logged
    once) when it does not compile or does not agree."""
    _serial_forest(artifact.estimator)
    levels = estimator_levels(artifact.kind, artifact.estimator, artifact.input_columns)
    estimator = EstimatorModel(artifact.kind, artifact.estimator, artifact.input_columns, levels)
    model: CompiledModel | EstimatorModel = estimator
    engine: Engine = "sklearn"
    if not fast_path:
        log.info("fast path disabled; serving with scikit-learn")
    else:
        try:
            checked = compile_checked(
                artifact.kind,
                artifact.estimator,
                artifact.input_columns,
                random_count=STARTUP_CHECK_ROWS,
            )
            model, engine = checked.model, "fast"
            log.info(
                "fast path ready",
                extra={"kind": artifact.kind, "checked_rows": checked.checked_rows},
            )
        except NotCompilable as exc:
            log.warning(
                "fast path unavailable; serving with scikit-learn",
                extra={"kind": artifact.kind, "reason": str(exc)},
            )
    return OpenedArtifact(
        artifact.kind, artifact.input_columns, artifact.output_columns, engine, model
    )


def _serial_forest(estimator: Any) -> None:
    """Jobs fit with n_jobs=-1; at serving time a thread pool per request only adds overhead
    (the server's workers already use every core)."""
    forest = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if hasattr(forest, "n_jobs"):
        forest.n_jobs = 1


def _verified_compiled_form(directory: Path, manifest: dict[str, Any]) -> CompiledModel | None:
    """The folder's compiled form when artifact.json vouches for it and it fits the artifact;
    None (logged once, with the reason) when the estimator must be loaded instead."""
    entry = manifest.get(COMPILED_KEY)
    path = directory / COMPILED_FILE
    reason = None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        reason = "artifact.json records no compiled form (older or uncompilable artifact)"
    elif not path.is_file():
        reason = f"{COMPILED_FILE} is missing"
    elif sha256_file(path) != entry["sha256"]:
        reason = f"{COMPILED_FILE} does not match the sha256 in artifact.json"
    elif sha256_file(directory / ESTIMATOR_FILE) != manifest.get(ESTIMATOR_SHA256_KEY):
        reason = f"{ESTIMATOR_FILE} is not the estimator {COMPILED_FILE} was compiled from"
    else:
        try:
            return _fitting(load_compiled(path), manifest["kind"], len(manifest["input_columns"]))
        except (NotCompilable, OSError, ValueError, KeyError) as exc:
            reason = f"{COMPILED_FILE} unreadable: {str(exc)[:200]}"
    log.warning(
        "compiled form unavailable; loading the estimator",
        extra={"dir": str(directory), "reason": reason},
    )
    return None


def _fitting(model: CompiledModel, kind: Kind, width: int) -> CompiledModel:
    """``model`` if its parts are the ones ``kind`` has and it takes ``width`` inputs."""
    has_pre, has_forest = model.preprocessor is not None, model.forest is not None
    if has_pre != (kind != "model") or has_forest != (kind != "preprocessor"):
        raise NotCompilable(f"compiled form does not fit a {kind!r} artifact")
    if model.n_inputs != width:
        raise NotCompilable(f"compiled form takes {model.n_inputs} inputs, not {width}")
    return model
