"""The fast path equals the artifact's scikit-learn estimator (1e-6 relative) on every
test-split row and on 10,000 random valid rows, through both forest engines; the fast CSV
reader equals the strict one; a model the fast path cannot handle falls back, logged once."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import GradientBoostingRegressor

from mpg_core.artifacts import Artifact, load_artifact, save_artifact
from mpg_core.errors import RequestError
from mpg_core.schema import FEATURES
from mpg_serving import codecs
from mpg_serving.fast_csv import parse_numeric_csv
from mpg_serving.fast_forest import SMALL_BATCH_ROWS
from mpg_serving.predictor import load_predictor

RTOL = 1e-6


def random_raw_rows(n: int, seed: int = 7) -> np.ndarray:
    """Valid raw rows over (and past) the data's ranges: 2- and 4-digit model years, unknown
    cylinder and origin codes, and ~5% missing values (which the preprocessor imputes)."""
    rng = np.random.default_rng(seed)
    rows = np.column_stack(
        [
            rng.choice([3, 4, 5, 6, 8, 10], n),
            rng.uniform(60, 500, n).round(1),
            rng.uniform(40, 250, n).round(0),
            rng.uniform(1500, 5500, n).round(0),
            rng.uniform(7, 26, n).round(1),
            np.where(rng.random(n) < 0.5, rng.integers(68, 85, n), rng.integers(1968, 1990, n)),
            rng.choice([1, 2, 3, 4], n),
        ]
    ).astype(np.float64)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


def reference(model_dir: Path, rows: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """The artifact as training wrote it, through scikit-learn's own predict/transform."""
    artifact = load_artifact(model_dir)
    if artifact.kind == "model":
        return np.asarray(artifact.estimator.predict(rows))
    frame = pd.DataFrame(rows, columns=list(columns))
    if artifact.kind == "preprocessor":
        return np.asarray(artifact.estimator.transform(frame))
    return np.asarray(artifact.estimator.predict(frame))


def in_chunks(predict, rows: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([predict(rows[i : i + size]) for i in range(0, len(rows), size)])


@pytest.fixture(scope="module")
def test_rows(trained) -> np.ndarray:
    test = pd.read_csv(trained.bronze / "test" / "test.csv")
    return test[list(FEATURES)].to_numpy(dtype=np.float64)


@pytest.mark.parametrize("kind", ["pipeline_dir", "preprocessor_dir"])
def test_raw_row_artifacts_match_sklearn(trained, test_rows: np.ndarray, kind: str) -> None:
    model_dir = getattr(trained, kind)
    predictor = load_predictor(model_dir)
    assert predictor.fast is not None, "the fast path should take this artifact"
    for rows in (test_rows, random_raw_rows(10_000)):
        expected = reference(model_dir, rows, predictor.input_columns)
        # One big batch (per-tree engine), and GTIL-sized chunks (small-batch engine).
        np.testing.assert_allclose(predictor.predict(rows), expected, rtol=RTOL)
        chunked = in_chunks(predictor.predict, rows, SMALL_BATCH_ROWS)
        np.testing.assert_allclose(chunked, expected, rtol=RTOL)
    one_by_one = in_chunks(predictor.predict, test_rows, 1)
    np.testing.assert_allclose(one_by_one, reference(model_dir, test_rows, FEATURES), rtol=RTOL)


def test_model_artifact_matches_sklearn(trained) -> None:
    predictor = load_predictor(trained.model_dir)
    assert predictor.fast is not None
    features = pd.read_csv(trained.features / "test" / "test.csv").drop(columns=["mpg"])
    rng = np.random.default_rng(3)
    for rows in (features.to_numpy(dtype=np.float64), rng.normal(size=(10_000, features.shape[1]))):
        expected = reference(trained.model_dir, rows, predictor.input_columns)
        np.testing.assert_allclose(predictor.predict(rows), expected, rtol=RTOL)
        np.testing.assert_allclose(in_chunks(predictor.predict, rows, 16), expected, rtol=RTOL)


def test_values_beyond_float32_are_a_client_error(trained) -> None:
    predictor = load_predictor(trained.pipeline_dir)
    row = np.array([[8, 307, 130, 1e300, 12, 70, 1]], dtype=np.float64)
    with pytest.raises(RequestError, match="too large"):
        predictor.predict(row)


def test_unsupported_model_falls_back_to_sklearn_logged_once(
    trained, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    features = pd.read_csv(trained.features / "train" / "train.csv")
    X, y = features.drop(columns=["mpg"]), features["mpg"]
    boosted = GradientBoostingRegressor(n_estimators=5).fit(X.to_numpy(), y)
    save_artifact(tmp_path, Artifact("model", boosted, tuple(X.columns), ("mpg",)))
    with caplog.at_level(logging.INFO, logger="mpg_serving"):
        predictor = load_predictor(tmp_path)
        rows = X.to_numpy(dtype=np.float64)
        np.testing.assert_allclose(predictor.predict(rows), boosted.predict(rows), rtol=RTOL)
        predictor.predict(rows)
    assert predictor.fast is None
    fallbacks = [r for r in caplog.records if "fast path unavailable" in r.getMessage()]
    assert len(fallbacks) == 1


# --- the fast CSV reader never changes what a body means -------------------------------------

number_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.text(alphabet="0123456789.+-eE", min_size=0, max_size=8),  # mostly not numbers
)


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.lists(number_text, min_size=6, max_size=8), min_size=1, max_size=5),
    line_end=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
    allow_missing=st.booleans(),
)
def test_fast_csv_equals_strict_csv(
    rows: list[list[str]], line_end: str, trailing: bool, allow_missing: bool
) -> None:
    body = (line_end.join(",".join(r) for r in rows) + (line_end if trailing else "")).encode()
    columns = FEATURES
    try:
        strict = codecs.decode_csv_strict(body, columns, allow_missing)
    except RequestError:
        strict = None
    fast = parse_numeric_csv(body, len(columns))
    if fast is None:
        return  # the strict reader decides, as it did before
    assert strict is not None, f"fast reader accepted what the strict one refuses: {body!r}"
    np.testing.assert_array_equal(fast, strict)


def test_fast_csv_reads_large_bodies_exactly() -> None:
    rows = random_raw_rows(20_000, seed=11)
    rows = rows[~np.isnan(rows).any(axis=1)]
    rows[:, 1] = rows[:, 1] * np.pi  # full 17-digit floats, not just one decimal
    body = "\n".join(",".join(repr(float(v)) for v in r) for r in rows).encode()
    assert len(body) > 64 * 1024
    np.testing.assert_array_equal(parse_numeric_csv(body, 7), rows)
    broken = body.replace(b"\n", b",", 1)  # one line of 14 cells, one short line
    assert parse_numeric_csv(broken, 7) is None
