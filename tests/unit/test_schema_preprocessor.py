"""The preprocessor built from a schema, and its compiled form: no age step, or several."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpg_core.artifact.compiled import UNSEEN_CODE, NotCompilable
from mpg_core.artifact.levels import encoded_rows, estimator_levels
from mpg_core.artifact.npz import load_compiled, save_compiled
from mpg_core.artifact.parity import compile_checked
from mpg_core.features import build_preprocessor, raw_features
from mpg_core.table_schema import TableSchema


def _schema(columns: list[dict]) -> TableSchema:
    return TableSchema.from_dict({"target": "y", "task": "regression", "column": columns})


def _frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "built": rng.integers(1950, 2020, rows).astype(float),
            "size": rng.normal(50, 10, rows),
            "kind": rng.choice([1.0, 2.0, 5.0], rows),
            "renovated": rng.integers(0, 99, rows).astype(float),  # two-digit years
            "colour": rng.choice(["red", "blue"], rows),
        }
    )
    frame.loc[::7, "size"] = np.nan
    return frame


TWO_AGES = [
    {"name": "built", "role": "age_from_year", "reference_year": 2024},
    {"name": "size", "role": "numeric"},
    {"name": "kind", "role": "categorical"},
    {"name": "renovated", "role": "age_from_year", "reference_year": 2000, "age_column": "r"},
    {"name": "colour", "role": "ignored"},
]


@pytest.mark.parametrize(
    "columns",
    [TWO_AGES, [{"name": "size", "role": "numeric"}, {"name": "kind", "role": "categorical"}]],
    ids=["two-age-steps", "no-age-step"],
)
def test_compiled_form_equals_the_fitted_preprocessor(columns: list[dict], tmp_path: Path) -> None:
    schema = _schema(columns)
    X = raw_features(_frame(), "t", schema)
    pre = build_preprocessor(schema).fit(X)
    checked = compile_checked("preprocessor", pre, schema.feature_columns, X.to_numpy())
    assert checked.max_relative_error <= 1e-6
    save_compiled(tmp_path / "c.npz", checked.model)
    again = load_compiled(tmp_path / "c.npz")
    rows = X.to_numpy()
    np.testing.assert_array_equal(again.predict(rows), checked.model.predict(rows))
    names = list(pre.get_feature_names_out())
    if schema.age_columns:
        assert names[:3] == ["size", "built_age", "r"]  # numerics, then ages in schema order


def test_text_categories_are_compiled_with_their_levels(tmp_path: Path) -> None:
    schema = _schema(
        [{"name": "size", "role": "numeric"}, {"name": "colour", "role": "categorical"}]
    ).with_text_columns({"colour"})
    X = raw_features(_frame(), "t", schema)
    pre = build_preprocessor(schema).fit(X)
    assert list(pre.get_feature_names_out()) == ["size", "colour_blue", "colour_red"]
    levels = estimator_levels("preprocessor", pre, schema.feature_columns)
    assert levels == (None, ("blue", "red"))
    rows = encoded_rows(X, schema.feature_columns, levels)
    checked = compile_checked("preprocessor", pre, schema.feature_columns, rows)
    assert checked.max_relative_error <= 1e-6
    save_compiled(tmp_path / "c.npz", checked.model)
    again = load_compiled(tmp_path / "c.npz")
    assert again.input_levels == levels
    # An unseen level and a missing one, as codes: all zeros, and the most frequent level.
    odd = np.array([[50.0, UNSEEN_CODE], [50.0, np.nan]])
    frame = pd.DataFrame({"size": [50.0, 50.0], "colour": ["green", np.nan]}, dtype=object)
    np.testing.assert_array_equal(again.predict(odd), pre.transform(frame))
    assert again.predict(odd)[0, 1:].tolist() == [0.0, 0.0]


def test_an_encoder_mixing_text_and_numbers_is_not_compiled() -> None:
    from mpg_core.artifact.compiler import text_levels

    with pytest.raises(NotCompilable, match="mix"):
        text_levels(np.array(["a", 1.0], dtype=object))
