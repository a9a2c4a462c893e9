"""Parity, end to end, over generated tables: a CSV table with text categories (levels with
spaces, commas and capitals; missing cells; an ordered column, which init makes ordinal;
more levels than max_categorical_levels, so rare ones are grouped) goes through init's
inference, the preprocessing job's reader and a pipeline of any of the four families; a
request body of raw rows (unseen levels, missing cells, stray spaces; headerless or with the
table's own header in another order) read by the serving row reader and answered by the
compiled form (through compiled.npz) equals scikit-learn's own pipeline on the same rows,
read as the job reads a table, within 1e-6, probabilities included."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import Pipeline

from mpg_core.artifact.levels import encoded_rows, estimator_levels
from mpg_core.artifact.npz import load_compiled, save_compiled
from mpg_core.artifact.parity import PARITY_ATOL_PROBA, PARITY_RTOL, compile_checked
from mpg_core.dataset import read_table
from mpg_core.features import build_preprocessor, raw_features, target_values, text_categories
from mpg_core.schema import canonical_name
from mpg_core.table_schema import TableSchema, infer_schema
from mpg_serving.rows import RowReader

FAMILIES = {
    "random_forest": (RandomForestRegressor, RandomForestClassifier, {"n_estimators": 8}),
    "extra_trees": (ExtraTreesRegressor, ExtraTreesClassifier, {"n_estimators": 8}),
    "gradient_boosting": (
        GradientBoostingRegressor,
        GradientBoostingClassifier,
        {"n_estimators": 15, "max_depth": 3},
    ),
    "hist_gradient_boosting": (
        HistGradientBoostingRegressor,
        HistGradientBoostingClassifier,
        {"max_iter": 15},
    ),
}

level = (
    st.text(alphabet="abcXYZ é,-", min_size=1, max_size=7)
    .map(str.strip)
    .filter(lambda s: s and s.lower() not in {"na", "nan"})
)


@st.composite
def tables(draw: st.DrawFn) -> dict:
    return {
        "seed": draw(st.integers(0, 2**16)),
        "rows": draw(st.integers(40, 160)),
        "numbers": draw(st.integers(0, 2)),
        "levels": draw(
            st.lists(st.lists(level, min_size=2, max_size=8, unique=True), min_size=1, max_size=3)
        ),
        "missing": draw(st.sampled_from([0.0, 0.1, 0.3])),
        # An ordered column (init proposes ordinal), and a level limit that groups rare ones.
        "scale": draw(st.sampled_from([(), ("low", "medium", "high"), ("S", "M", "L", "XL")])),
        "max_levels": draw(st.sampled_from([3, 4, 50])),
        "task": draw(st.sampled_from(["regression", "binary", "multiclass"])),
        "family": draw(st.sampled_from(sorted(FAMILIES))),
    }


def _frame(spec: dict, rows: int, rng: np.random.Generator, unseen: bool) -> pd.DataFrame:
    data: dict[str, object] = {}
    for j in range(spec["numbers"]):
        data[f"Number {j}"] = rng.normal(10 * j, 3, rows).round(3)
    for j, levels in enumerate(spec["levels"]):
        pool = [*levels, "never seen"] if unseen else levels
        values = rng.choice(pool, rows).astype(object)
        spaced = rng.random(rows) < 0.15
        values[spaced] = [f"  {v} " for v in values[spaced]]
        data[f"Text {j}"] = values
    if spec["scale"]:
        pool = [*spec["scale"], "off the scale"] if unseen else list(spec["scale"])
        data["Scale"] = rng.choice(pool, rows).astype(object)
    frame = pd.DataFrame(data)
    for name in frame.columns:
        frame[name] = frame[name].astype(object).where(rng.random(rows) >= spec["missing"], None)
    return frame


def _target(spec: dict, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    score = rng.normal(0, 0.3, len(frame))
    for name in frame.columns:
        values = frame[name].astype(str).str.strip()
        score += values.map(lambda v: (hash(v) % 7) / 3.0).to_numpy()
    if spec["task"] == "regression":
        return score.round(4)
    cuts = np.quantile(score, [0.5] if spec["task"] == "binary" else [0.33, 0.66])
    return np.asarray(["no", "yes", "maybe"])[np.searchsorted(cuts, score)]


def _fit(spec: dict, tmp: Path) -> tuple[Pipeline, TableSchema] | None:
    rng = np.random.default_rng(spec["seed"])
    frame = _frame(spec, spec["rows"], rng, unseen=False)
    frame["target"] = _target(spec, frame, rng)
    path = tmp / "table.csv"
    frame.to_csv(path, index=False)
    table = read_table(path)
    if table["target"].nunique() < 2:
        return None
    try:
        schema, _ = infer_schema(table, "target", max_categorical_levels=spec["max_levels"])
    except Exception:  # a draw where every column is constant: nothing to learn
        return None
    schema = schema.with_text_columns(text_categories(table, schema, "t"))
    X = raw_features(table, "t", schema)
    y = target_values(table, schema, "t")
    regressor, classifier, params = FAMILIES[spec["family"]]
    model = (regressor if schema.task == "regression" else classifier)(random_state=0, **params)
    pre = build_preprocessor(schema).fit(X)
    return Pipeline([("preprocess", pre), ("model", model.fit(pre.transform(X), y))]), schema


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spec=tables(), header=st.booleans())
def test_the_walk_answers_as_the_pipeline_on_raw_rows(
    spec: dict, header: bool, tmp_path: Path
) -> None:
    fitted = _fit(spec, tmp_path)
    if fitted is None:
        return
    pipeline, schema = fitted
    columns = schema.feature_columns
    if spec["scale"] and "scale" in columns:
        assert [c.order for c in schema.ordinal_columns] == [spec["scale"]]
    levels = estimator_levels("pipeline", pipeline, columns)
    X = raw_features(read_table(tmp_path / "table.csv"), "t", schema)
    checked = compile_checked("pipeline", pipeline, columns, encoded_rows(X, columns, levels))
    save_compiled(tmp_path / "c.npz", checked.model)
    compiled = load_compiled(tmp_path / "c.npz")

    rng = np.random.default_rng(spec["seed"] + 1)
    request = _frame(spec, 60, rng, unseen=True)
    if header:  # the table's own layout: its header, columns reversed, the id-like target
        body = request[list(reversed(request.columns))].assign(target=1).to_csv(index=False)
    else:
        named = request.rename(columns=canonical_name)
        body = named[list(columns)].to_csv(index=False, header=False)
    reader = RowReader(columns, levels, allow_missing=True, table_columns=["target"])
    got = compiled.predict(reader.read_csv(body.encode()).matrix)

    as_read = pd.read_csv(io.StringIO(request.to_csv(index=False)))
    as_read.columns = [canonical_name(c) for c in as_read.columns]
    rows = raw_features(as_read, "request", schema)
    if schema.is_classification:
        expected = pipeline.predict_proba(rows)
        np.testing.assert_allclose(got, expected, rtol=0, atol=PARITY_ATOL_PROBA)
    else:
        expected = pipeline.predict(rows)
        np.testing.assert_allclose(got, expected, rtol=PARITY_RTOL, atol=1e-12)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_every_family_and_task_on_the_shop_table(family: str, task: str, tmp_path: Path) -> None:
    """The generated shop table (tests/tables.py): text categories, ~60-level city, missing
    values; its test rows as they stand in the file (header, id and target included)."""
    from tests.tables import shop

    table = shop(rows=600, task=task, seed=3)
    path = table.write(tmp_path)
    frame = read_table(path)
    schema, _ = infer_schema(frame, table.target, max_categorical_levels=80)
    schema = schema.with_text_columns(text_categories(frame, schema, "t"))
    assert {"colour", "grade", "size", "city"} <= set(schema.text_columns)
    X, y = raw_features(frame, "t", schema), target_values(frame, schema, "t")
    regressor, classifier, params = FAMILIES[family]
    model = (regressor if task == "regression" else classifier)(random_state=0, **params)
    pre = build_preprocessor(schema).fit(X[:400])
    pipeline = Pipeline([("p", pre), ("m", model.fit(pre.transform(X[:400]), y[:400]))])
    columns = schema.feature_columns
    levels = estimator_levels("pipeline", pipeline, columns)
    compiled = compile_checked("pipeline", pipeline, columns).model
    body = (
        path.read_text().split("\n", 1)[0] + "\n" + "\n".join(path.read_text().splitlines()[401:])
    )
    reader = RowReader(columns, levels, True, [c.name for c in schema.columns] + [schema.target])
    got = compiled.predict(reader.read_csv(body.encode()).matrix)
    rest = X[400:]
    expected = pipeline.predict_proba(rest) if task == "classification" else pipeline.predict(rest)
    np.testing.assert_allclose(got, expected, rtol=PARITY_RTOL, atol=1e-9)
