"""Writing an artifact folder (what SageMaker tars into ``model.tar.gz``): the pickled
estimator, its compiled form when it has one that passes the parity check, and
``artifact.json`` describing both, written once, last."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np

from mpg_core.artifact import npz
from mpg_core.artifact.compiled import NotCompilable
from mpg_core.artifact.files import (
    ARTIFACT_FILE,
    COMPILED_FILE,
    COMPILED_KEY,
    ESTIMATOR_FILE,
    ESTIMATOR_SHA256_KEY,
    MANIFEST_KEYS,
    Artifact,
    library_versions,
    sha256_file,
    write_manifest,
)
from mpg_core.artifact.parity import compile_checked

log = logging.getLogger(__name__)


def estimator_sha256(estimator: Any) -> str:
    """The sha256 ``artifact.json`` gives ``estimator`` once written, computed in memory: a
    fingerprint of the fitted state that hosts of one job can compare without writing."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def write_artifact(
    directory: Path, artifact: Artifact, sample_rows: np.ndarray | None = None
) -> dict[str, Any]:
    """Save ``artifact`` into ``directory`` and return the manifest written.

    The compiled form is checked against the estimator on ``sample_rows`` (rows in the
    artifact's input space, e.g. the training rows) plus random rows; an estimator that does
    not compile, or whose compiled form disagrees, is saved without one (logged), and the
    serving image then serves it with scikit-learn."""
    import joblib  # here: reading an artifact's compiled form never needs it

    clash = sorted(set(artifact.info) & set(MANIFEST_KEYS))
    if clash:
        raise ValueError(f"Artifact.info may not set artifact.json's own keys {clash}")

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(artifact.estimator, directory / ESTIMATOR_FILE)
    manifest = {
        "kind": artifact.kind,
        "input_columns": list(artifact.input_columns),
        "output_columns": list(artifact.output_columns),
        "versions": library_versions(),
        ESTIMATOR_SHA256_KEY: sha256_file(directory / ESTIMATOR_FILE),
        COMPILED_KEY: _write_compiled(directory, artifact, sample_rows),
    }
    manifest.update(artifact.info)
    write_manifest(directory, manifest)
    return manifest


def _write_compiled(
    directory: Path, artifact: Artifact, sample_rows: np.ndarray | None
) -> dict[str, Any] | None:
    """Write ``compiled.npz`` and return its ``artifact.json`` entry, or None when there is
    none to write."""
    target = directory / COMPILED_FILE
    target.unlink(missing_ok=True)
    try:
        checked = compile_checked(
            artifact.kind, artifact.estimator, artifact.input_columns, sample_rows
        )
    except NotCompilable as exc:
        log.warning("no compiled form written", extra={"kind": artifact.kind, "reason": str(exc)})
        return None
    npz.save_compiled(target, checked.model)
    log.info(
        "wrote compiled form",
        extra={
            "file": str(target),
            "checked_rows": checked.checked_rows,
            "manifest": ARTIFACT_FILE,
        },
    )
    return {
        "file": COMPILED_FILE,
        "format": npz.COMPILED_FORMAT,
        "sha256": sha256_file(target),
        "checked_rows": checked.checked_rows,
        "max_relative_error": checked.max_relative_error,
    }
