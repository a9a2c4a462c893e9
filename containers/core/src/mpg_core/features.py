"""Feature engineering for Auto MPG: raw-row validation and the preprocessor that preprocessing
fits (on train only) and serving applies.

Everything here is picklable from an installed module, never from ``__main__``: the fitted
preprocessor is unpickled by other processes (training, gunicorn workers) in other images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mpg_core.errors import DataError
from mpg_core.schema import AGE, CATEGORICAL, FEATURES, MODEL_YEAR, NUMERIC, REFERENCE_YEAR


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


def build_preprocessor() -> Pipeline:
    """Unfitted preprocessor: age from model year; numerics median-imputed and standard-scaled;
    cylinders and origin one-hot encoded, unknown categories at inference encoded as all zeros."""
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    columns = ColumnTransformer(
        [("numeric", numeric, list(NUMERIC)), ("categorical", categorical, list(CATEGORICAL))],
        verbose_feature_names_out=False,
    )
    return Pipeline([("age", AgeFromModelYear()), ("columns", columns)])


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


def raw_features(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """The seven raw feature columns of ``frame``, validated and as float64."""
    return coerce_numeric(frame, FEATURES, where)
