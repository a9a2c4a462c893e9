"""The C tree walk on a hand-built forest: scikit-learn's semantics (float32 features compared
with float64 thresholds, ties go left, tree values averaged), for any number of rows."""

from __future__ import annotations

import numpy as np
import pytest

from mpg_core.artifact.compiled import Forest, NotCompilable

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
