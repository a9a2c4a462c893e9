"""The fitted random forest evaluated without scikit-learn's per-call overhead.

``RandomForestRegressor.predict`` validates its input, then dispatches every tree through
joblib (with the training job's ``n_jobs=-1``, to a thread pool): ~5 ms for one row, almost
none of it arithmetic. Two engines evaluate the very same fitted trees instead:

* small batches: Treelite's GTIL (a C++ tree walker, ~40 µs for one row through 100 trees),
  imported from the trees at start-up, never from a file of its own;
* large batches: each tree's own Cython ``Tree.predict`` in a plain loop, which is what the
  forest does inside, minus the thread pool (GTIL is ~3x slower per row on big matrices).

Both see what scikit-learn sees: the features rounded to float32 (trees compare float32
inputs with float64 thresholds), summed tree by tree in float64 and divided by the number of
trees, so the answers match ``predict`` to the last bit or two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Below this many rows GTIL is cheaper; above it the per-tree Cython loop is (measured on the
# 100-tree Auto MPG forest: GTIL ~0.03 + 0.013 ms/row, per-tree ~0.45 + 0.005 ms/row).
SMALL_BATCH_ROWS = 48
FLOAT32_MAX = float(np.finfo(np.float32).max)


class UnsupportedForest(Exception):
    """Not a single-output forest of scikit-learn regression trees."""


@dataclass(frozen=True)
class CompiledForest:
    trees: tuple[Any, ...]  # sklearn.tree._tree.Tree objects, shared with the artifact
    n_features: int
    gtil_model: Any | None  # treelite.Model, or None when Treelite is unavailable
    gtil_predict: Any | None  # treelite.gtil.predict

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``features``: float64 (n, n_features), finite and within float32's range."""
        x32 = np.ascontiguousarray(features, dtype=np.float32)
        if self.gtil_predict is not None and len(x32) <= SMALL_BATCH_ROWS:
            # float64 input so GTIL compares with the float64 thresholds, as sklearn does.
            out = self.gtil_predict(self.gtil_model, x32.astype(np.float64), nthread=1)
            return np.asarray(out, dtype=np.float64).reshape(len(x32))
        total = np.zeros(len(x32), dtype=np.float64)
        for tree in self.trees:
            total += tree.predict(x32)[:, 0]
        total /= len(self.trees)
        return total


def _gtil(forest: Any) -> tuple[Any, Any] | tuple[None, None]:
    try:
        import treelite.gtil
        import treelite.sklearn
    except ImportError:  # the fast path still works, with the per-tree loop for every size
        log.warning("treelite is not installed; small batches use the per-tree loop")
        return None, None
    try:
        return treelite.sklearn.import_model(forest), treelite.gtil.predict
    except Exception as exc:  # any refusal just means: no GTIL for this forest
        log.warning("treelite cannot import this forest", extra={"reason": str(exc)[:200]})
        return None, None


def compile_forest(forest: Any) -> CompiledForest:
    """The fast form of a fitted ``RandomForestRegressor``/``ExtraTreesRegressor``."""
    name = type(forest).__name__
    if name not in ("RandomForestRegressor", "ExtraTreesRegressor"):
        raise UnsupportedForest(f"{name} is not a forest of regression trees")
    if getattr(forest, "n_outputs_", 1) != 1:
        raise UnsupportedForest("multi-output forest")
    trees = tuple(estimator.tree_ for estimator in forest.estimators_)
    if not trees:
        raise UnsupportedForest("forest without trees")
    gtil_model, gtil_predict = _gtil(forest)
    return CompiledForest(
        trees=trees,
        n_features=int(forest.n_features_in_),
        gtil_model=gtil_model,
        gtil_predict=gtil_predict,
    )
