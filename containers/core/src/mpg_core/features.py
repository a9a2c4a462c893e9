"""Feature engineering from a table schema: raw-row validation and the preprocessor that
preprocessing fits (on train only) and serving applies. Auto MPG's schema is the default.

Everything here is picklable from an installed module, never from ``__main__``: the fitted
preprocessor is unpickled by other processes (training, gunicorn workers) in other images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from mpg_core.errors import DataError
from mpg_core.schema import AGE, MODEL_YEAR, REFERENCE_YEAR
from mpg_core.table_schema import ORDINAL_UNKNOWN, TableSchema, default_schema


class AgeFromModelYear(TransformerMixin, BaseEstimator):
    """Replace ``model_year`` (two-digit, as in UCI, or four-digit) by the car's age in years at
    ``reference_year``. Stateless: fitting learns nothing, so no information leaks."""

    def __init__(self, reference_year: int = REFERENCE_YEAR) -> None:
        self.reference_year = reference_year

    def fit(self, X: pd.DataFrame, y: object = None) -> AgeFromModelYear:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        years = X[MODEL_YEAR].to_numpy(dtype=float)
        full_years = np.where(years < 100, years + 1900, years)
        return X.drop(columns=[MODEL_YEAR]).assign(**{AGE: self.reference_year - full_years})

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray([n for n in names if n != MODEL_YEAR] + [AGE], dtype=object)


class AgeFromYear(TransformerMixin, BaseEstimator):
    """Replace the year column ``column`` (two-digit years are 19xx, as in UCI, or four-digit)
    by the age in years at ``reference_year``, appended last as ``age_column``: the schema's
    ``age_from_year`` role. Stateless: fitting learns nothing, so no information leaks."""

    def __init__(
        self, column: str = MODEL_YEAR, reference_year: int = REFERENCE_YEAR, age_column: str = AGE
    ) -> None:
        self.column = column
        self.reference_year = reference_year
        self.age_column = age_column

    def fit(self, X: pd.DataFrame, y: object = None) -> AgeFromYear:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        years = X[self.column].to_numpy(dtype=float)
        full_years = np.where(years < 100, years + 1900, years)
        ages = self.reference_year - full_years
        return X.drop(columns=[self.column]).assign(**{self.age_column: ages})

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray([n for n in names if n != self.column] + [self.age_column], dtype=object)


def build_preprocessor(schema: TableSchema | None = None) -> Pipeline:
    """Unfitted preprocessor for ``schema`` (default: Auto MPG): each ``age_from_year`` column
    replaced by its age (appended last, in schema order); numeric columns and ages
    median-imputed and standard-scaled; categorical columns imputed with their most frequent
    value and one-hot encoded (numbers or strings), at most ``max_categorical_levels`` columns
    each: the rarer levels share one column (scikit-learn's ``max_categories``), which a level
    unseen in training joins, else (no rare levels) it encodes as all zeros; ordinal columns
    imputed with their most frequent value and encoded as their rank in ``order`` (0 the
    lowest; any other value :data:`~mpg_core.table_schema.ORDINAL_UNKNOWN`); ignored columns
    dropped. Feature order: numerics, ages, the one-hot columns, then the ordinal ones; for
    Auto MPG exactly the preprocessor before schemas travelled."""
    schema = schema or default_schema()
    steps: list[tuple[str, Any]] = [
        (
            f"age_{c.name}" if i else "age",
            AgeFromYear(c.name, int(c.reference_year or 0), str(c.age_column)),
        )
        for i, c in enumerate(schema.age_columns)
    ]
    numeric_columns = [*schema.names("numeric"), *(str(c.age_column) for c in schema.age_columns)]
    categorical_columns = list(schema.names("categorical"))
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=schema.max_categorical_levels,
                    sparse_output=False,
                ),
            ),
        ]
    )
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric_columns:
        transformers.append(("numeric", numeric, numeric_columns))
    if categorical_columns:
        transformers.append(("categorical", categorical, categorical_columns))
    if schema.ordinal_columns:
        ordinal = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                (
                    "ordinal",
                    OrdinalEncoder(
                        categories=[list(c.order) for c in schema.ordinal_columns],
                        handle_unknown="use_encoded_value",
                        unknown_value=int(ORDINAL_UNKNOWN),
                    ),
                ),
            ]
        )
        transformers.append(("ordinal", ordinal, [c.name for c in schema.ordinal_columns]))
    columns = ColumnTransformer(transformers, verbose_feature_names_out=False)
    return Pipeline([*steps, ("columns", columns)])


def coerce_numeric(
    frame: pd.DataFrame, columns: Sequence[str], where: str, allow_missing: bool = True
) -> pd.DataFrame:
    """Return ``frame[columns]`` as float64, raising DataError that names the first bad values.

    Empty cells, ``?`` and ``nan`` are missing values (the imputers fill them); text and
    infinities are errors, never silently turned into NaN."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {missing}; expected {list(columns)}, "
            f"found {list(frame.columns)}"
        )
    out = {}
    for name in columns:
        raw = frame[name]
        if raw.dtype.kind in "biuf":
            values = raw.astype("float64")
        else:
            text = raw.astype("string").str.strip()
            blank = raw.isna() | text.isin(["", "?"]) | text.str.lower().isin(["nan", "na"])
            values = pd.to_numeric(text.mask(blank), errors="coerce").astype("float64")
            bad = values.isna() & ~blank
            if bad.any():
                rows = list(bad[bad].index[:3])
                samples = [str(raw[r]) for r in rows]
                raise DataError(
                    f"{where}: column {name!r} has non-numeric values {samples} (rows {rows})"
                )
        if np.isinf(values.to_numpy()).any():
            raise DataError(f"{where}: column {name!r} has infinite values")
        if not allow_missing and values.isna().any():
            raise DataError(f"{where}: column {name!r} has missing values")
        out[name] = values
    return pd.DataFrame(out, index=frame.index)


def _text_values(frame: pd.DataFrame, name: str) -> pd.Series:
    """A categorical text column as Python strings (surrounding spaces dropped), missing
    values (empty, ``?``, ``nan``) as NaN, which the imputer fills."""
    raw = frame[name]
    text = raw.astype("string").str.strip()
    blank = raw.isna() | text.isin(["", "?"]) | text.str.lower().isin(["nan", "na"])
    return text.mask(blank).astype(object).where(~blank, np.nan)


def raw_features(
    frame: pd.DataFrame, where: str, schema: TableSchema | None = None
) -> pd.DataFrame:
    """The schema's raw feature columns of ``frame`` (default: Auto MPG's seven), validated:
    float64, but text categorical columns (``Column.text``) as strings."""
    schema = schema or default_schema()
    text = set(schema.text_columns)
    numeric = [c for c in schema.feature_columns if c not in text]
    out = coerce_numeric(frame, numeric, where)
    if not text:
        return out
    missing = sorted(text - set(frame.columns))
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; found {list(frame.columns)}")
    for name in text:
        out[name] = _text_values(frame, name)
    return out[list(schema.feature_columns)]


def text_categories(frame: pd.DataFrame, schema: TableSchema, where: str) -> set[str]:
    """The schema's categorical columns of ``frame`` that hold text (some value is not a
    number). A column with more levels than max_categorical_levels is kept: its rarer levels
    share one column (:func:`build_preprocessor`)."""
    found = set()
    for name in schema.names("categorical"):
        if name not in frame.columns:
            continue  # raw_features names it
        values = frame[name]
        if values.dtype.kind in "biuf":
            continue
        present = _text_values(frame, name).dropna()
        if pd.to_numeric(present, errors="coerce").isna().any():
            found.add(name)
    return found


def target_values(frame: pd.DataFrame, schema: TableSchema, where: str) -> pd.Series:
    """The target column: float64 for regression; for classification the labels as given,
    strings stripped, whole numbers as int64 (a column with a gap reads as float in pandas,
    and ``1.0`` is the class ``1``). Missing values stay NaN, for the caller to drop."""
    target = schema.target
    if not schema.is_classification:
        return coerce_numeric(frame, [target], where)[target]
    raw = frame[target]
    if raw.dtype.kind in "biuf":
        present = raw.dropna()
        if (present % 1 == 0).all():
            return raw.astype("Int64").astype(object).where(raw.notna(), np.nan)
        return raw.astype("float64")
    text = raw.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""), np.nan)
