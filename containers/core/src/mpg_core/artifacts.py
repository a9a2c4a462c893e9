"""Model artifacts: what a job writes to /opt/ml/model (and SageMaker tars to model.tar.gz) and
what the serving image finds extracted in /opt/ml/model.

An artifact is a folder with ``estimator.joblib`` and ``artifact.json`` (which records the
estimator's sha256), and optionally ``compiled.npz``, the numpy form of the estimator (see
:mod:`mpg_core.compiled`; ``artifact.json`` records its hash too). Its kind says what
the estimator maps: ``preprocessor`` (raw rows -> features), ``model`` (features -> mpg) or
``pipeline`` (raw rows -> mpg). The serving image serves any kind, so it can be either
container of a SageMaker inference pipeline.
"""

from __future__ import annotations

import json
import logging
import tarfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from mpg_core.errors import ConfigError

log = logging.getLogger(__name__)

ESTIMATOR_FILE = "estimator.joblib"
ARTIFACT_FILE = "artifact.json"
MODEL_TARBALL = "model.tar.gz"
# artifact.json keys: the estimator's sha256, and the compiled form's description (or null).
ESTIMATOR_SHA256_KEY = "estimator_sha256"
COMPILED_KEY = "compiled"
Kind = Literal["preprocessor", "model", "pipeline"]
KINDS: tuple[Kind, ...] = ("preprocessor", "model", "pipeline")
_VERSIONED = ("scikit-learn", "numpy", "pandas", "mpg-core")


def library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in _VERSIONED}


@dataclass(frozen=True)
class Artifact:
    kind: Kind
    estimator: Any
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)


def save_artifact(directory: Path, artifact: Artifact) -> None:
    import joblib  # imported here: the serving image's compiled path never needs it

    from mpg_core.compiled import sha256_file

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(artifact.estimator, directory / ESTIMATOR_FILE)
    manifest = {
        "kind": artifact.kind,
        "input_columns": list(artifact.input_columns),
        "output_columns": list(artifact.output_columns),
        "versions": library_versions(),
        ESTIMATOR_SHA256_KEY: sha256_file(directory / ESTIMATOR_FILE),
        **artifact.info,
    }
    _write_manifest(directory, manifest)


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write artifact.json whole or not at all (a temporary file, then a rename)."""
    path = directory / ARTIFACT_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    partial.replace(path)


def update_manifest(directory: Path, fields: dict[str, Any]) -> None:
    """Add or replace top-level fields of an artifact's artifact.json."""
    _write_manifest(directory, {**read_manifest(directory), **fields})


def read_manifest(directory: Path) -> dict[str, Any]:
    """artifact.json, checked for a known kind; a clear ConfigError when it is not one. Reads
    no estimator, so it costs no scikit-learn import."""
    manifest_path = directory / ARTIFACT_FILE
    if not manifest_path.is_file():
        found = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
        raise ConfigError(
            f"no {ARTIFACT_FILE} in {directory} (found {found}); expected the "
            f"contents of a model.tar.gz written by this project's jobs"
        )
    manifest = json.loads(manifest_path.read_text("utf-8"))
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{manifest_path}: unknown kind {kind!r}; expected one of {KINDS}")
    return dict(manifest)


def load_artifact(directory: Path) -> Artifact:
    """Load an artifact folder and unpickle its estimator; a clear ConfigError when it is not
    an artifact."""
    import joblib

    manifest = read_manifest(directory)
    kind = manifest["kind"]
    saved = manifest.get("versions", {})
    current = library_versions()
    drift = {k: (v, current.get(k)) for k, v in saved.items() if current.get(k) != v}
    if drift:
        log.warning("artifact was written with other library versions", extra={"drift": drift})
    return Artifact(
        kind=kind,
        estimator=joblib.load(directory / ESTIMATOR_FILE),
        input_columns=tuple(manifest["input_columns"]),
        output_columns=tuple(manifest["output_columns"]),
        info={
            k: v
            for k, v in manifest.items()
            if k not in ("kind", "input_columns", "output_columns")
        },
    )


def pack_model_tarball(source_dir: Path, tar_path: Path) -> Path:
    """Tar and gzip the *contents* of ``source_dir`` (files at the top level, as SageMaker
    expects of model.tar.gz)."""
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w:gz") as tar:
        for path in sorted(source_dir.iterdir()):
            if path.resolve() != tar_path.resolve():
                tar.add(path, arcname=path.name)
    return tar_path


def _safe_members(tar: tarfile.TarFile, dest_dir: Path) -> list[tarfile.TarInfo]:
    """Regular files and folders that stay inside ``dest_dir``; anything else is refused.
    (Python 3.11.2, Debian bookworm's, predates tarfile's extraction filters.)"""
    root = dest_dir.resolve()
    members = tar.getmembers()
    for member in members:
        target = (root / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
            raise ConfigError(
                f"refusing to extract {member.name!r}: only plain files inside "
                "the archive's folder are allowed"
            )
    return members


def unpack_model_tarball(tar_path: Path, dest_dir: Path) -> Path:
    """Extract a model.tar.gz safely (no absolute paths, links or paths out of ``dest_dir``)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            tar.extractall(dest_dir, members=_safe_members(tar, dest_dir))  # noqa: S202
    except (tarfile.TarError, OSError) as exc:
        raise ConfigError(f"cannot extract {tar_path}: {exc}") from exc
    return dest_dir
