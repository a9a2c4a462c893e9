"""The one place the training job turns a task and its hyperparameters into an unfitted
scikit-learn estimator. Everything after it (metrics, the artifact, the compiled walk) reads
the fitted estimator, never the hyperparameters.

The contract the artifact and serving rely on: a regressor's answer is ``predict`` (1-D); a
classifier's is ``predict_proba`` (n, classes), columns in ``estimator.classes_`` order.
"""

from __future__ import annotations

from typing import Any, Literal

from mpg_core.hyperparameters import Hyperparameters

Task = Literal["regression", "classification"]
TASKS: tuple[Task, ...] = ("regression", "classification")


def build_estimator(task: Task, hp: Hyperparameters) -> Any:
    """The unfitted estimator for ``task`` with ``hp``."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if task == "regression":
        return RandomForestRegressor(**hp.as_dict())
    if task == "classification":
        return RandomForestClassifier(**hp.as_dict())
    raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")
