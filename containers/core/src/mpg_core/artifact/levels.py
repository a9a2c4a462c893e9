"""Text levels: how a text cell travels as a float. The row reader turns each text cell of a
categorical column into its *code*, the index of its value among the levels the fitted
encoder knows (:data:`~mpg_core.artifact.compiled.UNSEEN_CODE` for any other value, NaN when
missing), so every engine takes one float matrix. The compiled form compares codes; the
estimator gets its strings back (:func:`decode_levels`). Imports nothing of scikit-learn."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from mpg_core.artifact.compiled import UNSEEN_CODE, Levels, NotCompilable
from mpg_core.artifact.compiler import text_levels

# A text cell that is missing, as the preprocessing job reads a table (pandas' read_csv and
# its default missing spellings, then mpg_core.features._text_values: spaces dropped, empty,
# "?", "nan" and "na" in any case): a level is never one of these.
PANDAS_MISSING = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip
TEXT_MISSING = (
    PANDAS_MISSING
    | {"?"}
    | {
        "".join(letters)
        for token in ("nan", "na")
        for letters in itertools.product(*({c.lower(), c.upper()} for c in token))
    }
)


def is_missing_text(value: str) -> bool:
    """Whether a text cell (as sent) is a missing value to the preprocessing job."""
    return value.strip() in TEXT_MISSING


# What an unseen code becomes for the estimator: a string no table holds, so no encoder knows
# it (answered as any unseen value would be).
UNSEEN_TEXT = "\x00unseen level\x00"


def _column_transformer(kind: str, estimator: Any) -> Any | None:
    if kind == "model":
        return None
    pre = estimator
    if kind == "pipeline":
        steps = getattr(estimator, "steps", None)
        pre = steps[0][1] if steps else None
    steps = getattr(pre, "steps", None)
    last = steps[-1][1] if steps else None
    return last if type(last).__name__ == "ColumnTransformer" else None


def estimator_levels(kind: str, estimator: Any, input_columns: Sequence[str]) -> Levels:
    """Per input column of a fitted artifact estimator, the text levels its encoder knows
    (None: a number column); () when no input is text (or the estimator is not ours)."""
    columns = _column_transformer(kind, estimator)
    if columns is None:
        return ()
    levels: list[tuple[str, ...] | None] = [None] * len(input_columns)
    for _, transformer, selected in getattr(columns, "transformers_", []):
        steps = getattr(transformer, "steps", None)
        categories = getattr(steps[-1][1], "categories_", None) if steps else None
        if categories is None:
            continue
        for name, cats in zip(selected, categories, strict=False):
            try:
                known = text_levels(cats)
            except NotCompilable:
                known = None
            if known is not None and name in input_columns:
                levels[list(input_columns).index(name)] = known
    return tuple(levels) if any(k is not None for k in levels) else ()


def decode_levels(codes: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    """A column of codes as the estimator's values: its level, NaN when missing, and
    :data:`UNSEEN_TEXT` for any other code (the unseen value it stood for)."""
    out = np.full(len(codes), UNSEEN_TEXT, dtype=object)
    missing = np.isnan(codes)
    known = ~missing & (codes >= 0) & (codes < len(levels)) & (codes == np.floor(codes))
    table = np.asarray(levels, dtype=object)
    out[known] = table[codes[known].astype(np.intp)]
    out[missing] = np.nan
    return out


def encode_levels(values: Any, levels: tuple[str, ...]) -> np.ndarray:
    """Text values (strings, NaN for missing; as :func:`mpg_core.features.raw_features`
    gives them) as codes: what the row reader makes of the same cells."""
    index = {level: float(i) for i, level in enumerate(levels)}
    return np.array(
        [v if not isinstance(v, str) else index.get(v, UNSEEN_CODE) for v in values],
        dtype=np.float64,
    )


def encoded_rows(frame: Any, input_columns: Sequence[str], levels: Levels) -> np.ndarray:
    """``frame[input_columns]`` (raw features, text columns as strings) as a float matrix with
    text columns as codes: rows any engine of the artifact takes."""
    out = np.empty((len(frame), len(input_columns)))
    for j, name in enumerate(input_columns):
        known = levels[j] if levels else None
        values = frame[name].to_numpy()
        out[:, j] = values.astype(np.float64) if known is None else encode_levels(values, known)
    return out
