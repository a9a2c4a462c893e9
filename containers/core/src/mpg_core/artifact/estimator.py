"""The artifact's own scikit-learn estimator behind the same ``predict`` as the compiled form:
the reference the compiled form is checked against, and what serves a model the compiler does
not reproduce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mpg_core.artifact.compiled import Levels, check_model_range
from mpg_core.artifact.files import Kind
from mpg_core.errors import RequestError


@dataclass(frozen=True)
class EstimatorModel:
    kind: Kind
    estimator: Any
    input_columns: tuple[str, ...]
    # Per input column, its text levels (cells arrive as codes: mpg_core.artifact.levels).
    levels: Levels = ()

    @property
    def input_levels(self) -> Levels:
        return self.levels or (None,) * len(self.input_columns)

    @property
    def is_classifier(self) -> bool:
        return self.kind != "preprocessor" and hasattr(self.estimator, "predict_proba")

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predictions (1-D; a classifier's class probabilities, 2-D in ``classes_`` order),
        or for a preprocessor the feature matrix (2-D), for float64 ``rows`` in
        :attr:`input_columns` order (text columns as codes of their ``levels``)."""
        answer = "predict_proba" if self.is_classifier else "predict"
        if self.kind == "model":
            check_model_range(rows)
            return np.asarray(getattr(self.estimator, answer)(rows), dtype=np.float64)
        import pandas as pd  # only here: the compiled path never loads it

        from mpg_core.artifact.levels import decode_levels

        frame = pd.DataFrame(rows, columns=list(self.input_columns))
        for name, known in zip(self.input_columns, self.input_levels, strict=True):
            if known is not None:
                frame[name] = decode_levels(frame[name].to_numpy(), known)
        call = getattr(self.estimator, "transform" if self.kind == "preprocessor" else answer)
        try:
            return np.asarray(call(frame), dtype=np.float64)
        except ValueError as exc:
            # Finite numbers of the right width that the model still refuses (e.g. a value
            # scaled beyond float32): the client's input, not a server fault.
            raise RequestError(f"the model cannot use these values: {str(exc)[:200]}") from None
