"""The fitted preprocessor's arithmetic in plain numpy, read from its fitted parameters.

scikit-learn spends ~3 ms per call on a one-row request (a pandas frame, per-step validation,
the column transformer's bookkeeping) to do ~5 µs of arithmetic. This module recognises the
exact preprocessor :func:`mpg_core.features.build_preprocessor` fits and replays the same
float64 operations in the same order, so the results are bit-for-bit those of ``transform``.
Anything else raises :class:`Unsupported` and the caller keeps scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpg_core.features import MODEL_YEAR, AgeFromModelYear


class Unsupported(Exception):
    """The estimator is not one the fast path reproduces exactly; serve it with scikit-learn."""


@dataclass(frozen=True)
class NumericBlock:
    """SimpleImputer (constant fill of NaN) then optionally StandardScaler."""

    columns: np.ndarray  # indices into the frame after the age step
    fill: np.ndarray
    mean: np.ndarray | None
    scale: np.ndarray | None

    def apply(self, frame: np.ndarray) -> np.ndarray:
        block = frame[:, self.columns]  # fancy indexing copies: safe to write in place
        np.copyto(block, self.fill, where=np.isnan(block))
        if self.mean is not None:
            block -= self.mean
        if self.scale is not None:
            block /= self.scale
        return block


@dataclass(frozen=True)
class OneHotBlock:
    """SimpleImputer then OneHotEncoder(handle_unknown="ignore"): unknown values are all zero."""

    columns: np.ndarray
    fill: np.ndarray
    categories: tuple[np.ndarray, ...]

    def apply(self, frame: np.ndarray) -> np.ndarray:
        block = frame[:, self.columns]
        np.copyto(block, self.fill, where=np.isnan(block))
        parts = [
            (block[:, [j]] == cats).astype(np.float64) for j, cats in enumerate(self.categories)
        ]
        return np.hstack(parts)


@dataclass(frozen=True)
class CompiledPreprocessor:
    """Raw rows (float64, NaN = missing, in ``input_columns`` order) -> feature matrix."""

    year_column: int
    reference_year: float
    blocks: tuple[NumericBlock | OneHotBlock, ...]
    n_outputs: int

    def transform(self, rows: np.ndarray) -> np.ndarray:
        # AgeFromModelYear drops model_year and appends age as the last column.
        years = rows[:, self.year_column]
        full_years = np.where(years < 100, years + 1900, years)
        age = self.reference_year - full_years
        frame = np.column_stack([np.delete(rows, self.year_column, axis=1), age])
        return np.hstack([block.apply(frame) for block in self.blocks])


def _fitted(estimator: Any, cls_name: str) -> Any:
    if type(estimator).__name__ != cls_name:
        raise Unsupported(f"expected {cls_name}, found {type(estimator).__name__}")
    return estimator


def _imputer_fill(imputer: Any) -> np.ndarray:
    _fitted(imputer, "SimpleImputer")
    if not (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)):
        raise Unsupported("SimpleImputer with missing_values other than NaN")
    if getattr(imputer, "add_indicator", False):
        raise Unsupported("SimpleImputer with add_indicator")
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    if not np.isfinite(fill).all():
        # scikit-learn drops all-missing columns; not worth reproducing.
        raise Unsupported("SimpleImputer with a column that had no values at fit time")
    return fill


def _steps(pipeline: Any) -> list[tuple[str, Any]]:
    _fitted(pipeline, "Pipeline")
    return list(pipeline.steps)


def _numeric(steps: list[tuple[str, Any]], columns: np.ndarray) -> NumericBlock:
    fill = _imputer_fill(steps[0][1])
    mean = scale = None
    if len(steps) == 2:
        scaler = _fitted(steps[1][1], "StandardScaler")
        if scaler.with_mean:
            mean = np.asarray(scaler.mean_, dtype=np.float64)
        if scaler.with_std:
            scale = np.asarray(scaler.scale_, dtype=np.float64)
    elif len(steps) != 1:
        raise Unsupported("numeric pipeline other than imputer [+ scaler]")
    return NumericBlock(columns=columns, fill=fill, mean=mean, scale=scale)


def _one_hot(steps: list[tuple[str, Any]], columns: np.ndarray) -> OneHotBlock:
    if len(steps) != 2:
        raise Unsupported("categorical pipeline other than imputer + one-hot encoder")
    fill = _imputer_fill(steps[0][1])
    encoder = _fitted(steps[1][1], "OneHotEncoder")
    if (
        encoder.handle_unknown != "ignore"
        or encoder.drop is not None
        or getattr(encoder, "_infrequent_enabled", False)
        or np.dtype(encoder.dtype) != np.float64
    ):
        raise Unsupported(
            "OneHotEncoder options other than handle_unknown='ignore', no drop, "
            "no infrequent categories, float64 output"
        )
    categories = tuple(np.asarray(c) for c in encoder.categories_)
    if any(c.dtype.kind not in "iuf" for c in categories):
        raise Unsupported("OneHotEncoder with non-numeric categories")
    return OneHotBlock(
        columns=columns, fill=fill, categories=tuple(c.astype(np.float64) for c in categories)
    )


def compile_preprocessor(estimator: Any, input_columns: Sequence[str]) -> CompiledPreprocessor:
    """The numpy form of a fitted ``build_preprocessor()`` pipeline, or :class:`Unsupported`."""
    steps = _steps(estimator)
    if len(steps) != 2 or not isinstance(steps[0][1], AgeFromModelYear):
        raise Unsupported("preprocessor other than AgeFromModelYear + ColumnTransformer")
    age_step, columns = steps[0][1], _fitted(steps[1][1], "ColumnTransformer")
    if MODEL_YEAR not in input_columns:
        raise Unsupported(f"no {MODEL_YEAR} column in the inputs")
    year_column = list(input_columns).index(MODEL_YEAR)
    after_age = [c for c in input_columns if c != MODEL_YEAR] + list(
        age_step.get_feature_names_out(list(input_columns))[-1:]
    )
    if columns.remainder != "drop" or getattr(columns, "sparse_output_", False):
        raise Unsupported("ColumnTransformer with a remainder or sparse output")
    blocks: list[NumericBlock | OneHotBlock] = []
    for name, transformer, selected in columns.transformers_:
        if transformer == "drop" or name == "remainder":
            continue
        if transformer == "passthrough" or not all(isinstance(s, str) for s in selected):
            raise Unsupported(
                f"column transformer step {name!r} is not a fitted pipeline "
                "selected by column names"
            )
        index = np.asarray([after_age.index(s) for s in selected], dtype=np.intp)
        steps = _steps(transformer)
        if type(steps[-1][1]).__name__ == "OneHotEncoder":
            blocks.append(_one_hot(steps, index))
        else:
            blocks.append(_numeric(steps, index))
    n_outputs = len(columns.get_feature_names_out())
    return CompiledPreprocessor(
        year_column=year_column,
        reference_year=float(age_step.reference_year),
        blocks=tuple(blocks),
        n_outputs=n_outputs,
    )
