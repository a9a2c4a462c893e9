import numpy as np
import pandas as pd
import pytest

from mpg_core.errors import DataError
from mpg_core.features import AgeFromModelYear, build_preprocessor, coerce_numeric, raw_features
from mpg_core.schema import FEATURES


def frame(rows: list[list[object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FEATURES))


TRAIN = frame(
    [
        [8, 307, 130, 3504, 12.0, 70, 1],
        [4, 97, 88, 2130, 14.5, 70, 3],
        [4, 104, 95, 2375, 17.5, 70, 2],
        [6, 199, None, 2648, 15.0, 70, 1],
        [4, 91, 53, 1795, 17.5, 82, 3],
    ]
)


def test_age_from_two_and_four_digit_years() -> None:
    out = (
        AgeFromModelYear(reference_year=1983)
        .fit(TRAIN)
        .transform(frame([[4, 1, 1, 1, 1, 70, 1], [4, 1, 1, 1, 1, 1982, 1]]))
    )
    assert "model_year" not in out.columns
    assert out["age"].tolist() == [13, 1]


def test_preprocessor_output_names_and_shape() -> None:
    pre = build_preprocessor().fit(TRAIN)
    names = list(pre.get_feature_names_out())
    assert names[:5] == ["displacement", "horsepower", "weight", "acceleration", "age"]
    assert names[5:] == [
        "cylinders_4",
        "cylinders_6",
        "cylinders_8",
        "origin_1",
        "origin_2",
        "origin_3",
    ]
    assert pre.transform(TRAIN).shape == (5, len(names))


def test_numerics_are_scaled_with_train_statistics_only() -> None:
    pre = build_preprocessor().fit(TRAIN)
    z = pre.transform(TRAIN)[:, :5]
    assert np.allclose(z.mean(axis=0), 0, atol=1e-12)
    # A second call on other data must reuse train's mean and scale, not refit.
    shifted = TRAIN.assign(weight=TRAIN["weight"] + 1000)
    assert pre.transform(shifted)[:, 2].mean() > 1


def test_missing_values_are_imputed_with_the_train_median() -> None:
    pre = build_preprocessor().fit(TRAIN)
    median_hp = float(np.median([130, 88, 95, 53]))
    scaler = pre.named_steps["columns"].named_transformers_["numeric"].named_steps["scale"]
    row = frame([[4, 97, None, 2130, 14.5, 70, 3]])
    expected = (median_hp - scaler.mean_[1]) / scaler.scale_[1]
    assert pre.transform(row)[0, 1] == pytest.approx(expected)


def test_unknown_categories_encode_as_zeros() -> None:
    pre = build_preprocessor().fit(TRAIN)
    out = pre.transform(frame([[10, 97, 88, 2130, 14.5, 70, 9]]))
    assert not np.isnan(out).any()
    assert out[0, 5:].sum() == 0  # no cylinders or origin column set


def test_coerce_numeric_accepts_missing_markers_and_rejects_text() -> None:
    raw = pd.DataFrame({"a": ["1", "?", "", "nan", " 2.5 "]})
    assert coerce_numeric(raw, ["a"], "t")["a"].isna().tolist() == [False, True, True, True, False]
    with pytest.raises(DataError, match=r"column 'a' has non-numeric values \['abc'\]"):
        coerce_numeric(pd.DataFrame({"a": ["1", "abc"]}), ["a"], "t")
    with pytest.raises(DataError, match="infinite"):
        coerce_numeric(pd.DataFrame({"a": [1.0, np.inf]}), ["a"], "t")
    with pytest.raises(DataError, match="missing values"):
        coerce_numeric(pd.DataFrame({"a": [1.0, None]}), ["a"], "t", allow_missing=False)


def test_raw_features_names_missing_columns() -> None:
    with pytest.raises(DataError, match="missing column"):
        raw_features(TRAIN.drop(columns=["origin"]), "train")
