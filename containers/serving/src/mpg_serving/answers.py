"""A classifier's answers: its class probabilities, an (n, K) matrix in the order the manifest's
``classes`` lists, as response bodies.

- ``text/csv``: one label per line (a label holding a comma, quote or line break is quoted
  as CSV quotes it), so a batch transform's output lines up with its input rows.
- ``application/json``: ``{"predictions": [{"label": L, "probabilities": {C1: p1, ...}}, ...]}``
- ``application/jsonlines``: one ``{"label": L, "probabilities": {C1: p1, ...}}`` per line.

The label is ``classes[argmax]``, the first maximum winning (scikit-learn's ``predict``), or
for a binary classifier whose artifact.json holds a ``decision_threshold`` (chosen on
validation by the training job) the second class when its probability is at or above it; the
probabilities are answered as they are either way. A label keeps its JSON type (integer
classes answer integers); probability keys are JSON object keys, so always text (``"0"``,
``"1"``). Regressors and preprocessors never come here: their
answers are :func:`mpg_serving.codecs.encode`'s, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from mpg_core.artifact.files import DECISION_THRESHOLD_KEY
from mpg_core.errors import ConfigError
from mpg_serving.codecs import CSV, JSON

Label = str | int


def _csv_field(label: Label) -> str:
    text = str(label)
    if any(c in text for c in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


class ClassAnswers:
    """How a classifier with these ``classes`` (the model's column order) answers, labels
    through ``threshold`` when it is a binary classifier with one."""

    def __init__(self, classes: Sequence[Label], threshold: float | None = None) -> None:
        self.classes = tuple(classes)
        self.threshold = threshold if len(self.classes) == 2 else None
        # Computed once: what every answer is pasted from.
        self._keys = tuple(str(c) for c in self.classes)
        self._csv = tuple((_csv_field(c) + "\n").encode() for c in self.classes)

    def _indexes(self, probabilities: np.ndarray) -> list[int]:
        if self.threshold is not None:
            return (probabilities[:, 1] >= self.threshold).astype(np.intp).tolist()
        return np.argmax(probabilities, axis=1).tolist()

    def labels(self, probabilities: np.ndarray) -> list[Label]:
        return [self.classes[i] for i in self._indexes(probabilities)]

    def _records(self, probabilities: np.ndarray) -> list[dict[str, Any]]:
        keys = self._keys
        indexes = self._indexes(probabilities)
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
            return b"".join(self._csv[i] for i in self._indexes(probabilities))
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
    threshold = manifest.get(DECISION_THRESHOLD_KEY)
    if threshold is not None and not (
        isinstance(threshold, (int, float))
        and not isinstance(threshold, bool)
        and 0.0 <= threshold <= 1.0
    ):
        raise ConfigError(
            f"artifact.json: decision_threshold must be a probability in [0, 1]; "
            f"found {str(threshold)[:50]}"
        )
    return ClassAnswers(classes, None if threshold is None else float(threshold))


def _valid_classes(classes: list[Any]) -> bool:
    if len(classes) < 2:
        return False
    if len({str(c) for c in classes}) != len(classes):
        return False  # "1" and 1 would share a probability key
    return all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes)
