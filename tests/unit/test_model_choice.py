"""The pieces auto's choice is made of: ensemble selection, the cross-fitted judgement of the
ensemble and of calibration, the decision threshold, the gate's comparisons, and auto's
hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest

from mpg_core.errors import ConfigError
from mpg_core.gate import gate_verdict
from mpg_core.hyperparameters import (
    ALGORITHMS,
    Hyperparameters,
    for_table_rows,
    parameter_ranges,
    parse_hyperparameters,
    tuning_plan,
)
from mpg_core.metrics import classification_metrics, predicted_labels
from mpg_training.calibration import (
    choose_calibration,
    choose_threshold,
    cross_fitted,
    fit_calibration,
)
from mpg_training.selection import cross_fitted_gain, ensemble_selection, refit


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - p) ** 2)))


def test_ensemble_selection_averages_members_whose_errors_cancel() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    noise = rng.normal(size=400)
    under, over, bad = y - 0.5 * noise, y + 0.5 * noise, y + rng.normal(size=400)
    weights = ensemble_selection([under, over, bad], lambda p: rmse(y, p))
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] == pytest.approx(0.5, abs=0.1) and weights[1] == pytest.approx(0.5, abs=0.1)
    assert weights[2] == 0.0
    ensemble, single = cross_fitted_gain([under, over, bad], y, rmse, seed=1)
    assert ensemble < 0.2 * single  # judged on the halves the weights were not chosen on


def test_a_single_best_member_takes_all_the_weight() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    good, poor = y + 0.1 * rng.normal(size=200), y + rng.normal(size=200)
    weights = ensemble_selection([poor, good], lambda p: rmse(y, p))
    assert weights[1] >= 0.9


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A score that ranks well but whose probabilities are pushed to 0 and 1."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n)
    positive = rng.random(n) < truth
    p = 1 / (1 + np.exp(-12 * (truth - 0.5)))
    return p, positive


def test_calibration_is_kept_when_cross_fitting_says_it_helps() -> None:
    p, positive = overconfident(600, 2)
    choice = choose_calibration(p, positive, seed=0)
    assert choice.calibration is not None
    assert choice.log_loss[choice.calibration.method] < 0.99 * choice.log_loss["none"]
    assert choice.as_json()["judged_by"].startswith("5-fold cross-fitting")


def test_calibration_is_refused_when_the_probabilities_are_already_right() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(800)
    positive = rng.random(800) < p
    choice = choose_calibration(p, positive, seed=0)
    assert choice.calibration is None and "no method" in choice.reason


def test_cross_fitting_judges_isotonic_on_rows_it_did_not_see() -> None:
    # Isotonic regression fitted on the rows it is judged on flatters itself: the cross-fitted
    # log loss (what choose_calibration compares) is the honest, higher one.
    rng = np.random.default_rng(4)
    p = rng.random(300)
    positive = rng.random(300) < 0.3 + 0.4 * p

    def log_loss(q: np.ndarray) -> float:
        q = np.clip(q, 1e-15, 1 - 1e-15)
        return float(-np.mean(np.where(positive, np.log(q), np.log(1 - q))))

    in_sample = fit_calibration("isotonic", p, positive).apply(p)
    crossed = cross_fitted("isotonic", p, positive, seed=0)
    assert log_loss(crossed) > log_loss(in_sample) + 0.01


def test_few_rows_are_not_calibrated() -> None:
    p, positive = overconfident(30, 5)
    assert choose_calibration(p, positive, 0).calibration is None


def test_the_threshold_maximises_balanced_accuracy_on_an_imbalanced_target() -> None:
    rng = np.random.default_rng(6)
    positive = rng.random(1000) < 0.08
    # A model that ranks well but whose probabilities for the rare class stay low.
    p = np.clip(np.where(positive, 0.3, 0.1) + 0.08 * rng.normal(size=1000), 0, 1)
    threshold = choose_threshold(p, positive, "balanced_accuracy")
    assert 0.1 < threshold < 0.3
    classes = np.array(["no", "yes"])
    y = np.where(positive, "yes", "no")
    proba = np.column_stack([1 - p, p])
    at_half = classification_metrics(y, proba, classes)
    at_threshold = classification_metrics(y, proba, classes, threshold)
    assert at_threshold["balanced_accuracy"] > at_half["balanced_accuracy"] + 0.2
    assert at_threshold["log_loss"] == at_half["log_loss"]  # probabilities unchanged
    assert (predicted_labels(proba, classes, threshold) == "yes").sum() > (p >= 0.5).sum()


def test_the_threshold_for_accuracy_can_differ_from_balanced_accuracy() -> None:
    rng = np.random.default_rng(7)
    positive = rng.random(2000) < 0.1
    p = np.clip(np.where(positive, 0.35, 0.15) + 0.1 * rng.normal(size=2000), 0, 1)
    assert choose_threshold(p, positive, "accuracy") > choose_threshold(
        p, positive, "balanced_accuracy"
    )
    with pytest.raises(ValueError, match="decision metric"):
        choose_threshold(p, positive, "recall")


def test_the_gate_refuses_a_model_no_better_than_the_baseline() -> None:
    verdict = gate_verdict("regression", {"rmse": 7.6}, {"rmse": 7.8})
    assert not verdict.passed and verdict.decided_by == "baseline"
    assert gate_verdict("regression", {"rmse": 2.9}, {"rmse": 7.8}).passed


def test_the_gate_compares_with_the_approved_version_and_says_which_check_decided() -> None:
    model, baseline = {"log_loss": 0.40}, {"log_loss": 0.69}
    assert gate_verdict("classification", model, baseline, {"log_loss": 0.41}).passed
    worse = gate_verdict("classification", model, baseline, {"log_loss": 0.30})
    assert not worse.passed and worse.decided_by == "approved"
    absolute = gate_verdict("classification", model, baseline, absolute=0.35)
    assert not absolute.passed and absolute.decided_by == "absolute"
    assert [c["check"] for c in absolute.checks] == ["baseline", "absolute"]
    assert gate_verdict("classification", {"log_loss": float("nan")}, baseline).passed is False


def test_auto_is_the_default_and_hands_each_family_only_what_was_given() -> None:
    hp = parse_hyperparameters({})
    assert hp.is_auto and hp == Hyperparameters()
    given = parse_hyperparameters({"n_estimators": "50", "max_depth": "None"})
    boosted = given.for_family("gradient_boosting")
    assert boosted.n_estimators == 50 and boosted.max_depth == 3  # None: the family's own
    forest = for_table_rows(given.for_family("random_forest"), 100_000)
    assert forest.max_leaf_nodes is not None  # max_depth None given: the size rule still holds
    with pytest.raises(ConfigError, match="max_features='sqrt' must be a number in"):
        parse_hyperparameters({"max_features": "sqrt"})  # the histogram family refuses it
    with pytest.raises(ConfigError, match="learning_rate does not apply to algorithm=auto"):
        parse_hyperparameters({"learning_rate": "0.1"})
    with pytest.raises(ValueError, match="auto is no estimator"):
        hp.sklearn_params()


def test_the_tuner_never_searches_auto() -> None:
    assert "auto" not in parameter_ranges()["CategoricalParameterRanges"][0]["Values"]
    ranges, static = tuning_plan({"algorithm": "auto", "random_state": "3"})
    assert static == {"random_state": "3"}
    assert ranges["CategoricalParameterRanges"][0]["Values"] == list(ALGORITHMS)


def test_class_weight_and_the_decision_settings_are_checked() -> None:
    hp = parse_hyperparameters({"algorithm": "gradient_boosting", "class_weight": "Balanced"})
    assert hp.class_weight == "balanced" and "class_weight" not in hp.sklearn_params()
    assert parse_hyperparameters({}).decision_metric == "balanced_accuracy"
    assert parse_hyperparameters({"algorithm": "random_forest"}).decision_metric == "none"
    with pytest.raises(ConfigError, match="class_weight='some' must be one of"):
        parse_hyperparameters({"class_weight": "some"})


def test_an_empty_value_is_not_given_so_a_pipeline_trains_what_train_trains() -> None:
    # A pipeline sends every hyperparameter parameter; "" must resolve as leaving it out.
    rows = 1_000_000
    as_train = for_table_rows(parse_hyperparameters({"algorithm": "random_forest"}), rows)
    as_pipeline = for_table_rows(
        parse_hyperparameters({"algorithm": "random_forest", "max_depth": ""}), rows
    )
    assert as_pipeline == as_train and as_pipeline.max_leaf_nodes is not None
    # "None" stays an explicit choice of unbounded trees, which the size rule respects.
    explicit = parse_hyperparameters({"algorithm": "random_forest", "max_depth": "None"})
    assert for_table_rows(explicit, rows).max_leaf_nodes is None


def test_refit_keeps_the_tree_counts_early_stopping_chose_and_the_blend_weights() -> None:
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier

    from mpg_core.models import BlendedClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=1500) > 0).astype(int)
    held = slice(0, 1200)
    hist = HistGradientBoostingClassifier(
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=5, max_iter=500
    ).fit(X[held], y[held])
    boosted = GradientBoostingRegressor(
        n_iter_no_change=5, validation_fraction=0.1, n_estimators=500, random_state=0
    ).fit(X[held], X[held, 1])
    assert hist.n_iter_ < 500 and boosted.n_estimators_ < 500  # both stopped early

    again = refit(hist, X, y)
    assert again.n_iter_ == hist.n_iter_ and again.get_params()["early_stopping"] is False
    assert again.get_params()["max_iter"] == hist.n_iter_
    assert again is not hist and hist.n_iter_ == hist.n_iter_  # the original is left as it was
    regressor = refit(boosted, X, X[:, 1])
    assert regressor.n_estimators_ == boosted.n_estimators_
    assert regressor.get_params()["n_iter_no_change"] is None
    # Fitted on the new rows: the answers move.
    assert not np.allclose(again.predict_proba(X), hist.predict_proba(X))

    blended = BlendedClassifier([hist, hist], [0.25, 0.75])
    refitted = refit(blended, X, y)
    assert isinstance(refitted, BlendedClassifier)
    assert np.array_equal(refitted.weights, [0.25, 0.75])
    assert [m.n_iter_ for m in refitted.members] == [hist.n_iter_, hist.n_iter_]
    assert all(m is not hist for m in refitted.members)


def test_multiclass_probabilities_get_a_temperature_only_when_it_helps_cross_fitted() -> None:
    from mpg_training.calibration import choose_class_calibration

    rng = np.random.default_rng(3)
    logits = rng.normal(scale=3.0, size=(400, 3))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_index = np.array([rng.choice(3, p=row) for row in true])
    # Votes averaged towards uniform, as a forest's are: a power above 1 undoes it.
    flat = np.exp(logits / 3) / np.exp(logits / 3).sum(axis=1, keepdims=True)
    choice = choose_class_calibration(flat, y_index, 0, "the validation rows")
    assert choice.calibration is not None and choice.calibration.method == "temperature"
    assert 2.0 < choice.calibration.a < 4.5
    report = choice.as_json()
    assert report["cross_fitted_log_loss"]["temperature"] < report["cross_fitted_log_loss"]["none"]
    assert report["judged_by"] == "5-fold cross-fitting on the validation rows"
    # Already calibrated: nothing gains 1%, nothing is kept.
    assert choose_class_calibration(true, y_index, 0, "rows").calibration is None
    assert choose_class_calibration(flat[:30], y_index[:30], 0, "rows").calibration is None
