"""``algorithm = "auto"``: fit the candidate families within a budget, compare them on the
validation rows, try a weighted ensemble of them, and keep the best (with its leaderboard).

The validation rows are used three ways, each kept as honest as cheap means allow:
- early stopping uses an internal split of *train* (scikit-learn's ``validation_fraction``),
  never the validation rows, so the comparison of families stays fair;
- the ensemble's weights are chosen on validation predictions (Caruana et al.'s ensemble
  selection with replacement, as AutoGluon's WeightedEnsemble), and it is kept when it beats
  the best single family there, as AutoGluon keeps its WeightedEnsemble. A 2-fold
  cross-fitted comparison (weights chosen on one half, scored on the other) is reported
  beside it, not obeyed: on the model bench it preferred single families that the ensemble
  then beat on the test rows (imbalanced wine, diabetes, the rare-returns shop table:
  10 seeds), so the bench's test rows, not the halves, decided the rule;
- calibration is judged by cross-fitting on the judging rows (:mod:`mpg_training.calibration`).

The metric: regression RMSE, classification log loss (both lower is better).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mpg_core.artifact.blend import blend
from mpg_core.artifact.compiler import compile_forest
from mpg_core.hyperparameters import ALGORITHMS, Hyperparameters, for_table_rows
from mpg_core.metrics import classification_metrics, regression_metrics
from mpg_core.models import BlendedClassifier, BlendedRegressor
from mpg_training.estimators import Task, build_estimator, sample_weights

log = logging.getLogger("mpg_training")

ENSEMBLE = "weighted_ensemble"
ENSEMBLE_ROUNDS = 25
# Early stopping (an internal 10% of train) only where that holdout is big enough to judge
# on, and then with room to grow: scikit-learn's own rule for the histogram family is 10,000.
EARLY_STOPPING_ROWS = 1_000
EARLY_STOPPING_MAX_TREES = 1_000
# Tables below this many training rows fit fewer candidates: gradient boosting (exact splits)
# and the histogram family coincide there, and the test suite trains many small tables.
TINY_ROWS = 500
TINY_FAMILIES = ("random_forest", "extra_trees", "hist_gradient_boosting")
# Rough cost of one tree on one (row x feature), seconds per core, by family: enough to skip a
# family that cannot finish within the budget (measured on this kit's tables, 2-core box).
SECONDS_PER_CELL_TREE = {
    "hist_gradient_boosting": 2e-9,
    "random_forest": 2e-8,
    "extra_trees": 1e-8,
    "gradient_boosting": 3e-8,
}
# Below this many training rows the job runs OpenMP (the histogram family's fit and predict)
# on one thread: its threads cost more to start and synchronise than the work they share.
SMALL_TABLE_ROWS = 10_000
# Tables with at most this many train + validation rows are judged by cross-validation.
CV_ROWS = 3_000
CV_FOLDS = 5
# Serving cost: one row through the compiled walk, the median of this many calls.
TIMING_CALLS = 200


@dataclass(frozen=True)
class Budget:
    """What the candidates may use together: seconds and bytes (from the instance)."""

    seconds: float
    memory_bytes: int
    cores: int

    @classmethod
    def for_instance(
        cls, cores: int, memory_bytes: int, rows: int, time_limit: int | None
    ) -> Budget:
        # Without a limit: an hour, at least a minute per 100 k rows beyond it.
        seconds = float(time_limit) if time_limit else max(3600.0, 60.0 * rows / 100_000)
        return cls(seconds, memory_bytes, max(1, cores))


@dataclass
class Candidate:
    """One fitted candidate and what the leaderboard says of it."""

    name: str
    model: Any
    judged: np.ndarray  # predictions (1-D) or class probabilities on the judging rows
    metrics: dict[str, float]  # on the judging rows (see Judging): what the choice reads
    fit_seconds: float
    size_bytes: int = 0
    serve_us_per_row: float = math.nan
    note: str = ""
    weights: dict[str, float] = field(default_factory=dict)
    validation_metrics: dict[str, float] = field(default_factory=dict)  # the model's own

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.name,
            "judged": self.metrics,
            "validation": self.validation_metrics,
            "fit_seconds": round(self.fit_seconds, 4),
            "size_bytes": self.size_bytes,
            "serve_us_per_row": round(self.serve_us_per_row, 2),
        }
        if self.weights:
            out["weights"] = self.weights
        if self.note:
            out["note"] = self.note
        return out


def selection_metric(task: Task) -> str:
    return "log_loss" if task == "classification" else "rmse"


def score(task: Task, y: np.ndarray, predicted: np.ndarray, classes: np.ndarray | None) -> float:
    """The selection metric (lower is better) of validation predictions."""
    if task == "classification":
        from sklearn.metrics import log_loss

        assert classes is not None
        return float(log_loss(y, np.clip(predicted, 1e-15, 1.0), labels=classes))
    return float(math.sqrt(np.mean((y - predicted) ** 2)))


def task_metrics(
    task: Task, y: np.ndarray, predicted: np.ndarray, classes: np.ndarray | None
) -> dict[str, float]:
    if task == "classification":
        assert classes is not None
        return classification_metrics(y, predicted, classes)
    return regression_metrics(y, predicted)


def answers(model: Any, X: np.ndarray, task: Task) -> np.ndarray:
    method = model.predict_proba if task == "classification" else model.predict
    return np.asarray(method(X), dtype=np.float64)


def fast_answers(model: Any, task: Task) -> Callable[[np.ndarray], np.ndarray]:
    """``answers`` through the compiled walk when the model compiles (the same numbers to
    1e-6, without scikit-learn's per-call thread pool), else the estimator's own."""
    from mpg_core.artifact.compiled import NotCompilable, check_model_range

    try:
        walk = compile_forest(model)
    except NotCompilable:
        return functools.partial(answers, model, task=task)

    def predict(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        check_model_range(X)
        return walk.predict(X)

    return predict


def families_for(rows: int) -> tuple[str, ...]:
    return TINY_FAMILIES if rows < TINY_ROWS else ALGORITHMS


def _with_early_stopping(estimator: Any, family: str, hp: Hyperparameters, rows: int) -> str:
    """Switch on the family's early stopping (internal split of train) where it has one, the
    table is big enough and the number of trees was left to the default. Returns a note."""
    if rows < EARLY_STOPPING_ROWS or "n_estimators" in hp.given:
        return ""
    if family == "hist_gradient_boosting":
        estimator.set_params(
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            max_iter=EARLY_STOPPING_MAX_TREES,
        )
        return "early stopping on 10% of train"
    if family == "gradient_boosting":
        estimator.set_params(
            n_iter_no_change=10, validation_fraction=0.1, n_estimators=EARLY_STOPPING_MAX_TREES
        )
        return "early stopping on 10% of train"
    return ""


def _estimated_seconds(family: str, rows: int, features: int, cores: int, trees: int) -> float:
    parallel = cores if family in ("random_forest", "extra_trees") else 1
    return SECONDS_PER_CELL_TREE[family] * rows * features * trees / parallel


def size_bytes(model: Any) -> int:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.tell()


def serve_us_per_row(model: Any, row: np.ndarray) -> float:
    """One row through the compiled walk, median microseconds; NaN when it does not compile."""
    from mpg_core.artifact.compiled import NotCompilable

    try:
        walk = compile_forest(model)
    except NotCompilable:
        return math.nan
    one = np.ascontiguousarray(row[None, :], dtype=np.float64)
    walk.predict(one)  # warm
    times = []
    for _ in range(TIMING_CALLS):
        start = time.perf_counter()
        walk.predict(one)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e6)


@dataclass(frozen=True)
class Judging:
    """The rows the candidates are compared on: the validation rows, or for a small table
    every train and validation row, each predicted by a model fitted on the other folds
    (out-of-fold): a 40-row validation split cannot tell families apart, 300 rows can."""

    X: np.ndarray
    y: np.ndarray
    folds: np.ndarray | None  # fold of each row (cross-validation), None: the validation rows
    how: str

    @classmethod
    def for_rows(
        cls,
        task: Task,
        X: np.ndarray,
        y: np.ndarray,
        X_valid: np.ndarray,
        y_valid: np.ndarray,
        seed: int,
    ) -> Judging:
        validation = cls(X_valid, y_valid, None, "validation rows")
        if len(X) + len(X_valid) > CV_ROWS:
            return validation
        X_all, y_all = np.vstack([X, X_valid]), np.concatenate([y, y_valid])
        splits = CV_FOLDS
        if task == "classification":
            splits = min(splits, int(np.unique(y_all, return_counts=True)[1].min()))
        if splits < 2:
            return validation
        from sklearn.model_selection import KFold, StratifiedKFold

        splitter = (
            StratifiedKFold(splits, shuffle=True, random_state=seed)
            if task == "classification"
            else KFold(splits, shuffle=True, random_state=seed)
        )
        folds = np.zeros(len(y_all), dtype=np.intp)
        for k, (_, held) in enumerate(splitter.split(X_all, y_all)):
            folds[held] = k
        how = f"{splits}-fold cross-validation over the train and validation rows"
        return cls(X_all, y_all, folds, how)

    def predictions(self, estimator: Any, task: Task, hp: Hyperparameters) -> np.ndarray:
        """Out-of-fold predictions of clones of ``estimator`` (unfitted)."""
        from sklearn.base import clone

        assert self.folds is not None
        out: np.ndarray | None = None
        for k in range(int(self.folds.max()) + 1):
            fit, held = self.folds != k, self.folds == k
            weights = sample_weights(task, hp.class_weight, self.y[fit])
            model = clone(estimator).fit(self.X[fit], self.y[fit], sample_weight=weights)
            part = answers(model, self.X[held], task)
            if out is None:
                out = np.zeros((len(self.y), *part.shape[1:]))
            out[held] = part
        assert out is not None
        return out


def fit_candidates(
    task: Task,
    hp: Hyperparameters,
    X: np.ndarray,
    y: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    budget: Budget,
    families: Sequence[str] | None = None,
    judging: Judging | None = None,
) -> list[Candidate]:
    """Fit each candidate family (cheapest first) on the train rows while the budget lasts;
    each one's predictions and metrics on the ``judging`` rows (default: validation) and the
    fitted model's on the validation rows."""
    started = time.perf_counter()
    rows, features = X.shape
    judging = judging or Judging(X_valid, y_valid, None, "validation rows")
    folds = 1 if judging.folds is None else int(judging.folds.max()) + 2
    weights = sample_weights(task, hp.class_weight, y)
    candidates: list[Candidate] = []
    classes = np.unique(y) if task == "classification" else None
    order = sorted(families or families_for(rows), key=lambda f: SECONDS_PER_CELL_TREE[f])
    for family in order:
        family_hp = for_table_rows(hp.for_family(family), rows)
        estimator = build_estimator(task, family_hp)
        note = _with_early_stopping(estimator, family, hp, rows)
        trees = int(getattr(estimator, "max_iter", 0) or getattr(estimator, "n_estimators", 100))
        left = budget.seconds - (time.perf_counter() - started)
        need = folds * _estimated_seconds(family, rows, features, budget.cores, trees)
        if need > left:
            log.warning(
                "skipping a candidate: over the time budget",
                extra={"family": family, "estimated_seconds": round(need, 1), "left": left},
            )
            continue
        # An unbounded tree has up to ~2 nodes per row, ~100 bytes each, twice (estimator and
        # compiled copy).
        unbounded = family in ("random_forest", "extra_trees") and family_hp.max_leaf_nodes is None
        if unbounded and 400 * rows * trees > budget.memory_bytes // 2:
            log.warning("skipping a candidate: over the memory budget", extra={"family": family})
            continue
        start = time.perf_counter()
        judged = None if judging.folds is None else judging.predictions(estimator, task, hp)
        estimator.fit(X, y, sample_weight=weights)
        seconds = time.perf_counter() - start
        predicted = answers(estimator, X_valid, task)
        if judged is None:
            judged = predicted
        if hasattr(estimator, "n_iter_") and note:
            note += f": {int(estimator.n_iter_)} trees"
        elif hasattr(estimator, "n_estimators_") and note:
            note += f": {int(estimator.n_estimators_)} trees"
        candidates.append(
            Candidate(
                family,
                estimator,
                judged,
                task_metrics(task, judging.y, judged, classes),
                seconds,
                size_bytes(estimator),
                serve_us_per_row(estimator, X_valid[0]),
                note,
                validation_metrics=task_metrics(task, y_valid, predicted, classes),
            )
        )
    if not candidates:
        raise RuntimeError("no candidate family fits the budget")
    return candidates


def refit(model: Any, X: np.ndarray, y: np.ndarray, sample_weight: Any = None) -> Any:
    """``model`` fitted again on (X, y): the same family and settings, with the number of
    trees its early stopping chose (it stops no more: the rows it held out are now fitted
    on); an ensemble's members each so, with the same weights (and calibration)."""
    from sklearn.base import clone

    if isinstance(model, BlendedClassifier | BlendedRegressor):
        members = [refit(m, X, y, sample_weight) for m in model.members]
        if isinstance(model, BlendedClassifier):
            return BlendedClassifier(members, model.weights, model.calibration)
        return BlendedRegressor(members, model.weights)
    fresh = clone(model)
    if getattr(model, "do_early_stopping_", False):  # the histogram family
        fresh.set_params(max_iter=int(model.n_iter_), early_stopping=False)
    elif hasattr(model, "n_estimators_") and getattr(model, "n_iter_no_change", None):
        # gradient boosting (the forests have no n_iter_no_change)
        fresh.set_params(n_estimators=int(model.n_estimators_), n_iter_no_change=None)
    return fresh.fit(X, y, sample_weight=sample_weight)


def ensemble_selection(
    predictions: Sequence[np.ndarray],
    metric: Callable[[np.ndarray], float],
    rounds: int = ENSEMBLE_ROUNDS,
) -> np.ndarray:
    """Caruana et al.'s ensemble selection with replacement: ``rounds`` times, add the member
    whose addition gives the best (lowest) metric of the running average; the weights are
    how often each member was added, over ``rounds``. Ties go to the earlier member."""
    counts = np.zeros(len(predictions))
    total = np.zeros_like(predictions[0])
    for step in range(1, rounds + 1):
        scores = [metric((total + p) / step) for p in predictions]
        best = int(np.argmin(scores))
        counts[best] += 1
        total = total + predictions[best]
    return counts / rounds


def _weighted(predictions: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return blend(list(predictions), np.asarray(weights, dtype=np.float64))


def cross_fitted_gain(
    predictions: Sequence[np.ndarray],
    y: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    seed: int,
) -> tuple[float, float]:
    """The ensemble's and the best single member's metric, each chosen on one half of the
    validation rows and scored on the other (both ways, averaged)."""
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(y)) < len(y) // 2
    ensemble, single = [], []
    for fit_rows in (half, ~half):
        score_rows = ~fit_rows
        fit_preds = [p[fit_rows] for p in predictions]
        fit_y = y[fit_rows]
        weights = ensemble_selection(fit_preds, functools.partial(metric, fit_y))
        best = int(np.argmin([metric(fit_y, p) for p in fit_preds]))
        held = [p[score_rows] for p in predictions]
        ensemble.append(metric(y[score_rows], _weighted(held, weights)))
        single.append(metric(y[score_rows], held[best]))
    return float(np.mean(ensemble)), float(np.mean(single))


@dataclass
class Selection:
    chosen: Candidate
    leaderboard: list[Candidate]
    metric: str
    ensemble_check: dict[str, float] = field(default_factory=dict)
    judged_on: str = "validation rows"
    judging_y: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the judged rows' truth

    def table(self) -> str:
        """The leaderboard as text, best first, for the log."""
        metric = self.metric
        lines = [
            f"{'model':<24}{'judged ' + metric:>16}{'valid ' + metric:>16}{'fit s':>9}"
            f"{'size KB':>10}{'µs/row':>9}",
        ]
        for c in sorted(self.leaderboard, key=lambda c: c.metrics[metric]):
            mark = " *" if c is self.chosen else ""
            lines.append(
                f"{c.name:<24}{c.metrics[metric]:>16.6f}"
                f"{c.validation_metrics.get(metric, math.nan):>16.6f}{c.fit_seconds:>9.2f}"
                f"{c.size_bytes / 1024:>10.0f}{c.serve_us_per_row:>9.1f}{mark}"
            )
        return "\n".join(lines)


def select(
    task: Task,
    hp: Hyperparameters,
    X: np.ndarray,
    y: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    budget: Budget,
    families: Sequence[str] | None = None,
) -> Selection:
    """The best of the candidate families on validation, or their weighted ensemble when it
    beats the best one there (see the module docstring)."""
    judging = Judging.for_rows(task, X, y, X_valid, y_valid, hp.random_state)
    candidates = fit_candidates(task, hp, X, y, X_valid, y_valid, budget, families, judging)
    metric_name = selection_metric(task)
    classes = np.unique(y) if task == "classification" else None

    def metric(truth: np.ndarray, predicted: np.ndarray) -> float:
        return score(task, truth, predicted, classes)

    best = min(candidates, key=lambda c: c.metrics[metric_name])
    selection = Selection(
        best, list(candidates), metric_name, judged_on=judging.how, judging_y=judging.y
    )
    if len(candidates) < 2 or len(judging.y) < 20:
        return selection
    predictions = [c.judged for c in candidates]
    crossed_ensemble, crossed_single = cross_fitted_gain(
        predictions, judging.y, metric, hp.random_state
    )
    weights = ensemble_selection(predictions, lambda p: metric(judging.y, p))
    used = [i for i, w in enumerate(weights) if w > 0]
    selection.ensemble_check = {
        "cross_fitted_ensemble": crossed_ensemble,
        "cross_fitted_best_single": crossed_single,
    }
    if len(used) < 2:
        return selection
    members = [candidates[i].model for i in used]
    member_weights = weights[used]
    blended: Any = (
        BlendedClassifier(members, member_weights)
        if task == "classification"
        else BlendedRegressor(members, member_weights)
    )
    judged = _weighted([predictions[i] for i in used], member_weights)
    on_validation = answers(blended, X_valid, task)
    ensemble = Candidate(
        ENSEMBLE,
        blended,
        judged,
        task_metrics(task, judging.y, judged, classes),
        sum(candidates[i].fit_seconds for i in used),
        size_bytes(blended),
        serve_us_per_row(blended, X_valid[0]),
        "weights chosen on the judging rows (cross-fitted check: ensemble_check)",
        {candidates[i].name: float(weights[i]) for i in used},
        task_metrics(task, y_valid, on_validation, classes),
    )
    selection.leaderboard.append(ensemble)
    if ensemble.metrics[metric_name] < best.metrics[metric_name]:
        selection.chosen = ensemble
    return selection
