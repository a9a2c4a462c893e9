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
from mpg_core.artifact.levels import encoded_rows, estimator_levels
from mpg_core.artifact.writer import estimator_sha256, write_artifact
from mpg_core.channels import read_raw_dir
from mpg_core.errors import DataError
from mpg_core.features import (
    build_preprocessor,
    raw_features,
    target_values,
    text_categories,
)
from mpg_core.leakage import check_leakage
from mpg_core.monitoring.baseline import RAW_STATISTICS_KEY, table_statistics
from mpg_core.platform import Resources
from mpg_core.table_schema import TableSchema, default_schema, write_features_schema

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
    # The table's schema (the processing input "schema"); Auto MPG's when none is given.
    schema: TableSchema = field(default_factory=default_schema)

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


def _labelled(
    frame: pd.DataFrame, where: str, schema: TableSchema
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Split a raw frame into validated features and (when present) the target; rows without a
    target are dropped from a labelled split, and the count is logged."""
    if schema.target not in frame.columns:
        return raw_features(frame, where, schema), None
    target = target_values(frame, schema, where)
    keep = target.notna()
    if not keep.all():
        log.warning(
            "dropping rows without a target", extra={"split": where, "rows": int((~keep).sum())}
        )
    return raw_features(frame[keep], where, schema), target[keep]


def _check_classes(y_fit: pd.Series, y: pd.Series | None, split: str, schema: TableSchema) -> None:
    """A class seen only outside train cannot be predicted by the model; say which."""
    if y is None or not schema.is_classification:
        return
    unseen = sorted(set(y.unique()) - set(y_fit.unique()), key=str)
    if unseen:
        raise DataError(
            f"{split}: class(es) {unseen[:10]} of {schema.target!r} never occur in the train "
            "split, so the model cannot learn them; split the table stratified by the target "
            "(python -m mpg_core.dataset --table ... --schema ...) or drop those rows"
        )


def _check_fit_target(y: pd.Series, schema: TableSchema, where: str) -> None:
    """A constant target leaves nothing to learn: a single class, or one regression value."""
    if y.nunique() < 2:
        kind = "class" if schema.is_classification else "value"
        raise DataError(
            f"{where}: the target {schema.target!r} is constant (a single {kind} "
            f"{list(y.unique())[:1]}); there is nothing to learn"
        )


def _output_name(split: str, config: PreprocessConfig) -> str:
    template = config.features_file
    if template is None:
        # With several instances every host writes into the same S3 prefix: keep names unique.
        template = "{split}-{host}.csv" if len(config.resources.hosts) > 1 else "{split}.csv"
    return template.format(split=split, host=config.resources.current_host)


def _fit_split(config: PreprocessConfig) -> tuple[pd.DataFrame, pd.Series, str, TableSchema]:
    """The labelled rows to fit on, how errors name them, and the schema with its text
    categorical columns found in them."""
    where = "train" if config.fits_on_train_dir else FIT
    schema = config.schema
    frame = read_raw_dir(config.fit_path, where, required=schema.feature_columns)
    schema = schema.with_text_columns(text_categories(frame, schema, where))
    X, y = _labelled(frame, where, schema)
    y = _required_target(y, where, schema)
    _check_fit_target(y, schema, where)
    return X, y, where, schema


def _required_target(y: pd.Series | None, where: str, schema: TableSchema) -> pd.Series:
    if y is None:
        raise DataError(
            f"{where}: the target column {schema.target!r} is missing; the train split "
            "must be labelled"
        )
    return y


def _host_split(
    split: str, directory: Path, config: PreprocessConfig, schema: TableSchema
) -> tuple[pd.DataFrame, pd.Series | None] | None:
    """This host's rows of ``split``, or None when its shard is empty (logged: with more
    instances than files some hosts get none, which is not an error)."""
    frame = read_raw_dir(directory, split, required=schema.feature_columns, allow_empty=True)
    if frame.empty:
        log.info(
            "no rows for this host: no features file written",
            extra={"split": split, "host": config.resources.current_host},
        )
        return None
    X, y = _labelled(frame, split, schema)
    return X, _required_target(y, split, schema) if split == "train" else y


def _check_target_leakage(
    config: PreprocessConfig, X_fit: pd.DataFrame, y_fit: pd.Series, schema: TableSchema
) -> None:
    """Stop (TargetLeakError, naming the column and its score) when a column alone predicts
    the target almost perfectly on held-out train and validation rows (mpg_core.leakage)."""
    X_valid = y_valid = None
    if config.validation_dir is not None:
        frame = read_raw_dir(
            config.validation_dir, "validation", required=schema.feature_columns, allow_empty=True
        )
        if not frame.empty:  # this host's shard; empty on a host without files
            X_valid, y_valid = _labelled(frame, "validation", schema)
    check_leakage(schema.task, X_fit, y_fit, schema.leak_checked_columns, X_valid, y_valid)


def run(config: PreprocessConfig) -> PreprocessResult:
    X_fit, y_fit, fit_name, schema = _fit_split(config)
    _check_target_leakage(config, X_fit, y_fit, schema)
    preprocessor = build_preprocessor(schema).fit(X_fit)
    fingerprint = estimator_sha256(preprocessor)
    log.info(
        "fitted preprocessor",
        extra={
            "input": fit_name,
            "rows": len(X_fit),
            "estimator_sha256": fingerprint,
            "target": schema.target,
            "task": schema.task,
        },
    )
    names = tuple(str(n) for n in preprocessor.get_feature_names_out())

    rows = {}
    for split, directory in config.splits().items():
        if directory is None:
            continue
        # One instance, no --fit: the train rows to transform are the ones just fitted on.
        reuse = split == "train" and config.fits_on_train_dir
        host_rows = (X_fit, y_fit) if reuse else _host_split(split, directory, config, schema)
        if host_rows is None:
            continue
        X, y = host_rows
        _check_classes(y_fit, y, split, schema)
        features = pd.DataFrame(preprocessor.transform(X), columns=list(names), index=X.index)
        if y is not None:
            label = y.to_numpy(dtype=np.float64) if not schema.is_classification else y
            features.insert(0, schema.target, label)
        path = config.features_dir / split / _output_name(split, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Every digit (the shortest text that reads back as the same float64): the histogram
        # family bins on exact values, so a feature rounded here can fall on the other side of
        # a bin edge than the same row transformed at serving time, and the training job's
        # test metrics would then differ from the evaluate job's on the same rows.
        features.to_csv(path, index=False)
        # The schema beside the features: a training job without the preprocessor channel
        # still knows the target and the task.
        write_features_schema(schema, path.parent)
        rows[split] = len(features)
        log.info("wrote features", extra={"split": split, "rows": len(features), "path": str(path)})

    tarball = None
    if config.resources.is_leader:
        # The compiled form is checked on the fitted rows, text cells as their codes.
        columns = schema.feature_columns
        sample = encoded_rows(
            X_fit, columns, estimator_levels("preprocessor", preprocessor, columns)
        )
        with tempfile.TemporaryDirectory() as tmp:
            write_artifact(
                Path(tmp),
                Artifact(
                    kind="preprocessor",
                    estimator=preprocessor,
                    input_columns=schema.feature_columns,
                    output_columns=names,
                    info={
                        "fitted_on_rows": len(X_fit),
                        "schema": schema.as_dict(),
                        # The monitoring baseline's raw columns; training carries them on.
                        RAW_STATISTICS_KEY: table_statistics(
                            X_fit, schema.feature_columns, schema.names("categorical")
                        ),
                    },
                ),
                sample,
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
