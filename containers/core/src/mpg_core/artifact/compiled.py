"""The compiled form of an artifact: its fitted constants as plain arrays, evaluated with numpy
and a small C tree walk (:mod:`mpg_core._forest`). Importing it costs numpy only: no
scikit-learn, pandas or scipy, which is most of the serving image's cold start.

What it reproduces: the preprocessor :func:`mpg_core.features.build_preprocessor` fits from a
schema (year columns to ages; numeric columns median-imputed and standard-scaled; categorical
columns, numbers or text, imputed and one-hot encoded, unknown values all zero), a tree ensemble of
any of scikit-learn's four families (forests, extra trees, gradient boosting, histogram
gradient boosting; regressors with one output and classifiers), and a pipeline of the two.
:mod:`mpg_core.artifact.compiler` builds it from a fitted estimator,
:mod:`mpg_core.artifact.npz` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mpg_core import _forest
from mpg_core.errors import RequestError

FLOAT32_MAX = float(np.finfo(np.float32).max)
# An ordinal column's value outside its order (mpg_core.table_schema.ORDINAL_UNKNOWN; this
# module imports numpy only).
ORDINAL_UNKNOWN = -1.0
# Big batches go through in slices of this many rows: each slice's temporaries (~1 MB each)
# are reused from the heap, where one pass over a 5 MB body would page-fault in a dozen fresh
# 10-20 MB arrays, and glibc would keep the heap they grew.
SLICE_ROWS = 8192


class NotCompilable(Exception):
    """The estimator is not one the compiled form reproduces; serve it with scikit-learn."""


def check_model_range(features: np.ndarray) -> None:
    """Trees compare float32 features: a value beyond float32's range makes scikit-learn
    raise, so it is the client's error (a 400 at the endpoint), in every engine alike."""
    if not (np.abs(features) <= FLOAT32_MAX).all():
        raise RequestError(
            "a value is too large for the model (beyond float32 range after "
            "preprocessing); check the units of the input"
        )


# --- the preprocessor -------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One column-transformer step on the frame after the age step: ``numeric`` (impute NaN,
    subtract ``mean``, divide by ``scale``), ``onehot`` (impute NaN, then per column one
    output per known category; with ``slots``, category ``i`` sets output ``slots[j][i]`` of
    the column's ``widths[j]``, so rare levels share one, and an unknown value sets
    ``unknown[j]``, or nothing when -1) or ``ordinal`` (impute NaN, then category ``i`` is
    the number ``i`` and any other value ``ORDINAL_UNKNOWN``)."""

    kind: str
    columns: np.ndarray  # intp indices into the frame after the age step
    fill: np.ndarray
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    categories: tuple[np.ndarray, ...] = ()
    slots: tuple[np.ndarray, ...] = ()  # onehot: intp per category; () = one output each
    widths: tuple[int, ...] = ()
    unknown: tuple[int, ...] = ()
    # Derived: every column's categories are the codes 0 .. k - 1 (text columns), and each k.
    coded: bool = field(init=False, repr=False)
    counts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        counts = np.array([len(c) for c in self.categories], dtype=np.float64)
        coded = bool(self.categories) and all(
            np.array_equal(c, np.arange(len(c))) for c in self.categories
        )
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "coded", coded)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        block = frame[:, self.columns]  # fancy indexing copies: safe to write in place
        np.copyto(block, self.fill, where=np.isnan(block))
        if self.kind == "numeric":
            block -= self.mean
            block /= self.scale
            return block
        if self.kind == "ordinal":
            if self.coded:  # a code is its rank: one pass over the whole block
                known = (block >= 0) & (block < self.counts) & (block == np.floor(block))
                return np.where(known, block, ORDINAL_UNKNOWN)
            return np.column_stack(
                [_ordinal(block[:, j], cats) for j, cats in enumerate(self.categories)]
            )
        if not self.slots:
            return np.hstack(
                [block[:, [j]] == cats for j, cats in enumerate(self.categories)]
            ).astype(np.float64)
        return np.hstack([self._grouped(block[:, j], j) for j in range(len(self.categories))])

    def _grouped(self, values: np.ndarray, j: int) -> np.ndarray:
        index, found = _category_index(values, self.categories[j], self.coded)
        slot = np.where(found, self.slots[j][index], self.unknown[j])
        out = np.zeros((len(values), self.widths[j]))
        hit = slot >= 0
        out[np.flatnonzero(hit), slot[hit]] = 1.0
        return out


def _category_index(
    values: np.ndarray, cats: np.ndarray, coded: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each value's index among ``cats`` (0 where it is none of them) and whether it is one.
    A text column's categories are its codes ``0 .. k - 1`` (``coded``): the value is the
    index."""
    k = len(cats)
    if coded:
        found = (values >= 0) & (values < k) & (values == np.floor(values))
        return np.where(found, values, 0).astype(np.intp), found
    match = values[:, None] == cats[None, :]
    return match.argmax(axis=1), match.any(axis=1)


def _ordinal(values: np.ndarray, cats: np.ndarray) -> np.ndarray:
    """Each value's index among ``cats``, or ORDINAL_UNKNOWN when it is none of them."""
    index, found = _category_index(values, cats)
    return np.where(found, index, ORDINAL_UNKNOWN).astype(np.float64)


# A text cell's code when its value is none of the column's known levels: it equals no
# category, so a one-hot block answers all zeros, as scikit-learn's handle_unknown="ignore".
UNSEEN_CODE = -1.0

Levels = tuple[tuple[str, ...] | None, ...]


@dataclass(frozen=True)
class Preprocessor:
    """Raw rows (float64, NaN = missing, input column order) -> feature matrix.

    A text column's cells arrive as *codes*: the index of the value in ``levels[column]``
    (the encoder's fitted categories, as strings), :data:`UNSEEN_CODE` for any other value,
    NaN when missing; its block compares codes with ``0 .. len(levels) - 1``. ``levels`` has
    one entry per input column (None: a number column), or is empty when no column is text.

    Age steps first, in order: each drops the year column at ``year_columns[k]`` (an index
    into the frame as the earlier age steps left it) and appends ``reference_years[k]`` minus
    the (19xx for two digits) year as the last column. None for a schema without one."""

    n_inputs: int
    year_columns: tuple[int, ...]
    reference_years: tuple[float, ...]
    blocks: tuple[Block, ...]
    n_outputs: int
    levels: Levels = ()

    @property
    def input_levels(self) -> Levels:
        """``levels``, one entry per input column (None for every number column)."""
        return self.levels or (None,) * self.n_inputs

    def raw_positions(self) -> list[int]:
        """For each column of the frame after the age steps, its raw input column."""
        positions = list(range(self.n_inputs))
        for column in self.year_columns:
            positions.append(positions.pop(column))
        return positions

    def transform(self, rows: np.ndarray) -> np.ndarray:
        frame = rows
        for column, reference in zip(self.year_columns, self.reference_years, strict=True):
            years = frame[:, column]
            age = reference - np.where(years < 100, years + 1900, years)
            frame = np.column_stack([np.delete(frame, column, axis=1), age])
        if len(self.blocks) == 1:
            return self.blocks[0].apply(frame)
        return np.hstack([block.apply(frame) for block in self.blocks])


# --- the forest ---------------------------------------------------------------------------------


# The tree walk's node records (see _forest.pyx). 8 bytes for deep trees on float32 features of
# under 65,536 nodes each: the left child as an offset from the node (0 at a leaf), the threshold
# rounded down to float32 (exact for float32 features); the walk stops once every lane is on its
# leaf. 16 bytes, the left child's index, otherwise: shallow trees walk faster that way.
NODE32_DTYPE = np.dtype([("threshold", np.float32), ("feature", np.uint16), ("offset", np.uint16)])
NODE64_DTYPE = np.dtype([("threshold", np.float64), ("feature", np.int32), ("left", np.int32)])
_NODE32_MAX = int(np.iinfo(np.uint16).max)
# Forests no deeper than this keep 16-byte records: measured, gradient boosting's 3 levels walk
# 5% slower compact (every lane reaches its leaf at about the same level, so the stop check only
# costs), Auto MPG's forest (~14 levels) as fast, one row 30% faster.
NODE32_MIN_DEPTH = 8


def round_down_to_float32(values: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each float64 value: for any float32 ``x``,
    ``x <= t`` exactly when ``x <= round_down_to_float32(t)``."""
    with np.errstate(over="ignore"):
        rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def pack_nodes(
    threshold: np.ndarray, feature: np.ndarray, left: np.ndarray, depth: int, float32: bool
) -> np.ndarray:
    """The walk's node records for checked flat arrays (``left``: each node's left child,
    itself at a leaf): 8-byte records when the forest is deep and they fit, else 16."""
    offset = left - np.arange(len(left))
    if (
        float32
        and depth > NODE32_MIN_DEPTH
        and int(offset.max(initial=0)) <= _NODE32_MAX
        and int(feature.max(initial=0)) <= _NODE32_MAX
    ):
        nodes = np.zeros(len(threshold), dtype=NODE32_DTYPE)
        nodes["threshold"] = round_down_to_float32(threshold)
        nodes["offset"] = offset
    else:
        nodes = np.zeros(len(threshold), dtype=NODE64_DTYPE)
        nodes["threshold"] = threshold
        nodes["left"] = left
    nodes["feature"] = feature
    return nodes


# How a model's summed tree values become its answer: a regressor's value as is (1-D); a forest
# of classifiers' mean of leaf class distributions; a boosted classifier's raw score through
# the logistic (binary) or softmax (multiclass) link. The three classifier links answer
# ``predict_proba``: (n, classes), in ``classes_`` order.
LINKS = ("identity", "proba", "logistic", "softmax")


@dataclass(frozen=True)
class Forest:
    """Every tree's nodes in one set of flat arrays, breadth first, so a node's right child is
    ``left + 1``. A leaf points at itself with threshold +inf, so a row that reached its leaf
    stays there however many levels are still walked.

    The semantics are scikit-learn's: features rounded to float32 (``float32``; the histogram
    family compares float64), compared (as float64) with the float64 thresholds,
    ``x <= threshold`` going left and a missing value (NaN) the way ``nan_left`` says; each
    row's outputs start at ``baseline``, add the tree values in tree order (tree ``t`` adds its
    leaf's ``value`` row to outputs ``column[t]`` onwards) and, with ``average``, are divided by
    the number of trees; ``link`` turns them into the answer. The walk itself is C
    (:mod:`mpg_core._forest`)."""

    feature: np.ndarray  # intp
    threshold: np.ndarray  # float64; +inf at leaves
    left: np.ndarray  # intp; self at leaves
    value: np.ndarray  # float64, (nodes,) or (nodes, W); the leaf's prediction
    roots: np.ndarray  # intp, one per tree
    depth: int  # the deepest leaf's depth: levels to walk
    n_features: int
    column: np.ndarray | None = None  # intp per tree, the first output it adds to; None = 0
    baseline: np.ndarray | None = None  # float64 per output; None = zeros
    average: bool = True  # divide the sums by the number of trees (a forest)
    nan_left: np.ndarray | None = None  # uint8 per node: a NaN goes left; None = every node
    float32: bool = True
    link: str = "identity"
    # Derived at construction, after checking that every index stays inside the arrays (the C
    # walk trusts them): the packed nodes, the roots as int32 and each tree's own depth.
    node_data: np.ndarray = field(init=False, repr=False)  # pack_nodes' records, as bytes
    node_bytes: int = field(init=False, repr=False)  # each record's size: 8 or 16
    roots32: np.ndarray = field(init=False, repr=False)
    depths: np.ndarray = field(init=False, repr=False)
    values2d: np.ndarray = field(init=False, repr=False)
    columns32: np.ndarray = field(init=False, repr=False)
    starts: np.ndarray = field(init=False, repr=False)
    nan_left8: np.ndarray = field(init=False, repr=False)
    # The one-output loop's arguments, precomputed: a 1-row request counts microseconds.
    values1d: np.ndarray = field(init=False, repr=False)
    start: float = field(init=False, repr=False)
    divisor: float = field(init=False, repr=False)
    _scalar: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        size = len(self.threshold)
        index = np.arange(size)
        leaf = self.left == index
        inner = ~leaf
        values2d = self.value.reshape(size, -1) if self.value.ndim == 1 else self.value
        width = values2d.shape[1] if values2d.ndim == 2 else 0
        trees = len(self.roots)
        column = np.zeros(trees, dtype=np.int32) if self.column is None else self.column
        outputs = int(column.max(initial=0)) + width if len(column) else width
        baseline = np.zeros(outputs) if self.baseline is None else self.baseline
        nan_left = np.ones(size, dtype=np.uint8) if self.nan_left is None else self.nan_left
        if not (
            len(self.feature) == len(self.left) == len(values2d) == len(nan_left) == size
            and values2d.ndim == 2
            and width >= 1
            and size < 2**31 - 1
            and trees > 0
            and len(column) == trees
            and (column >= 0).all()
            and baseline.shape == (outputs,)
            and self.link in LINKS
            and ((self.roots >= 0) & (self.roots < size)).all()
            and (self.threshold[leaf] == np.inf).all()
            and (self.threshold[inner] > -np.inf).all()  # +inf: all but NaN go left
            and ((self.left[inner] > index[inner]) & (self.left[inner] + 1 < size)).all()
            and ((self.feature[inner] >= 0) & (self.feature[inner] < self.n_features)).all()
            and self._link_fits(outputs, width)
        ):
            raise NotCompilable("forest arrays are inconsistent (a node points outside them)")
        depths = self._tree_depths()
        nodes = pack_nodes(
            self.threshold,
            np.where(leaf, 0, self.feature),
            self.left,
            int(depths.max(initial=0)),
            self.float32,
        )
        object.__setattr__(self, "node_data", nodes.view(np.uint8))
        object.__setattr__(self, "node_bytes", nodes.itemsize)
        object.__setattr__(self, "roots32", self.roots.astype(np.int32))
        object.__setattr__(self, "depths", depths)
        object.__setattr__(self, "values2d", np.ascontiguousarray(values2d, dtype=np.float64))
        object.__setattr__(self, "columns32", np.ascontiguousarray(column, dtype=np.int32))
        object.__setattr__(self, "starts", np.asarray(baseline, dtype=np.float64))
        object.__setattr__(self, "nan_left8", np.ascontiguousarray(nan_left, dtype=np.uint8))
        object.__setattr__(self, "values1d", self.values2d[:, 0].copy())
        object.__setattr__(self, "start", float(self.starts[0]))
        object.__setattr__(self, "divisor", float(trees) if self.average else 1.0)
        object.__setattr__(self, "_scalar", outputs == 1 and width == 1)

    def _link_fits(self, outputs: int, width: int) -> bool:
        if self.link in ("identity", "logistic"):
            return outputs == 1
        if self.link == "proba":
            return outputs == width >= 2 and self.average
        return outputs >= 3 and width == 1  # softmax: one tree per class and iteration

    @property
    def is_classifier(self) -> bool:
        return self.link != "identity"

    @property
    def n_outputs(self) -> int:
        """Raw outputs per row (before the link)."""
        return len(self.starts)

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

    def _features(self, features: np.ndarray) -> np.ndarray:
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) features, got {features.shape}")
        return np.ascontiguousarray(features, dtype=np.float32 if self.float32 else np.float64)

    def raw(self, features: np.ndarray) -> np.ndarray:
        """Each row's summed (or averaged) tree values, (n, outputs), before the link."""
        x = self._features(features)
        if self._scalar:
            out = np.empty(len(x), dtype=np.float64)
            if _forest.predict(
                x, self.node_data, self.node_bytes, self.values1d, self.roots32, self.depths,
                out, self.start, self.divisor,
            ):  # fmt: skip
                return out[:, None]
        out = np.empty((len(x), self.n_outputs), dtype=np.float64)
        out[:] = self.starts
        missing = np.isnan(x).any(axis=1)
        if missing.any():
            part = out[missing]
            _forest.predict_missing(
                np.ascontiguousarray(x[missing]), self.node_data, self.node_bytes,
                self.nan_left8, self.values2d, self.roots32, self.columns32, part, self.divisor,
            )  # fmt: skip
            out[missing] = part
        if not missing.all():
            whole = out[~missing]
            _forest.predict_columns(
                np.ascontiguousarray(x[~missing]), self.node_data, self.node_bytes,
                self.values2d, self.roots32, self.depths, self.columns32, whole, self.divisor,
            )  # fmt: skip
            out[~missing] = whole
        return out

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The answer for ``features`` ((n, n_features) float64, within float32's range;
        NaN = missing): a regressor's values (1-D), a classifier's class probabilities
        (n, classes)."""
        raw = self.raw(features)
        if self.link == "identity":
            return raw[:, 0]
        if self.link == "proba":
            return raw
        if self.link == "logistic":  # scikit-learn: expit for class 1, 1 - that for class 0
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p, p])
        top = raw.max(axis=1, keepdims=True)  # softmax, shifted so exp cannot overflow
        e = np.exp(raw - top)
        return e / e.sum(axis=1, keepdims=True)


class ModelHead(Protocol):
    """What answers feature rows: a :class:`Forest`, or a
    :class:`~mpg_core.artifact.blend.Blend` of forests (which imports this module, hence a
    protocol here rather than the union)."""

    @property
    def n_features(self) -> int: ...

    @property
    def is_classifier(self) -> bool: ...

    @property
    def n_outputs(self) -> int: ...

    def predict(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class CompiledModel:
    """The compiled form of one artifact: a preprocessor, a model head (a forest, or a blend
    of forests: :mod:`mpg_core.artifact.blend`), or both (a pipeline)."""

    preprocessor: Preprocessor | None
    forest: ModelHead | None

    @property
    def n_inputs(self) -> int:
        if self.preprocessor is not None:
            return self.preprocessor.n_inputs
        assert self.forest is not None
        return self.forest.n_features

    @property
    def input_levels(self) -> Levels:
        """Per input column, its text levels (cells arrive as codes), or None (numbers)."""
        if self.preprocessor is not None:
            return self.preprocessor.input_levels
        return (None,) * self.n_inputs

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predictions (1-D), or for a preprocessor the feature matrix (2-D), for float64
        ``rows`` (NaN = missing) in the artifact's input order."""
        if len(rows) <= SLICE_ROWS:
            return self._predict_slice(rows)
        return np.concatenate(
            [self._predict_slice(rows[i : i + SLICE_ROWS]) for i in range(0, len(rows), SLICE_ROWS)]
        )

    def _predict_slice(self, rows: np.ndarray) -> np.ndarray:
        features = rows if self.preprocessor is None else self.preprocessor.transform(rows)
        if self.forest is None:
            return features
        check_model_range(features)
        return self.forest.predict(features)
