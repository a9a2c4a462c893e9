"""The one place the training job turns a task and its hyperparameters into an unfitted
scikit-learn estimator. Everything after it (metrics, the artifact, the compiled walk) reads
the fitted estimator, never the hyperparameters.

The contract the artifact and serving rely on: a regressor's answer is ``predict`` (1-D); a
classifier's is ``predict_proba`` (n, classes), columns in ``estimator.classes_`` order.
"""

from __future__ import annotations

from typing import Any, Literal

from mpg_core.hyperparameters import FORESTS, Hyperparameters

Task = Literal["regression", "classification"]
TASKS: tuple[Task, ...] = ("regression", "classification")

# scikit-learn's class for each (algorithm, task), by name: importing all of sklearn.ensemble
# up front costs nothing extra, but the names keep this table readable.
ESTIMATOR_CLASSES: dict[str, dict[Task, str]] = {
    "random_forest": {
        "regression": "RandomForestRegressor",
        "classification": "RandomForestClassifier",
    },
    "extra_trees": {"regression": "ExtraTreesRegressor", "classification": "ExtraTreesClassifier"},
    "gradient_boosting": {
        "regression": "GradientBoostingRegressor",
        "classification": "GradientBoostingClassifier",
    },
    "hist_gradient_boosting": {
        "regression": "HistGradientBoostingRegressor",
        "classification": "HistGradientBoostingClassifier",
    },
}


def build_estimator(task: Task, hp: Hyperparameters) -> Any:
    """The unfitted estimator for ``task`` with ``hp`` (its ``algorithm`` picks the family); a
    forest classifier with a ``leaf_prior`` smooths its leaf votes (mpg_core.models)."""
    import sklearn.ensemble

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")
    cls = getattr(sklearn.ensemble, ESTIMATOR_CLASSES[hp.algorithm][task])
    params = hp.sklearn_params()
    if hp.algorithm == "random_forest" and params.get("max_samples") is not None:
        params["bootstrap"] = True  # already the default; max_samples needs it
    estimator = cls(**params)
    if task == "classification" and hp.algorithm in FORESTS and hp.leaf_prior:
        from mpg_core.models import SmoothedForestClassifier

        return SmoothedForestClassifier(estimator, hp.leaf_prior)
    return estimator


def sample_weights(task: Task, class_weight: str, y: Any) -> Any:
    """Fit's sample weights for ``class_weight`` (``balanced``: scikit-learn's
    ``n_rows / (n_classes * rows of the class)``); None (unweighted) otherwise and for a
    regressor."""
    if task != "classification" or class_weight != "balanced":
        return None
    from sklearn.utils.class_weight import compute_sample_weight

    return compute_sample_weight("balanced", y)
