"""Fit the preprocessor on the train split only and transform every split with it."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mpg_core.artifact.files import MODEL_TARBALL, Artifact, pack_model_tarball
from mpg_core.artifact.writer import write_artifact
from mpg_core.channels import read_raw_dir
from mpg_core.errors import DataError
from mpg_core.features import build_preprocessor, coerce_numeric, raw_features
from mpg_core.platform import Resources
from mpg_core.schema import FEATURES, TARGET

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreprocessConfig:
    train_dir: Path
    features_dir: Path
    preprocessor_dir: Path
    validation_dir: Path | None = None
    test_dir: Path | None = None
    resources: Resources = field(default_factory=Resources)
    # File name of each split's features; {split} and {host} are filled in.
    features_file: str | None = None


@dataclass(frozen=True)
class PreprocessResult:
    rows: dict[str, int]
    feature_names: tuple[str, ...]
    preprocessor_tarball: Path | None


def _labelled(frame: pd.DataFrame, where: str) -> tuple[pd.DataFrame, pd.Series | None]:
    """Split a raw frame into validated features and (when present) the target; rows without a
    target are dropped from a labelled split, and the count is logged."""
    if TARGET not in frame.columns:
        return raw_features(frame, where), None
    target = coerce_numeric(frame, [TARGET], where)[TARGET]
    keep = target.notna()
    if not keep.all():
        log.warning(
            "dropping rows without a target", extra={"split": where, "rows": int((~keep).sum())}
        )
    return raw_features(frame[keep], where), target[keep]


def _output_name(split: str, config: PreprocessConfig) -> str:
    template = config.features_file
    if template is None:
        # With several instances every host writes into the same S3 prefix: keep names unique.
        template = "{split}-{host}.csv" if len(config.resources.hosts) > 1 else "{split}.csv"
    return template.format(split=split, host=config.resources.current_host)


def run(config: PreprocessConfig) -> PreprocessResult:
    inputs = {
        "train": config.train_dir,
        "validation": config.validation_dir,
        "test": config.test_dir,
    }
    frames = {name: read_raw_dir(path, name) for name, path in inputs.items() if path}

    X_train, y_train = _labelled(frames["train"], "train")
    if y_train is None:
        raise DataError(f"train: column {TARGET!r} is missing; the train split must be labelled")
    preprocessor = build_preprocessor().fit(X_train)
    names = tuple(str(n) for n in preprocessor.get_feature_names_out())

    rows = {}
    for split, frame in frames.items():
        X, y = (X_train, y_train) if split == "train" else _labelled(frame, split)
        features = pd.DataFrame(preprocessor.transform(X), columns=list(names), index=X.index)
        if y is not None:
            features.insert(0, TARGET, y.to_numpy(dtype=np.float64))
        path = config.features_dir / split / _output_name(split, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        features.to_csv(path, index=False, float_format="%.10g")
        rows[split] = len(features)
        log.info("wrote features", extra={"split": split, "rows": len(features), "path": str(path)})

    tarball = None
    if config.resources.is_leader:
        with tempfile.TemporaryDirectory() as tmp:
            write_artifact(
                Path(tmp),
                Artifact(
                    kind="preprocessor",
                    estimator=preprocessor,
                    input_columns=FEATURES,
                    output_columns=names,
                    info={"fitted_on_rows": len(X_train)},
                ),
                X_train[list(FEATURES)].to_numpy(dtype=np.float64),
            )
            tarball = pack_model_tarball(Path(tmp), config.preprocessor_dir / MODEL_TARBALL)
        log.info("wrote preprocessor", extra={"path": str(tarball)})
    return PreprocessResult(rows=rows, feature_names=names, preprocessor_tarball=tarball)
