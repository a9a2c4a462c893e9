"""The loaded artifact behind the endpoint: what it takes in and what it gives back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mpg_core.artifacts import Artifact, load_artifact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictor:
    artifact: Artifact

    @property
    def kind(self) -> str:
        return self.artifact.kind

    @property
    def input_columns(self) -> tuple[str, ...]:
        return self.artifact.input_columns

    @property
    def output_columns(self) -> tuple[str, ...]:
        return self.artifact.output_columns

    @property
    def allows_missing(self) -> bool:
        """Raw rows may lack values (the preprocessor imputes them); features may not."""
        return self.kind != "model"

    @property
    def returns_features(self) -> bool:
        return self.kind == "preprocessor"

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` is a float64 matrix in :attr:`input_columns` order. Returns predictions
        (1-D) or, for a preprocessor, the feature matrix (2-D)."""
        estimator: Any = self.artifact.estimator
        if self.kind == "model":
            return np.asarray(estimator.predict(rows), dtype=np.float64)
        frame = pd.DataFrame(rows, columns=list(self.input_columns))
        if self.kind == "preprocessor":
            return np.asarray(estimator.transform(frame), dtype=np.float64)
        return np.asarray(estimator.predict(frame), dtype=np.float64)


def load_predictor(model_dir: Path) -> Predictor:
    predictor = Predictor(load_artifact(model_dir))
    log.info("model loaded", extra={"kind": predictor.kind, "dir": str(model_dir),
                                    "inputs": len(predictor.input_columns)})
    return predictor
