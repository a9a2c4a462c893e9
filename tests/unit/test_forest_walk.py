"""The C tree walk on hand-built forests: scikit-learn's semantics (float32 features compared
with float64 thresholds, ties go left, tree values averaged), for any number of rows, in both
node record sizes, and on lopsided trees where lanes stop before the tree's full depth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpg_core.artifact.compiled import Forest, NotCompilable, round_down_to_float32

INF = np.inf


def tiny_forest(**changes: np.ndarray) -> Forest:
    """Tree 0: x0 <= 0.1 ? 1 : 2. Tree 1: x1 <= 5 ? (x0 <= -1 ? 10 : 20) : 30. Breadth first,
    leaves pointing at themselves with threshold +inf."""
    arrays = {
        "feature": np.array([0, 0, 0, 1, 0, 0, 0, 0]),
        "threshold": np.array([0.1, INF, INF, 5.0, -1.0, INF, INF, INF]),
        "left": np.array([1, 1, 2, 4, 6, 5, 6, 7]),
        "value": np.array([0, 1.0, 2.0, 0, 0, 30.0, 10.0, 20.0]),
        "roots": np.array([0, 3]),
    }
    arrays.update(changes)
    return Forest(depth=2, n_features=2, **arrays)


CASES = [
    # 0.1 rounds to float32 0.100000001 > 0.1: right, as in scikit-learn (float64 would go left).
    ((0.1, 5.0), (2.0 + 20.0) / 2),
    ((0.0, 6.0), (1.0 + 30.0) / 2),
    ((-2.0, 0.0), (1.0 + 10.0) / 2),
    ((-1.0, 5.0), (1.0 + 10.0) / 2),  # equal to a threshold: left
]


@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 1000])
def test_walk_follows_sklearn_semantics_for_any_row_count(n: int) -> None:
    forest = tiny_forest()
    rows = np.array([CASES[i % len(CASES)][0] for i in range(n)], dtype=np.float64)
    expected = np.array([CASES[i % len(CASES)][1] for i in range(n)])
    np.testing.assert_array_equal(forest.predict(rows), expected)


def test_each_tree_is_walked_to_its_own_depth() -> None:
    np.testing.assert_array_equal(tiny_forest().depths, [1, 2])


def test_rows_of_the_wrong_width_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        tiny_forest().predict(np.zeros((3, 3)))


@pytest.mark.parametrize(
    "changes",
    [
        {"left": np.array([1, 1, 2, 4, 7, 5, 6, 7])},  # right child of node 4 past the end
        {"left": np.array([0, 1, 2, 4, 6, 5, 6, 7])},  # a split pointing at itself
        {"feature": np.array([0, 0, 0, 2, 0, 0, 0, 0])},  # feature past the width
        {"roots": np.array([0, 8])},
        {"threshold": np.array([np.nan, INF, INF, 5.0, -1.0, INF, INF, INF])},
    ],
)
def test_arrays_that_do_not_hold_together_are_refused(changes: dict[str, np.ndarray]) -> None:
    with pytest.raises(NotCompilable):
        tiny_forest(**changes)


# --- the packed node records ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    threshold=st.floats(allow_nan=False, width=64),
    x=st.floats(allow_nan=False, allow_infinity=False, width=32),
)
def test_a_threshold_rounded_down_to_float32_compares_float32_values_exactly(
    threshold: float, x: float
) -> None:
    # Compared as Python floats (float64): numpy would compare a float32 with a float in float32.
    rounded = float(round_down_to_float32(np.array([threshold]))[0])
    assert rounded <= threshold
    assert (x <= threshold) == (x <= rounded)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64))
def test_rounding_down_to_float32_keeps_the_largest_float32_at_or_below(threshold: float) -> None:
    rounded = round_down_to_float32(np.array([threshold]))[0]
    assert float(np.nextafter(rounded, np.float32(np.inf))) > threshold


def balanced_forest(depth: int, trees: int, width: int, float32: bool, seed: int) -> Forest:
    """``trees`` complete trees of ``depth`` levels with random splits, breadth first."""
    rng = np.random.default_rng(seed)
    per_tree = 2 ** (depth + 1) - 1
    inner = 2**depth - 1
    feature, threshold, left, value, roots = [], [], [], [], []
    for t in range(trees):
        base = t * per_tree
        roots.append(base)
        local = np.arange(per_tree)
        leaf = local >= inner
        feature.append(np.where(leaf, 0, rng.integers(0, width, per_tree)))
        threshold.append(np.where(leaf, INF, rng.normal(size=per_tree)))
        left.append(base + np.where(leaf, local, 2 * local + 1))
        value.append(np.where(leaf, rng.normal(size=per_tree), 0.0))
    return Forest(
        feature=np.concatenate(feature),
        threshold=np.concatenate(threshold),
        left=np.concatenate(left),
        value=np.concatenate(value),
        roots=np.array(roots),
        depth=depth,
        n_features=width,
        float32=float32,
    )


def lopsided_forest(depth: int, float32: bool) -> Forest:
    """One tree that is a chain: node k splits on x0 <= k (leaf on the left, the chain on the
    right), so a row's leaf depth is about its x0, from 1 to ``depth``."""
    size = 2 * depth + 1
    feature = np.zeros(size, dtype=np.intp)
    threshold = np.full(size, INF)
    left = np.arange(size)
    value = np.zeros(size)
    node = 0
    for k in range(depth):  # the chain's node k is at 2k; its children at 2k+1 (leaf), 2k+2
        threshold[node], left[node] = float(k), node + 1
        value[node + 1] = float(k)
        node += 2
    value[node] = float(depth)
    return Forest(feature, threshold, left, value, np.array([0]), depth, 1, float32=float32)


def reference_walk(forest: Forest, rows: np.ndarray) -> np.ndarray:
    """The forest's mean tree value per row, walked in numpy on its unpacked arrays."""
    x = rows.astype(np.float32).astype(np.float64) if forest.float32 else rows
    total = np.zeros(len(x))
    for root in forest.roots:
        node = np.full(len(x), root)
        for _ in range(forest.depth):
            go_right = x[np.arange(len(x)), forest.feature[node]] > forest.threshold[node]
            node = np.where(forest.left[node] == node, node, forest.left[node] + go_right)
        total += forest.value[node]
    return total / len(forest.roots)


def test_deep_float32_trees_walk_as_8_byte_records_and_the_rest_as_16() -> None:
    assert balanced_forest(10, 3, 4, float32=True, seed=0).node_bytes == 8
    assert balanced_forest(10, 3, 4, float32=False, seed=0).node_bytes == 16  # histogram
    assert balanced_forest(6, 3, 4, float32=True, seed=0).node_bytes == 16  # shallow
    # Node i's left child is node 2i + 1: at depth 17 the last splits' lie 131,071 away.
    assert balanced_forest(16, 1, 4, float32=True, seed=0).node_bytes == 8
    assert balanced_forest(17, 1, 4, float32=True, seed=0).node_bytes == 16


@pytest.mark.parametrize(
    ("depth", "trees", "float32"), [(6, 7, True), (10, 5, True), (10, 5, False), (17, 2, True)]
)
def test_both_record_sizes_walk_as_the_reference(depth: int, trees: int, float32: bool) -> None:
    forest = balanced_forest(depth, trees, 4, float32, seed=depth)
    rows = np.random.default_rng(1).normal(size=(999, 4))
    rows[::7] = np.round(rows[::7], 1)  # values equal to a rounded threshold's neighbours
    np.testing.assert_allclose(forest.predict(rows), reference_walk(forest, rows), rtol=1e-12)


@pytest.mark.parametrize("float32", [True, False])
def test_lanes_stop_early_only_when_every_lane_is_on_its_leaf(float32: bool) -> None:
    """Rows of one lane group end at leaf depths from 1 to 40: a lane group that stopped at
    its shallowest (or first) leaf would give the deep rows a shallow leaf's value."""
    forest = lopsided_forest(40, float32)
    assert forest.node_bytes == (8 if float32 else 16)
    x0 = np.concatenate([np.zeros(15), [39.5]])  # 15 rows leave at once, the 16th at depth 40
    for rows in (x0, np.random.default_rng(2).uniform(-1, 41, 1000)):
        np.testing.assert_array_equal(forest.predict(rows[:, None]), np.ceil(rows).clip(0, 40))
