"""Fit the preprocessor on the whole train split and transform this host's share of every
split with it.

With several instances every host reads the train split in full (``fit_dir``, FullyReplicated)
and fits on it: the same files in the same sorted order give every host the identical
preprocessor, so the features all hosts write match the one artifact the leader saves. The
splits to transform (``train_dir``, ...) are this host's ShardedByS3Key shard, which may be
empty."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mpg_core.artifact.files import MODEL_TARBALL, Artifact, pack_model_tarball
from mpg_core.artifact.writer import estimator_sha256, write_artifact
from mpg_core.channels import read_raw_dir
from mpg_core.errors import DataError
from mpg_core.features import build_preprocessor, coerce_numeric, raw_features
from mpg_core.platform import Resources
from mpg_core.schema import FEATURES, TARGET

log = logging.getLogger(__name__)
# How errors about the fit input name it when it is not the train folder itself.
FIT = "fit (the whole train split)"


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
    # The whole train split, to fit on; None: train_dir (one instance, fit and transform
    # the same files).
    fit_dir: Path | None = None

    @property
    def fit_path(self) -> Path:
        return self.fit_dir or self.train_dir

    @property
    def fits_on_train_dir(self) -> bool:
        return self.fit_path == self.train_dir

    def splits(self) -> dict[str, Path | None]:
        """The folders this host transforms, by split."""
        return {"train": self.train_dir, "validation": self.validation_dir, "test": self.test_dir}


@dataclass(frozen=True)
class PreprocessResult:
    rows: dict[str, int]  # feature rows this host wrote, by split (splits it wrote only)
    feature_names: tuple[str, ...]
    preprocessor_tarball: Path | None  # None on every host but the leader
    fitted_on_rows: int
    preprocessor_sha256: str  # the same on every host of a job, and in artifact.json


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


def _fit_split(config: PreprocessConfig) -> tuple[pd.DataFrame, pd.Series, str]:
    """The labelled rows to fit on, and how errors name them."""
    where = "train" if config.fits_on_train_dir else FIT
    X, y = _labelled(read_raw_dir(config.fit_path, where), where)
    return X, _required_target(y, where), where


def _required_target(y: pd.Series | None, where: str) -> pd.Series:
    if y is None:
        raise DataError(f"{where}: column {TARGET!r} is missing; the train split must be labelled")
    return y


def _host_split(
    split: str, directory: Path, config: PreprocessConfig
) -> tuple[pd.DataFrame, pd.Series | None] | None:
    """This host's rows of ``split``, or None when its shard is empty (logged: with more
    instances than files some hosts get none, which is not an error)."""
    frame = read_raw_dir(directory, split, allow_empty=True)
    if frame.empty:
        log.info(
            "no rows for this host: no features file written",
            extra={"split": split, "host": config.resources.current_host},
        )
        return None
    X, y = _labelled(frame, split)
    return X, _required_target(y, split) if split == "train" else y


def run(config: PreprocessConfig) -> PreprocessResult:
    X_fit, y_fit, fit_name = _fit_split(config)
    preprocessor = build_preprocessor().fit(X_fit)
    fingerprint = estimator_sha256(preprocessor)
    log.info(
        "fitted preprocessor",
        extra={"input": fit_name, "rows": len(X_fit), "estimator_sha256": fingerprint},
    )
    names = tuple(str(n) for n in preprocessor.get_feature_names_out())

    rows = {}
    for split, directory in config.splits().items():
        if directory is None:
            continue
        # One instance, no --fit: the train rows to transform are the ones just fitted on.
        reuse = split == "train" and config.fits_on_train_dir
        host_rows = (X_fit, y_fit) if reuse else _host_split(split, directory, config)
        if host_rows is None:
            continue
        X, y = host_rows
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
                    info={"fitted_on_rows": len(X_fit)},
                ),
                X_fit[list(FEATURES)].to_numpy(dtype=np.float64),
            )
            tarball = pack_model_tarball(Path(tmp), config.preprocessor_dir / MODEL_TARBALL)
        log.info("wrote preprocessor", extra={"path": str(tarball)})
    return PreprocessResult(
        rows=rows,
        feature_names=names,
        preprocessor_tarball=tarball,
        fitted_on_rows=len(X_fit),
        preprocessor_sha256=fingerprint,
    )
