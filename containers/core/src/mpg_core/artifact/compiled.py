"""The compiled form of an artifact: its fitted constants as plain arrays, evaluated with numpy
and a small C tree walk (:mod:`mpg_core._forest`). Importing it costs numpy only: no
scikit-learn, pandas or scipy, which is most of the serving image's cold start.

What it reproduces: the preprocessor :func:`mpg_core.features.build_preprocessor` fits from a
schema (year columns to ages; numeric columns median-imputed and standard-scaled; numeric
categorical columns imputed and one-hot encoded, unknown values all zero), a forest of
regression trees with one output, and a pipeline of the two.
:mod:`mpg_core.artifact.compiler` builds it from a fitted estimator,
:mod:`mpg_core.artifact.npz` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mpg_core import _forest
from mpg_core.errors import RequestError

FLOAT32_MAX = float(np.finfo(np.float32).max)
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
    """Raw rows (float64, NaN = missing, input column order) -> feature matrix.

    Age steps first, in order: each drops the year column at ``year_columns[k]`` (an index
    into the frame as the earlier age steps left it) and appends ``reference_years[k]`` minus
    the (19xx for two digits) year as the last column. None for a schema without one."""

    n_inputs: int
    year_columns: tuple[int, ...]
    reference_years: tuple[float, ...]
    blocks: tuple[Block, ...]
    n_outputs: int

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

    @property
    def n_inputs(self) -> int:
        if self.preprocessor is not None:
            return self.preprocessor.n_inputs
        assert self.forest is not None
        return self.forest.n_features

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
