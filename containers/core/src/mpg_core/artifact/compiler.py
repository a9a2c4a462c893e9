"""The compiler: a fitted scikit-learn estimator in, its :class:`CompiledModel` out, or
:class:`NotCompilable`. It reads the estimator's fitted attributes (duck-typed) and imports
nothing of scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpg_core.artifact.blend import Blend
from mpg_core.artifact.compiled import (
    ORDINAL_UNKNOWN,
    UNSEEN_CODE,
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


def _imputer_statistics(imputer: Any) -> np.ndarray:
    _expect(imputer, "SimpleImputer")
    missing = imputer.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)):
        raise NotCompilable("SimpleImputer with missing_values other than NaN")
    if getattr(imputer, "add_indicator", False):
        raise NotCompilable("SimpleImputer with add_indicator")
    return np.asarray(imputer.statistics_)


def _imputer_fill(imputer: Any) -> np.ndarray:
    try:
        fill = _imputer_statistics(imputer).astype(np.float64)
    except (TypeError, ValueError):
        raise NotCompilable("SimpleImputer filling text into a number column") from None
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


def text_levels(categories: Any) -> tuple[str, ...] | None:
    """A fitted encoder column's categories as text levels, or None when they are numbers.
    Text columns reach the encoder as Python strings (mpg_core.features.raw_features)."""
    values = list(np.asarray(categories, dtype=object))
    if all(isinstance(v, str) for v in values):
        return tuple(values)
    if any(isinstance(v, str) for v in values) or not all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in values
    ):
        raise NotCompilable("an encoder column whose categories mix text and numbers")
    return None


def _encoded_categories(
    statistics: np.ndarray, encoder: Any, columns: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray], list[tuple[str, ...] | None]]:
    """(fill, categories, levels) of an imputer + encoder pair: a text column's cells arrive
    as codes (indices into its levels), so its categories are ``0 .. k - 1`` and its fill the
    code of the imputed level (the unseen code when the order does not hold it)."""
    levels = [text_levels(c) for c in encoder.categories_]
    fill = np.empty(len(columns))
    categories = []
    for j, (known, cats) in enumerate(zip(levels, encoder.categories_, strict=True)):
        if known is None:
            categories.append(np.asarray(cats, dtype=np.float64))
            fill[j] = float(statistics[j])
            continue
        categories.append(np.arange(len(known), dtype=np.float64))
        fill[j] = float(known.index(statistics[j])) if statistics[j] in known else UNSEEN_CODE
    if not np.isfinite(fill).all():
        raise NotCompilable("SimpleImputer with a column that had no values at fit time")
    return fill, categories, levels


def _onehot_block(
    steps: list[Any], columns: np.ndarray
) -> tuple[Block, list[tuple[str, ...] | None]]:
    """The block and, per column, its text levels (None: numbers). With rare levels grouped
    (``max_categories``/``min_frequency``), each category's output column is the encoder's
    own mapping, and an unknown value goes where ``handle_unknown`` sends it."""
    if len(steps) != 2:
        raise NotCompilable("categorical pipeline other than imputer + one-hot encoder")
    encoder = _expect(steps[1], "OneHotEncoder")
    grouped = bool(getattr(encoder, "_infrequent_enabled", False))
    if (
        encoder.handle_unknown not in ("ignore", "infrequent_if_exist")
        or encoder.drop is not None
        or np.dtype(encoder.dtype) != np.float64
        or getattr(encoder, "sparse_output", False)
    ):
        raise NotCompilable(
            "OneHotEncoder options other than handle_unknown='ignore' or "
            "'infrequent_if_exist', no drop, dense float64 output"
        )
    fill, categories, levels = _encoded_categories(_imputer_statistics(steps[0]), encoder, columns)
    mappings = encoder._default_to_infrequent_mappings if grouped else None
    if mappings is None or all(m is None for m in mappings):
        # No column has rare levels: one output per category, unknown values all zeros.
        return Block("onehot", columns, fill, categories=tuple(categories)), levels
    slots, widths, unknown = [], [], []
    for j, cats in enumerate(categories):
        mapping = mappings[j]
        if mapping is None:
            slots.append(np.arange(len(cats), dtype=np.intp))
            widths.append(len(cats))
            unknown.append(-1)
            continue
        slot = np.asarray(mapping, dtype=np.intp)
        slots.append(slot)
        widths.append(int(slot.max()) + 1)
        rare = encoder.handle_unknown == "infrequent_if_exist"
        unknown.append(int(slot.max()) if rare else -1)
    block = Block(
        "onehot",
        columns,
        fill,
        categories=tuple(categories),
        slots=tuple(slots),
        widths=tuple(widths),
        unknown=tuple(unknown),
    )
    return block, levels


def _ordinal_block(
    steps: list[Any], columns: np.ndarray
) -> tuple[Block, list[tuple[str, ...] | None]]:
    if len(steps) != 2:
        raise NotCompilable("ordinal pipeline other than imputer + ordinal encoder")
    encoder = _expect(steps[1], "OrdinalEncoder")
    if (
        encoder.handle_unknown != "use_encoded_value"
        or encoder.unknown_value != ORDINAL_UNKNOWN
        or np.dtype(encoder.dtype) != np.float64
        or getattr(encoder, "_infrequent_enabled", False)
    ):
        raise NotCompilable(
            "OrdinalEncoder options other than unknown values encoded as "
            f"{ORDINAL_UNKNOWN}, float64 output, no infrequent categories"
        )
    fill, categories, levels = _encoded_categories(_imputer_statistics(steps[0]), encoder, columns)
    return Block("ordinal", columns, fill, categories=tuple(categories)), levels


_ENCODERS = {"OneHotEncoder": _onehot_block, "OrdinalEncoder": _ordinal_block}


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
    levels: list[tuple[str, ...] | None] = [None] * len(input_columns)
    for name, transformer, selected in columns.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if isinstance(transformer, str) or not all(isinstance(s, str) for s in selected):
            raise NotCompilable(f"column transformer step {name!r} is not a fitted pipeline")
        positions = np.asarray([frame.index(s) for s in selected], dtype=np.intp)
        steps = [step for _, step in _expect(transformer, "Pipeline").steps]
        encode = _ENCODERS.get(type(steps[-1]).__name__)
        if encode is not None:
            block, known = encode(steps, positions)
            blocks.append(block)
            for column, column_levels in zip(selected, known, strict=True):
                if column_levels is not None:
                    if column not in input_columns:
                        raise NotCompilable(f"text column {column!r} is not a raw input")
                    levels[list(input_columns).index(column)] = column_levels
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
        levels=tuple(levels) if any(k is not None for k in levels) else (),
    )


@dataclass(frozen=True)
class _Tree:
    """One tree in scikit-learn's own layout (node 0 the root, -1 = no child)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    nan_left: np.ndarray
    value: np.ndarray  # (nodes, W)


def _sklearn_tree(tree: Any, value: np.ndarray) -> _Tree:
    nan_left = getattr(tree, "missing_go_to_left", None)
    if nan_left is None:
        nan_left = np.ones(tree.node_count, dtype=np.uint8)
    return _Tree(
        tree.children_left,
        tree.children_right,
        tree.feature,
        tree.threshold,
        np.asarray(nan_left, dtype=np.uint8),
        value,
    )


def _flatten(trees: list[_Tree]) -> dict[str, Any]:
    """Every tree's nodes in one set of arrays, breadth first (a right child is ``left + 1``),
    leaves pointing at themselves with threshold +inf."""
    size = sum(len(t.left) for t in trees)
    width = trees[0].value.shape[1]
    feature = np.zeros(size, dtype=np.intp)
    threshold = np.full(size, np.inf)
    left = np.zeros(size, dtype=np.intp)
    nan_left = np.ones(size, dtype=np.uint8)
    value = np.zeros((size, width))
    roots = np.zeros(len(trees), dtype=np.intp)
    depth, end = 0, 0
    for t, tree in enumerate(trees):
        children_left, children_right = tree.left, tree.right
        roots[t], end = end, end + 1
        queue = [(0, roots[t], 0)]  # (node in the tree, its flat index, its depth)
        for old, new, level in queue:  # breadth first: the queue grows while it is walked
            if children_left[old] == -1:
                left[new], value[new] = new, tree.value[old]
                depth = max(depth, level)
                continue
            feature[new], threshold[new], left[new] = tree.feature[old], tree.threshold[old], end
            nan_left[new] = tree.nan_left[old]
            queue.append((children_left[old], end, level + 1))
            queue.append((children_right[old], end + 1, level + 1))
            end += 2
    if end != size:
        raise NotCompilable("trees with unreachable nodes")
    internal = left != np.arange(size)
    # +inf is a real split: every value goes left, a missing one right (trees fitted on NaN).
    if not (threshold[internal] > -np.inf).all():
        raise NotCompilable("a split threshold that is NaN or -inf")
    return {
        "feature": feature,
        "threshold": threshold,
        "left": left,
        "value": value if width > 1 else value[:, 0],
        "roots": roots,
        "depth": depth,
        "nan_left": nan_left,
    }


def _classifier_link(loss: Any) -> str:
    link = type(getattr(loss, "link", None)).__name__
    if type(loss).__name__ == "HalfBinomialLoss" and link == "LogitLink":
        return "logistic"
    if type(loss).__name__ == "HalfMultinomialLoss" and link == "MultinomialLogit":
        return "softmax"
    raise NotCompilable(f"a classifier with loss {type(loss).__name__}")


def _regressor_link(loss: Any) -> str:
    if type(getattr(loss, "link", None)).__name__ != "IdentityLink":
        raise NotCompilable(f"a regressor with loss {type(loss).__name__} (not an identity link)")
    return "identity"


def _forest_of_trees(model: Any, classifier: bool) -> Forest:
    trees = []
    for estimator in model.estimators_:
        tree = estimator.tree_
        raw = np.asarray(tree.value, dtype=np.float64)
        if classifier:
            # DecisionTreeClassifier.predict_proba: the leaf's class weights, normalised.
            leaf = raw[:, 0, : len(model.classes_)]
            total = leaf.sum(axis=1, keepdims=True)
            total[total == 0.0] = 1.0
            trees.append(_sklearn_tree(tree, leaf / total))
        else:
            trees.append(_sklearn_tree(tree, raw.reshape(tree.node_count, -1)[:, :1]))
    return Forest(
        **_flatten(trees),
        n_features=int(model.n_features_in_),
        link="proba" if classifier else "identity",
    )


def _gradient_boosting(model: Any, classifier: bool) -> Forest:
    if not (isinstance(model.init_, str) and model.init_ == "zero") and type(
        model.init_
    ).__name__ not in ("DummyRegressor", "DummyClassifier"):
        raise NotCompilable(f"gradient boosting with init {type(model.init_).__name__}")
    link = _classifier_link(model._loss) if classifier else _regressor_link(model._loss)
    stages = np.asarray(model.estimators_)  # (iterations, trees per iteration)
    rate = float(model.learning_rate)
    # scikit-learn adds learning_rate * value per tree; the same product, made once here.
    trees = [
        _sklearn_tree(e.tree_, rate * np.asarray(e.tree_.value, dtype=np.float64)[:, 0, :1])
        for e in stages.ravel()
    ]
    # The init estimator's raw prediction is a constant (a prior, a mean, a quantile or zero).
    baseline = np.asarray(
        model._raw_predict_init(np.zeros((1, model.n_features_in_), dtype=np.float32)),
        dtype=np.float64,
    )[0]
    return Forest(
        **_flatten(trees),
        n_features=int(model.n_features_in_),
        column=np.tile(np.arange(stages.shape[1], dtype=np.intp), stages.shape[0]),
        baseline=baseline,
        average=False,
        link=link,
    )


def _hist_tree(predictor: Any) -> _Tree:
    nodes = predictor.nodes
    if nodes["is_categorical"].any():
        raise NotCompilable("histogram gradient boosting with categorical splits")
    leaf = nodes["is_leaf"].astype(bool)
    return _Tree(
        np.where(leaf, -1, nodes["left"].astype(np.intp)),
        np.where(leaf, -1, nodes["right"].astype(np.intp)),
        nodes["feature_idx"].astype(np.intp),
        nodes["num_threshold"].astype(np.float64),
        nodes["missing_go_to_left"].astype(np.uint8),
        nodes["value"].astype(np.float64)[:, None],  # already scaled by the learning rate
    )


def _hist_gradient_boosting(model: Any, classifier: bool) -> Forest:
    if getattr(model, "is_categorical_", None) is not None and model.is_categorical_.any():
        raise NotCompilable("histogram gradient boosting with categorical features")
    link = _classifier_link(model._loss) if classifier else _regressor_link(model._loss)
    per_iteration = int(model.n_trees_per_iteration_)
    trees = [_hist_tree(p) for iteration in model._predictors for p in iteration]
    if any(len(iteration) != per_iteration for iteration in model._predictors):
        raise NotCompilable("histogram gradient boosting with a ragged iteration")
    return Forest(
        **_flatten(trees),
        n_features=int(model.n_features_in_),
        column=np.tile(np.arange(per_iteration, dtype=np.intp), len(model._predictors)),
        baseline=np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1),
        average=False,
        float32=False,  # scikit-learn compares the float64 features
        link=link,
    )


_FAMILIES = {
    "RandomForestRegressor": (_forest_of_trees, False),
    "ExtraTreesRegressor": (_forest_of_trees, False),
    "RandomForestClassifier": (_forest_of_trees, True),
    "ExtraTreesClassifier": (_forest_of_trees, True),
    "GradientBoostingRegressor": (_gradient_boosting, False),
    "GradientBoostingClassifier": (_gradient_boosting, True),
    "HistGradientBoostingRegressor": (_hist_gradient_boosting, False),
    "HistGradientBoostingClassifier": (_hist_gradient_boosting, True),
}


_BLENDS = ("BlendedRegressor", "BlendedClassifier")


def _blend(model: Any) -> Blend:
    """A :mod:`mpg_core.models` blend: each member compiled as a forest, the weights and the
    calibration as they are."""
    members = []
    for member in model.members:
        forest = compile_forest(member)
        if not isinstance(forest, Forest):
            raise NotCompilable("a blend of blends")
        members.append(forest)
    calibration = getattr(model, "calibration", None)
    return Blend(tuple(members), np.asarray(model.weights, dtype=np.float64), calibration)


def compile_forest(model: Any) -> Forest | Blend:
    """The compiled form of a fitted tree ensemble of any of scikit-learn's four families, or
    of a blend of them or a forest with smoothed leaf votes (:mod:`mpg_core.models`), or
    :class:`NotCompilable` (another model, several outputs, a loss without a plain link,
    categorical splits)."""
    name = type(model).__name__
    if name in _BLENDS and type(model).__module__ == "mpg_core.models":
        return _blend(model)
    if name == "SmoothedForestClassifier" and type(model).__module__ == "mpg_core.models":
        if not hasattr(model, "forest_"):
            raise NotCompilable("an unfitted forest")
        return compile_forest(model.forest_)  # its trees hold the smoothed votes
    if name not in _FAMILIES or not type(model).__module__.startswith("sklearn."):
        raise NotCompilable(f"{name} is not a tree ensemble the compiled walk serves")
    if getattr(model, "n_outputs_", 1) != 1:
        raise NotCompilable("multi-output model")
    if isinstance(getattr(model, "classes_", None), list):
        raise NotCompilable("multi-output classifier")
    if not len(getattr(model, "estimators_", [])) and not getattr(model, "_predictors", None):
        raise NotCompilable("ensemble without trees")
    build, classifier = _FAMILIES[name]
    return build(model, classifier)


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
