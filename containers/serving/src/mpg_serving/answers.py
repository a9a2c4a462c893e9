"""A classifier's answers: its class probabilities, an (n, K) matrix in the order the manifest's
``classes`` lists, as response bodies.

- ``text/csv``: one label per line (a label holding a comma, quote or line break is quoted
  as CSV quotes it), so a batch transform's output lines up with its input rows.
- ``application/json``: ``{"predictions": [{"label": L, "probabilities": {C1: p1, ...}}, ...]}``
- ``application/jsonlines``: one ``{"label": L, "probabilities": {C1: p1, ...}}`` per line.

The label is ``classes[argmax]``, the first maximum winning (scikit-learn's ``predict``). A
label keeps its JSON type (integer classes answer integers); probability keys are JSON object
keys, so always text (``"0"``, ``"1"``). Regressors and preprocessors never come here: their
answers are :func:`mpg_serving.codecs.encode`'s, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from mpg_core.errors import ConfigError
from mpg_serving.codecs import CSV, JSON

Label = str | int


def _csv_field(label: Label) -> str:
    text = str(label)
    if any(c in text for c in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


class ClassAnswers:
    """How a classifier with these ``classes`` (the model's column order) answers."""

    def __init__(self, classes: Sequence[Label]) -> None:
        self.classes = tuple(classes)
        # Computed once: what every answer is pasted from.
        self._keys = tuple(str(c) for c in self.classes)
        self._csv = tuple((_csv_field(c) + "\n").encode() for c in self.classes)

    def labels(self, probabilities: np.ndarray) -> list[Label]:
        indexes = np.argmax(probabilities, axis=1).tolist()
        return [self.classes[i] for i in indexes]

    def _records(self, probabilities: np.ndarray) -> list[dict[str, Any]]:
        keys = self._keys
        indexes = np.argmax(probabilities, axis=1).tolist()
        return [
            {"label": self.classes[i], "probabilities": dict(zip(keys, row, strict=True))}
            for i, row in zip(indexes, probabilities.tolist(), strict=True)
        ]

    def encode(self, probabilities: np.ndarray, accept: str) -> bytes:
        """The answer body for ``probabilities`` (n, K) in ``accept``; one answer per row."""
        if probabilities.ndim != 2 or probabilities.shape[1] != len(self.classes):
            raise ValueError(
                f"a classifier of {len(self.classes)} classes answered shape {probabilities.shape}"
            )
        if accept == CSV:
            return b"".join(self._csv[i] for i in np.argmax(probabilities, axis=1).tolist())
        records = self._records(probabilities)
        if accept == JSON:
            return orjson.dumps({"predictions": records})
        return b"".join(orjson.dumps(r) + b"\n" for r in records)


def class_answers(manifest: Mapping[str, Any]) -> ClassAnswers | None:
    """The answers of the model ``manifest`` (artifact.json) describes: ClassAnswers for a
    classifier, None for a regressor or a preprocessor (answered as before). A classifier's
    manifest without a usable ``classes`` list is a ConfigError naming the fix."""
    task = manifest.get("task", "regression")
    if task == "regression" or manifest.get("kind") == "preprocessor":
        return None
    if task != "classification":
        raise ConfigError(
            f"artifact.json: task {task!r} is not one of 'regression', 'classification'"
        )
    classes = manifest.get("classes")
    if not isinstance(classes, list) or not _valid_classes(classes):
        raise ConfigError(
            f"artifact.json: a classifier needs 'classes', a list of at least two distinct "
            f"strings or integers in the model's column order; found {str(classes)[:200]}"
        )
    return ClassAnswers(classes)


def _valid_classes(classes: list[Any]) -> bool:
    if len(classes) < 2:
        return False
    if len({str(c) for c in classes}) != len(classes):
        return False  # "1" and 1 would share a probability key
    return all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes)
