"""The compiler: a fitted scikit-learn estimator in, its :class:`CompiledModel` out, or
:class:`NotCompilable`. It reads the estimator's fitted attributes (duck-typed) and imports
nothing of scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpg_core.artifact.compiled import (
    Block,
    CompiledModel,
    Forest,
    NotCompilable,
    Preprocessor,
)
from mpg_core.schema import MODEL_YEAR


def _expect(estimator: Any, cls_name: str) -> Any:
    if type(estimator).__name__ != cls_name:
        raise NotCompilable(f"expected {cls_name}, found {type(estimator).__name__}")
    return estimator


def _imputer_fill(imputer: Any) -> np.ndarray:
    _expect(imputer, "SimpleImputer")
    missing = imputer.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)):
        raise NotCompilable("SimpleImputer with missing_values other than NaN")
    if getattr(imputer, "add_indicator", False):
        raise NotCompilable("SimpleImputer with add_indicator")
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    if not np.isfinite(fill).all():
        # scikit-learn drops a column that had no values at fit time; not worth reproducing.
        raise NotCompilable("SimpleImputer with a column that had no values at fit time")
    return fill


def _numeric_block(steps: list[Any], columns: np.ndarray) -> Block:
    fill = _imputer_fill(steps[0])
    mean, scale = np.zeros(len(columns)), np.ones(len(columns))  # x - 0 and x / 1 are exact
    if len(steps) == 2:
        scaler = _expect(steps[1], "StandardScaler")
        if scaler.with_mean:
            mean = np.asarray(scaler.mean_, dtype=np.float64)
        if scaler.with_std:
            scale = np.asarray(scaler.scale_, dtype=np.float64)
    elif len(steps) != 1:
        raise NotCompilable("numeric pipeline other than imputer [+ scaler]")
    return Block("numeric", columns, fill, mean, scale)


def _onehot_block(steps: list[Any], columns: np.ndarray) -> Block:
    if len(steps) != 2:
        raise NotCompilable("categorical pipeline other than imputer + one-hot encoder")
    encoder = _expect(steps[1], "OneHotEncoder")
    if any(np.asarray(c).dtype.kind not in "iuf" for c in encoder.categories_):
        # Rows reach the compiled form as float64: text categories are served by scikit-learn.
        raise NotCompilable("OneHotEncoder with non-numeric (text) categories")
    fill = _imputer_fill(steps[0])
    if (
        encoder.handle_unknown != "ignore"
        or encoder.drop is not None
        or getattr(encoder, "_infrequent_enabled", False)
        or np.dtype(encoder.dtype) != np.float64
        or getattr(encoder, "sparse_output", False)
    ):
        raise NotCompilable(
            "OneHotEncoder options other than handle_unknown='ignore', no drop, no infrequent "
            "categories, dense float64 output"
        )
    categories = tuple(np.asarray(c) for c in encoder.categories_)
    return Block(
        "onehot", columns, fill, categories=tuple(c.astype(np.float64) for c in categories)
    )


_AGE_STEPS = ("AgeFromYear", "AgeFromModelYear")


def _age_step(step: Any, frame: list[str]) -> tuple[int, float, str]:
    """(index of the year column in ``frame``, reference year, age column) of an age step."""
    if type(step).__module__ != "mpg_core.features":
        raise NotCompilable(f"an {type(step).__name__} from another module")
    # AgeFromModelYear (artifacts written before schemas travelled) has no column attributes.
    column = str(getattr(step, "column", MODEL_YEAR))
    if column not in frame:
        raise NotCompilable(f"no {column} column in the inputs")
    age = str(step.get_feature_names_out(frame)[-1])
    return frame.index(column), float(step.reference_year), age


def compile_preprocessor(estimator: Any, input_columns: Sequence[str]) -> Preprocessor:
    steps = [step for _, step in _expect(estimator, "Pipeline").steps]
    *age_steps, columns = steps
    if not all(type(s).__name__ in _AGE_STEPS for s in age_steps):
        raise NotCompilable("preprocessor other than age steps + ColumnTransformer")
    _expect(columns, "ColumnTransformer")
    frame = list(input_columns)
    year_columns, reference_years = [], []
    for step in age_steps:
        index, reference, age = _age_step(step, frame)
        year_columns.append(index)
        reference_years.append(reference)
        frame = [c for i, c in enumerate(frame) if i != index] + [age]
    if columns.remainder != "drop" or getattr(columns, "sparse_output_", False):
        raise NotCompilable("ColumnTransformer with a remainder or sparse output")
    blocks = []
    for name, transformer, selected in columns.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if isinstance(transformer, str) or not all(isinstance(s, str) for s in selected):
            raise NotCompilable(f"column transformer step {name!r} is not a fitted pipeline")
        positions = np.asarray([frame.index(s) for s in selected], dtype=np.intp)
        steps = [step for _, step in _expect(transformer, "Pipeline").steps]
        if type(steps[-1]).__name__ == "OneHotEncoder":
            blocks.append(_onehot_block(steps, positions))
        else:
            blocks.append(_numeric_block(steps, positions))
    if not blocks:
        raise NotCompilable("a preprocessor without a fitted column step")
    return Preprocessor(
        n_inputs=len(input_columns),
        year_columns=tuple(year_columns),
        reference_years=tuple(reference_years),
        blocks=tuple(blocks),
        n_outputs=len(columns.get_feature_names_out()),
    )


def compile_forest(forest: Any) -> Forest:
    name = type(forest).__name__
    if name not in ("RandomForestRegressor", "ExtraTreesRegressor"):
        raise NotCompilable(f"{name} is not a forest of regression trees")
    if getattr(forest, "n_outputs_", 1) != 1:
        raise NotCompilable("multi-output forest")
    trees = [estimator.tree_ for estimator in forest.estimators_]
    if not trees:
        raise NotCompilable("forest without trees")
    size = sum(int(t.node_count) for t in trees)
    feature = np.zeros(size, dtype=np.intp)
    threshold = np.full(size, np.inf)
    left = np.zeros(size, dtype=np.intp)
    value = np.zeros(size)
    roots = np.zeros(len(trees), dtype=np.intp)
    depth, end = 0, 0
    for t, tree in enumerate(trees):
        children_left, children_right = tree.children_left, tree.children_right
        leaf_values = np.asarray(tree.value, dtype=np.float64).reshape(tree.node_count, -1)[:, 0]
        roots[t], end = end, end + 1
        queue = [(0, roots[t], 0)]  # (node in the tree, its flat index, its depth)
        for old, new, level in queue:  # breadth first: the queue grows while it is walked
            if children_left[old] == -1:
                left[new], value[new] = new, leaf_values[old]
                depth = max(depth, level)
                continue
            feature[new], threshold[new], left[new] = tree.feature[old], tree.threshold[old], end
            queue.append((children_left[old], end, level + 1))
            queue.append((children_right[old], end + 1, level + 1))
            end += 2
    if end != size:
        raise NotCompilable("trees with unreachable nodes")
    internal = left != np.arange(size)
    if not np.isfinite(threshold[internal]).all():
        raise NotCompilable("a split threshold that is not finite")
    return Forest(
        feature=feature,
        threshold=threshold,
        left=left,
        value=value,
        roots=roots,
        depth=depth,
        n_features=int(forest.n_features_in_),
    )


def compile_estimator(kind: str, estimator: Any, input_columns: Sequence[str]) -> CompiledModel:
    """The compiled form of an artifact's estimator, or :class:`NotCompilable`."""
    if kind == "preprocessor":
        return CompiledModel(compile_preprocessor(estimator, input_columns), None)
    if kind == "model":
        return CompiledModel(None, compile_forest(estimator))
    steps = getattr(estimator, "steps", None)
    if type(estimator).__name__ != "Pipeline" or not steps or len(steps) != 2:
        raise NotCompilable("pipeline other than preprocessor + forest")
    pre = compile_preprocessor(steps[0][1], input_columns)
    forest = compile_forest(steps[1][1])
    if pre.n_outputs != forest.n_features:
        raise NotCompilable("preprocessor outputs and forest inputs differ in number")
    return CompiledModel(pre, forest)
