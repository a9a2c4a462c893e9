"""The compiled form of an artifact: its fitted constants as plain arrays, evaluated with numpy.

Training and preprocessing write ``compiled.npz`` beside ``estimator.joblib`` (see
:func:`write_compiled`), only after checking that it gives the estimator's own answers on the
training rows and on random rows. The serving image then answers from these arrays without
importing scikit-learn, pandas or scipy, which is most of its start-up time. The joblib file
stays the source of truth: the serving image falls back to it when there is no compiled form,
or when the compiled form's hash is not the one ``artifact.json`` records.

What compiles: the preprocessor :func:`mpg_core.features.build_preprocessor` fits (model year
to age; numeric columns median-imputed and standard-scaled; categorical columns imputed and
one-hot encoded, unknown values all zero), a ``RandomForestRegressor`` or
``ExtraTreesRegressor`` with one output, and a pipeline of the two. Anything else raises
:class:`NotCompilable`, and the writer leaves the artifact as it is.

At import time this module needs numpy and its own C tree walk (:mod:`mpg_core._forest`); the
compiler reads the fitted estimator's attributes (duck-typed), and only the write-time check
imports pandas to call scikit-learn.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mpg_core import _forest
from mpg_core.schema import MODEL_YEAR

log = logging.getLogger(__name__)

COMPILED_FILE = "compiled.npz"
# Bump when the arrays' meaning changes; a reader refuses formats it does not know.
COMPILED_FORMAT = 1
# The compiled form must give the estimator's answers to this relative tolerance, or it is not
# written (in practice the two agree to the last bit or two).
PARITY_RTOL = 1e-6
RANDOM_ROWS = 10_000


class NotCompilable(Exception):
    """The estimator is not one the compiled form reproduces; serve it with scikit-learn."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the preprocessor -------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One column-transformer step on the frame after the age step: ``numeric`` (impute NaN,
    subtract ``mean``, divide by ``scale``) or ``onehot`` (impute NaN, one column per known
    category; unknown values are all zero)."""

    kind: str
    columns: np.ndarray  # intp indices into the frame after the age step
    fill: np.ndarray
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    categories: tuple[np.ndarray, ...] = ()

    def apply(self, frame: np.ndarray) -> np.ndarray:
        block = frame[:, self.columns]  # fancy indexing copies: safe to write in place
        np.copyto(block, self.fill, where=np.isnan(block))
        if self.kind == "numeric":
            block -= self.mean
            block /= self.scale
            return block
        return np.hstack([block[:, [j]] == cats for j, cats in enumerate(self.categories)]).astype(
            np.float64
        )


@dataclass(frozen=True)
class Preprocessor:
    """Raw rows (float64, NaN = missing, input column order) -> feature matrix."""

    n_inputs: int
    year_column: int
    reference_year: float
    blocks: tuple[Block, ...]
    n_outputs: int

    def transform(self, rows: np.ndarray) -> np.ndarray:
        # AgeFromModelYear drops model_year and appends the age as the last column.
        years = rows[:, self.year_column]
        age = self.reference_year - np.where(years < 100, years + 1900, years)
        frame = np.column_stack([np.delete(rows, self.year_column, axis=1), age])
        if len(self.blocks) == 1:
            return self.blocks[0].apply(frame)
        return np.hstack([block.apply(frame) for block in self.blocks])


# --- the forest -------------------------------------------------------------------------------


# The tree walk's node record (see _forest.pyx): 16 bytes, so a node is one aligned load.
NODE_DTYPE = np.dtype([("threshold", np.float64), ("feature", np.int32), ("left", np.int32)])


@dataclass(frozen=True)
class Forest:
    """Every tree's nodes in one set of flat arrays, breadth first, so a node's right child is
    ``left + 1``. A leaf points at itself with threshold +inf, so a row that reached its leaf
    stays there however many levels are still walked.

    The semantics are scikit-learn's: features rounded to float32, compared (as float64) with
    the float64 thresholds, ``x <= threshold`` going left; tree values summed in float64 and
    divided by the number of trees. The walk itself is C (:mod:`mpg_core._forest`)."""

    feature: np.ndarray  # intp
    threshold: np.ndarray  # float64; +inf at leaves
    left: np.ndarray  # intp; self at leaves
    value: np.ndarray  # float64; the leaf's prediction
    roots: np.ndarray  # intp, one per tree
    depth: int  # the deepest leaf's depth: levels to walk
    n_features: int
    # Derived at construction, after checking that every index stays inside the arrays (the C
    # walk trusts them): the packed nodes, the roots as int32 and each tree's own depth.
    nodes: np.ndarray = field(init=False, repr=False)
    roots32: np.ndarray = field(init=False, repr=False)
    depths: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        size = len(self.threshold)
        index = np.arange(size)
        leaf = self.left == index
        inner = ~leaf
        if not (
            len(self.feature) == len(self.left) == len(self.value) == size
            and size < 2**31 - 1
            and len(self.roots) > 0
            and ((self.roots >= 0) & (self.roots < size)).all()
            and (self.threshold[leaf] == np.inf).all()
            and np.isfinite(self.threshold[inner]).all()
            and ((self.left[inner] > index[inner]) & (self.left[inner] + 1 < size)).all()
            and ((self.feature[inner] >= 0) & (self.feature[inner] < self.n_features)).all()
        ):
            raise NotCompilable("forest arrays are inconsistent (a node points outside them)")
        nodes = np.zeros(size, dtype=NODE_DTYPE)
        nodes["threshold"] = self.threshold
        nodes["feature"] = np.where(leaf, 0, self.feature)
        nodes["left"] = self.left
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "roots32", self.roots.astype(np.int32))
        object.__setattr__(self, "depths", self._tree_depths())

    def _tree_depths(self) -> np.ndarray:
        """Each tree's deepest level, walked level by level for all trees at once; a forest
        whose walk does not end within ``depth`` levels (a cycle) is refused."""
        tree_of = np.arange(len(self.roots))
        frontier = self.roots.copy()
        depths = np.zeros(len(self.roots), dtype=np.int32)
        for level in range(self.depth + 1):
            inner = self.left[frontier] != frontier
            if not inner.any():
                return depths
            depths[tree_of[inner]] = level + 1
            children = self.left[frontier[inner]]
            frontier = np.concatenate([children, children + 1])
            tree_of = np.concatenate([tree_of[inner], tree_of[inner]])
        raise NotCompilable("a tree is deeper than the forest's recorded depth")

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``features``: (n, n_features) float64, finite and within float32's range."""
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) features, got {features.shape}")
        x32 = np.ascontiguousarray(features, dtype=np.float32)
        out = np.empty(len(x32), dtype=np.float64)
        _forest.predict(x32, self.nodes, self.value, self.roots32, self.depths, out)
        return out


@dataclass(frozen=True)
class CompiledModel:
    """The compiled form of one artifact: a preprocessor, a forest, or both (a pipeline)."""

    preprocessor: Preprocessor | None
    forest: Forest | None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predictions (1-D), or for a preprocessor the feature matrix (2-D). The forest needs
        finite features within float32's range: the caller checks (see serving)."""
        features = rows if self.preprocessor is None else self.preprocessor.transform(rows)
        return features if self.forest is None else self.forest.predict(features)


# --- saving and loading -----------------------------------------------------------------------


def _arrays(model: CompiledModel) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"format": np.array(COMPILED_FORMAT)}
    pre = model.preprocessor
    if pre is not None:
        out["pre_n_inputs"] = np.array(pre.n_inputs)
        out["pre_year_column"] = np.array(pre.year_column)
        out["pre_reference_year"] = np.array(pre.reference_year)
        out["pre_n_outputs"] = np.array(pre.n_outputs)
        out["pre_blocks"] = np.array([b.kind for b in pre.blocks])
        for i, b in enumerate(pre.blocks):
            out[f"pre{i}_columns"] = b.columns
            out[f"pre{i}_fill"] = b.fill
            if b.kind == "numeric":
                assert b.mean is not None and b.scale is not None
                out[f"pre{i}_mean"], out[f"pre{i}_scale"] = b.mean, b.scale
            else:
                out[f"pre{i}_categories"] = np.concatenate(b.categories)
                out[f"pre{i}_lengths"] = np.array([len(c) for c in b.categories])
    forest = model.forest
    if forest is not None:
        for name in ("feature", "threshold", "left", "value", "roots"):
            out[f"forest_{name}"] = getattr(forest, name)
        out["forest_depth"] = np.array(forest.depth)
        out["forest_n_features"] = np.array(forest.n_features)
    return out


def save_compiled(path: Path, model: CompiledModel) -> None:
    with path.open("wb") as f:
        np.savez(f, allow_pickle=False, **_arrays(model))


def _block(data: Any, i: int, kind: str) -> Block:
    columns = data[f"pre{i}_columns"].astype(np.intp)
    fill = data[f"pre{i}_fill"].astype(np.float64)
    if kind == "numeric":
        return Block(kind, columns, fill, data[f"pre{i}_mean"], data[f"pre{i}_scale"])
    if kind != "onehot":
        raise NotCompilable(f"unknown preprocessor block {kind!r}")
    bounds = np.cumsum(data[f"pre{i}_lengths"])[:-1]
    categories = tuple(np.split(data[f"pre{i}_categories"].astype(np.float64), bounds))
    return Block(kind, columns, fill, categories=categories)


def load_compiled(path: Path) -> CompiledModel:
    """Read ``compiled.npz`` (never unpickling anything); NotCompilable for a format this code
    does not know."""
    with np.load(path, allow_pickle=False) as data:
        found = int(data["format"]) if "format" in data else None
        if found != COMPILED_FORMAT:
            raise NotCompilable(f"compiled format {found}; this code reads {COMPILED_FORMAT}")
        pre = forest = None
        if "pre_blocks" in data:
            kinds = [str(k) for k in data["pre_blocks"]]
            pre = Preprocessor(
                n_inputs=int(data["pre_n_inputs"]),
                year_column=int(data["pre_year_column"]),
                reference_year=float(data["pre_reference_year"]),
                blocks=tuple(_block(data, i, k) for i, k in enumerate(kinds)),
                n_outputs=int(data["pre_n_outputs"]),
            )
        if "forest_roots" in data:
            forest = Forest(
                feature=data["forest_feature"].astype(np.intp),
                threshold=data["forest_threshold"].astype(np.float64),
                left=data["forest_left"].astype(np.intp),
                value=data["forest_value"].astype(np.float64),
                roots=data["forest_roots"].astype(np.intp),
                depth=int(data["forest_depth"]),
                n_features=int(data["forest_n_features"]),
            )
    if pre is None and forest is None:
        raise NotCompilable(f"{path} holds neither a preprocessor nor a forest")
    return CompiledModel(pre, forest)


# --- the compiler (reads a fitted estimator; imports nothing of scikit-learn) -----------------


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
    fill = _imputer_fill(steps[0])
    encoder = _expect(steps[1], "OneHotEncoder")
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
    if any(c.dtype.kind not in "iuf" for c in categories):
        raise NotCompilable("OneHotEncoder with non-numeric categories")
    return Block(
        "onehot", columns, fill, categories=tuple(c.astype(np.float64) for c in categories)
    )


def compile_preprocessor(estimator: Any, input_columns: Sequence[str]) -> Preprocessor:
    steps = [step for _, step in _expect(estimator, "Pipeline").steps]
    if len(steps) != 2 or type(steps[0]).__name__ != "AgeFromModelYear":
        raise NotCompilable("preprocessor other than AgeFromModelYear + ColumnTransformer")
    if type(steps[0]).__module__ != "mpg_core.features":
        raise NotCompilable("an AgeFromModelYear from another module")
    age_step, columns = steps[0], _expect(steps[1], "ColumnTransformer")
    if MODEL_YEAR not in input_columns:
        raise NotCompilable(f"no {MODEL_YEAR} column in the inputs")
    year_column = list(input_columns).index(MODEL_YEAR)
    after_age = [c for c in input_columns if c != MODEL_YEAR] + [
        str(age_step.get_feature_names_out(list(input_columns))[-1])
    ]
    if columns.remainder != "drop" or getattr(columns, "sparse_output_", False):
        raise NotCompilable("ColumnTransformer with a remainder or sparse output")
    blocks = []
    for name, transformer, selected in columns.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if isinstance(transformer, str) or not all(isinstance(s, str) for s in selected):
            raise NotCompilable(f"column transformer step {name!r} is not a fitted pipeline")
        index = np.asarray([after_age.index(s) for s in selected], dtype=np.intp)
        steps = [step for _, step in _expect(transformer, "Pipeline").steps]
        if type(steps[-1]).__name__ == "OneHotEncoder":
            blocks.append(_onehot_block(steps, index))
        else:
            blocks.append(_numeric_block(steps, index))
    return Preprocessor(
        n_inputs=len(input_columns),
        year_column=year_column,
        reference_year=float(age_step.reference_year),
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


# --- the write-time check ---------------------------------------------------------------------


def random_rows(model: CompiledModel, n: int = RANDOM_ROWS, seed: int = 20240601) -> np.ndarray:
    """Rows in the artifact's input space that exercise every branch of the compiled form.

    Raw rows (a preprocessor in front): values around each fitted mean, every known category
    plus unknown ones, 2- and 4-digit model years and ~10% missing values. Feature rows (a
    forest alone): every split threshold's neighbourhood, so every node is visited both ways."""
    rng = np.random.default_rng(seed)
    pre = model.preprocessor
    if pre is None:
        assert model.forest is not None
        forest = model.forest
        internal = forest.left != np.arange(len(forest.left))
        rows = np.empty((n, forest.n_features))
        for j in range(forest.n_features):
            cuts = forest.threshold[internal & (forest.feature == j)]
            if len(cuts) == 0:
                rows[:, j] = rng.normal(size=n)
                continue
            span = max(float(np.ptp(cuts)), 1.0)
            rows[:, j] = rng.choice(cuts, n) + rng.normal(scale=0.05 * span, size=n)
        return rows
    width = pre.n_inputs
    rows = rng.normal(size=(n, width))
    # Frame positions after the age step (year column dropped, age appended) -> raw positions.
    raw_of = [j for j in range(width) if j != pre.year_column] + [pre.year_column]
    for block in pre.blocks:
        for k, col in enumerate(block.columns):
            raw = raw_of[col]
            if block.kind == "onehot":
                cats = block.categories[k]
                rows[:, raw] = rng.choice(np.concatenate([cats, cats[:1] + 0.5, [-1.0]]), n)
            else:
                assert block.mean is not None and block.scale is not None
                rows[:, raw] = block.mean[k] + block.scale[k] * rng.normal(scale=1.5, size=n)
    # The year column held an age above; turn it back into model years, half as two digits.
    years = np.round(pre.reference_year - rows[:, pre.year_column])
    rows[:, pre.year_column] = np.where(rng.random(n) < 0.5, years - 1900, years)
    rows[rng.random(rows.shape) < 0.1] = np.nan
    return rows


def sklearn_output(
    kind: str, estimator: Any, input_columns: Sequence[str], rows: np.ndarray
) -> np.ndarray:
    """The estimator's own answer for ``rows`` (the reference the compiled form must match)."""
    if kind == "model":
        return np.asarray(estimator.predict(rows), dtype=np.float64)
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(input_columns))
    call = estimator.transform if kind == "preprocessor" else estimator.predict
    return np.asarray(call(frame), dtype=np.float64)


def max_relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    if got.shape != expected.shape:
        return float("inf")
    scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    error = np.abs(got - expected) / scale
    error[got == expected] = 0.0  # equal values (zeros, one-hot columns) are no error at all
    return float(error.max(initial=0.0)) if np.isfinite(got).all() else float("inf")


@dataclass(frozen=True)
class CheckedModel:
    model: CompiledModel
    checked_rows: int
    max_relative_error: float


def compile_checked(
    kind: str,
    estimator: Any,
    input_columns: Sequence[str],
    sample_rows: np.ndarray | None = None,
    random_count: int = RANDOM_ROWS,
) -> CheckedModel:
    """Compile ``estimator`` and check the compiled form against it on ``sample_rows`` plus
    ``random_count`` :func:`random_rows`; NotCompilable when it does not compile or differs by
    more than :data:`PARITY_RTOL`. The jobs call it before writing a file, serving at start-up
    for an artifact without a usable one."""
    model = compile_estimator(kind, estimator, input_columns)
    checks = [random_rows(model, random_count)]
    if sample_rows is not None and len(sample_rows):
        checks.insert(0, np.asarray(sample_rows, dtype=np.float64))
    rows = np.concatenate(checks)
    error = max_relative_error(
        model.predict(rows), sklearn_output(kind, estimator, input_columns, rows)
    )
    if not error <= PARITY_RTOL:
        raise NotCompilable(f"compiled form differs from the estimator by {error:.3g}")
    return CheckedModel(model, len(rows), error)


def write_compiled(
    directory: Path,
    kind: str,
    estimator: Any,
    input_columns: Sequence[str],
    sample_rows: np.ndarray | None = None,
) -> bool:
    """Compile the artifact in ``directory`` (written by :func:`mpg_core.artifacts.save_artifact`),
    check it against ``estimator`` on ``sample_rows`` (the training rows, in the artifact's input
    space) plus :data:`RANDOM_ROWS` random rows, and write ``compiled.npz`` and its hash into
    ``artifact.json``. Returns False, logged, when the estimator does not compile or the check
    fails: the artifact is then served from its joblib file, as before."""
    from mpg_core.artifacts import ARTIFACT_FILE, COMPILED_KEY, update_manifest

    target = directory / COMPILED_FILE
    target.unlink(missing_ok=True)
    try:
        checked = compile_checked(kind, estimator, input_columns, sample_rows)
    except NotCompilable as exc:
        log.warning("no compiled form written", extra={"kind": kind, "reason": str(exc)})
        update_manifest(directory, {COMPILED_KEY: None})
        return False
    save_compiled(target, checked.model)
    update_manifest(
        directory,
        {
            COMPILED_KEY: {
                "file": COMPILED_FILE,
                "format": COMPILED_FORMAT,
                "sha256": sha256_file(target),
                "checked_rows": checked.checked_rows,
                "max_relative_error": checked.max_relative_error,
            }
        },
    )
    log.info(
        "wrote compiled form",
        extra={
            "file": str(target),
            "checked_rows": checked.checked_rows,
            "manifest": ARTIFACT_FILE,
        },
    )
    return True
