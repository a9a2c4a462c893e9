"""Permutation importance on the validation rows, by the table's own columns.

A column's importance is how much the selection metric (RMSE, or log loss) worsens when its
values are shuffled across the validation rows, the mean over :data:`REPEATS` shuffles. With a
preprocessor in front, a raw column becomes several feature columns (a one-hot block, an age
for a year); shuffling the raw column is shuffling that group of features together, row for
row (each raw column's transformation reads that column only), which is what is done here:
the numbers belong to ``origin``, not to ``origin_2``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

REPEATS = 5
MAX_ROWS = 5_000  # validation rows used (a sample of bigger tables): cost, not precision


def raw_column_groups(preprocessor: Any, feature_names: Sequence[str]) -> dict[str, list[int]]:
    """Feature positions per raw column of a fitted preprocessor (age steps, then a
    ColumnTransformer), or one group per feature when it cannot be read (named by feature)."""
    names = list(feature_names)
    steps = getattr(preprocessor, "steps", None)
    if not steps:
        return {name: [i] for i, name in enumerate(names)}
    raw_of: dict[str, str] = {}
    for _, step in steps[:-1]:  # age steps: the age column comes from the year column
        column, age = getattr(step, "column", None), getattr(step, "age_column", None)
        if column is not None and age is not None:
            raw_of[str(age)] = str(column)
    transformer = steps[-1][1]
    groups: dict[str, list[int]] = {}
    position = 0
    try:
        for _, fitted, selected in transformer.transformers_:
            if isinstance(fitted, str):
                continue
            widths = _widths(fitted, list(selected))
            for column, width in zip(selected, widths, strict=True):
                raw = raw_of.get(str(column), str(column))
                groups.setdefault(raw, []).extend(range(position, position + width))
                position += width
    except (AttributeError, ValueError, TypeError):
        return {name: [i] for i, name in enumerate(names)}
    if position != len(names):
        return {name: [i] for i, name in enumerate(names)}
    return groups


def _widths(fitted: Any, selected: list[str]) -> list[int]:
    """How many output features each selected column makes in one fitted column step."""
    out = len(fitted.get_feature_names_out(selected))
    if out == len(selected):
        return [1] * len(selected)
    last = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
    categories = getattr(last, "categories_", None)
    if categories is None or sum(len(c) for c in categories) != out:
        raise ValueError("cannot tell which outputs come from which column")
    return [len(c) for c in categories]


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    groups: dict[str, list[int]],
    metric: Callable[[np.ndarray, np.ndarray], float],
    seed: int,
) -> dict[str, dict[str, float]]:
    """Each group's mean and standard deviation of the metric's increase, largest first."""
    rng = np.random.default_rng(seed)
    if len(X) > MAX_ROWS:
        keep = rng.choice(len(X), MAX_ROWS, replace=False)
        X, y = X[keep], y[keep]
    base = metric(y, predict(X))
    result = {}
    for name, columns in groups.items():
        increases = []
        for _ in range(REPEATS):
            shuffled = X.copy()
            order = rng.permutation(len(X))
            shuffled[:, columns] = X[order][:, columns]
            increases.append(metric(y, predict(shuffled)) - base)
        result[name] = {"mean": float(np.mean(increases)), "std": float(np.std(increases))}
    return dict(sorted(result.items(), key=lambda item: -item[1]["mean"]))


def importance_lines(importances: dict[str, dict[str, float]], metric: str) -> list[str]:
    """One line per column for the log, largest first."""
    width = max((len(name) for name in importances), default=6)
    lines = [f"{'column':<{width}}  {metric + ' increase when shuffled':>32}"]
    for name, value in importances.items():
        lines.append(f"{name:<{width}}  {value['mean']:>24.6f} ± {value['std']:.6f}")
    return lines
