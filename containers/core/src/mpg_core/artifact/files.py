"""The files of an artifact folder and of ``model.tar.gz``: names, ``artifact.json``, the
tarball, and :class:`Artifact`, an artifact in memory. No estimator is read here, so nothing
imports scikit-learn."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from mpg_core.errors import ConfigError

ESTIMATOR_FILE = "estimator.joblib"
COMPILED_FILE = "compiled.npz"
ARTIFACT_FILE = "artifact.json"
MODEL_TARBALL = "model.tar.gz"
# artifact.json keys: the estimator's sha256, and the compiled form's description (or null).
ESTIMATOR_SHA256_KEY = "estimator_sha256"
COMPILED_KEY = "compiled"
# A binary classifier's decision threshold (the training job writes it; serving's label answers
# read it): the second class when its probability is at or above it.
DECISION_THRESHOLD_KEY = "decision_threshold"
Kind = Literal["preprocessor", "model", "pipeline"]
KINDS: tuple[Kind, ...] = ("preprocessor", "model", "pipeline")
_VERSIONED = ("scikit-learn", "numpy", "pandas", "mpg-core")


@dataclass(frozen=True)
class Artifact:
    """What a job saves: an estimator of one kind, the columns it takes and gives, and extra
    facts for ``artifact.json`` (``info``)."""

    kind: Kind
    estimator: Any
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)


# artifact.json keys that the format itself owns; the rest is an Artifact's ``info``.
MANIFEST_KEYS = (
    "kind",
    "input_columns",
    "output_columns",
    "versions",
    ESTIMATOR_SHA256_KEY,
    COMPILED_KEY,
)


def library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in _VERSIONED}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write artifact.json whole or not at all (a temporary file, then a rename)."""
    path = directory / ARTIFACT_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    partial.replace(path)


def read_manifest(directory: Path) -> dict[str, Any]:
    """artifact.json, checked for a known kind; a clear ConfigError when it is not one."""
    manifest_path = directory / ARTIFACT_FILE
    if not manifest_path.is_file():
        found = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
        raise ConfigError(
            f"no {ARTIFACT_FILE} in {directory} (found {found}); expected the "
            f"contents of a model.tar.gz written by this project's jobs"
        )
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{manifest_path} is not valid JSON: {exc}") from None
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    if kind not in KINDS:
        raise ConfigError(f"{manifest_path}: unknown kind {kind!r}; expected one of {KINDS}")
    return dict(manifest)


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
