"""The compiled walk against scikit-learn for every tree family and task: regression, binary and
multiclass classification, on random rows with missing values (property-tested), through
compiled.npz and back, and as a pipeline behind the Auto MPG preprocessor on raw rows with
unseen categories. What it does not reproduce is refused (NotCompilable), never approximated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpg_core.artifact import compiler, npz, parity
from mpg_core.artifact.compiled import CompiledModel, NotCompilable
from mpg_core.hyperparameters import ALGORITHMS, Hyperparameters
from mpg_training.estimators import build_estimator

WIDTH = 5
TASKS = ("regression", "binary", "multiclass")
# scikit-learn's gradient boosting refuses NaN at predict; every other family routes it.
TAKES_NAN = {"random_forest", "extra_trees", "hist_gradient_boosting"}


def table(task: str, seed: int = 0, missing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, WIDTH))
    score = X[:, 0] + np.sin(2 * X[:, 1]) + 0.3 * rng.normal(size=300)
    if task == "regression":
        y: np.ndarray = score
    elif task == "binary":
        y = np.where(score > 0, "yes", "no")  # string labels: classes_ sorted, as the contract
    else:
        y = np.digitize(score, [-1.0, 0.0, 1.0])  # four integer classes
    if missing:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def fit(algorithm: str, task: str) -> Any:
    hp = Hyperparameters(algorithm=algorithm, n_estimators=15, random_state=3)
    kind = "regression" if task == "regression" else "classification"
    estimator = build_estimator(kind, hp)
    try:  # learn NaN directions where the family can
        return estimator.fit(*table(task, missing=True))
    except ValueError:
        return estimator.fit(*table(task))


MODELS = [(a, t) for a in ALGORITHMS for t in TASKS]


@pytest.fixture(scope="module")
def fitted() -> dict[tuple[str, str], tuple[Any, CompiledModel]]:
    out = {}
    for algorithm, task in MODELS:
        model = fit(algorithm, task)
        out[algorithm, task] = (model, compiler.compile_estimator("model", model, ()))
    return out


def sklearn_answer(model: Any, rows: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(rows))
    return np.asarray(model.predict(rows))


def assert_same_answers(got: np.ndarray, model: Any, rows: np.ndarray) -> None:
    expected = sklearn_answer(model, rows)
    if hasattr(model, "predict_proba"):
        assert parity.proba_error(got, expected) <= parity.PARITY_ATOL_PROBA
        assert got.shape == (len(expected), len(model.classes_))
        # The label the endpoint answers: first most probable class, as scikit-learn's predict.
        ordered = np.sort(expected, axis=1)
        clear = ordered[:, -1] - ordered[:, -2] > 1e-9
        labels = model.classes_[got.argmax(axis=1)]
        assert (labels[clear] == model.predict(rows)[clear]).all()
    else:
        np.testing.assert_allclose(got, expected, rtol=parity.PARITY_RTOL, atol=0)


rows_strategy = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 40), st.just(WIDTH)),
    elements=st.one_of(
        st.floats(-4, 4, allow_nan=False, width=32),
        st.just(np.nan),
        st.floats(-1e30, 1e30, allow_nan=False),
    ),
)


@pytest.mark.parametrize(("algorithm", "task"), MODELS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows_strategy)
def test_the_walk_equals_sklearn_on_any_rows(
    fitted: dict[tuple[str, str], tuple[Any, CompiledModel]],
    algorithm: str,
    task: str,
    rows: np.ndarray,
) -> None:
    model, compiled = fitted[algorithm, task]
    if algorithm not in TAKES_NAN:
        rows = np.nan_to_num(rows, nan=0.5)
    assert compiled.forest is not None
    assert_same_answers(compiled.forest.predict(rows), model, rows)


@pytest.mark.parametrize(("algorithm", "task"), MODELS)
def test_parity_gate_and_npz_round_trip(
    fitted: dict[tuple[str, str], tuple[Any, CompiledModel]],
    algorithm: str,
    task: str,
    tmp_path: Path,
) -> None:
    model, _ = fitted[algorithm, task]
    X, _ = table(task, seed=1)
    checked = parity.compile_checked("model", model, [f"x{j}" for j in range(WIDTH)], X)
    assert checked.max_relative_error <= 1e-9  # in practice the same bits
    npz.save_compiled(tmp_path / "c.npz", checked.model)
    loaded = npz.load_compiled(tmp_path / "c.npz")
    rows = parity.random_rows(checked.model, 2000)
    np.testing.assert_array_equal(loaded.predict(rows), checked.model.predict(rows))
    assert_same_answers(loaded.predict(rows), model, rows)


def test_multiclass_boosting_adds_one_tree_per_class_and_iteration(
    fitted: dict[tuple[str, str], tuple[Any, CompiledModel]],
) -> None:
    for algorithm in ("gradient_boosting", "hist_gradient_boosting"):
        compiled = fitted[algorithm, "multiclass"][1]
        forest = compiled.forest
        assert forest is not None and forest.link == "softmax" and not forest.average
        assert len(forest.roots) == 15 * 4
        np.testing.assert_array_equal(forest.columns32[:8], [0, 1, 2, 3, 0, 1, 2, 3])
    _, binary = fitted["hist_gradient_boosting", "binary"]
    assert binary.forest is not None and binary.forest.link == "logistic"
    assert binary.forest.n_outputs == 1


def test_histogram_missing_values_follow_each_nodes_direction(
    fitted: dict[tuple[str, str], tuple[Any, CompiledModel]],
) -> None:
    model, compiled = fitted["hist_gradient_boosting", "regression"]
    forest = compiled.forest
    assert forest is not None
    inner = forest.left != np.arange(len(forest.left))
    # Trained with missing values: some nodes send them right, some left.
    assert 0 < forest.nan_left8[inner].sum() < inner.sum()
    rows = np.full((1, WIDTH), np.nan)
    np.testing.assert_allclose(forest.predict(rows), model.predict(rows), rtol=1e-12)


def test_categorical_histogram_splits_are_served_by_sklearn() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = table("regression")
    X[:, 2] = np.abs(X[:, 2] * 3).round() % 5
    model = HistGradientBoostingRegressor(max_iter=5, categorical_features=[2]).fit(X, y)
    with pytest.raises(NotCompilable, match="categorical"):
        compiler.compile_forest(model)


def test_a_non_sklearn_model_with_a_familys_name_is_refused() -> None:
    class RandomForestRegressor:  # a look-alike
        estimators_ = (object(),)

    with pytest.raises(NotCompilable, match="not a tree ensemble"):
        compiler.compile_forest(RandomForestRegressor())


def test_exponential_loss_boosting_is_refused() -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(loss="exponential", n_estimators=3).fit(*table("binary"))
    with pytest.raises(NotCompilable, match="loss"):
        compiler.compile_forest(model)


def test_a_format_1_file_still_reads_as_a_regression_forest(
    fitted: dict[tuple[str, str], tuple[Any, CompiledModel]], tmp_path: Path
) -> None:
    model, compiled = fitted["random_forest", "regression"]
    forest = compiled.forest
    assert forest is not None
    old = {f"forest_{name}": getattr(forest, name) for name in ("feature", "threshold", "left")}
    old |= {"forest_value": forest.values1d, "forest_roots": forest.roots}
    np.savez(
        tmp_path / "old.npz",
        format=np.array(1),
        forest_depth=np.array(forest.depth),
        forest_n_features=np.array(forest.n_features),
        **old,
    )
    rows = np.random.default_rng(5).normal(size=(500, WIDTH))
    loaded = npz.load_compiled(tmp_path / "old.npz")
    np.testing.assert_array_equal(loaded.predict(rows), compiled.predict(rows))
    np.testing.assert_allclose(loaded.predict(rows), model.predict(rows), rtol=1e-12)
