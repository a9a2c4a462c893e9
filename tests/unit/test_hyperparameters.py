import pytest

from mpg_core.errors import ConfigError
from mpg_core.hyperparameters import (
    ALGORITHMS,
    FOREST_LEAVES,
    FOREST_SAMPLE_ROWS,
    FOREST_SIZE_RULE_ROWS,
    JOB_PARAMETERS,
    SCHEMA,
    SPECS,
    TUNED,
    Hyperparameters,
    Integer,
    Spec,
    family_names,
    for_table_rows,
    parameter_ranges,
    parse_hyperparameters,
    tuned_names,
    tuning_plan,
)


def test_the_random_forest_keeps_its_defaults() -> None:
    hp = parse_hyperparameters({"algorithm": "random_forest"})
    assert hp == Hyperparameters("random_forest")
    assert hp.algorithm == "random_forest"
    assert hp.sklearn_params() == {
        "n_estimators": 100,
        "max_depth": None,
        "min_samples_split": 2,
        "min_samples_leaf": 1,
        "max_features": 1.0,
        "max_leaf_nodes": None,
        "max_samples": None,
        "random_state": 42,
        "n_jobs": -1,
    }


def test_strings_and_json_quoted_strings_are_parsed() -> None:
    hp = parse_hyperparameters(
        {
            "algorithm": "random_forest",
            "n_estimators": "250",
            "max_depth": '"12"',
            "max_features": "0.5",
            "min_samples_leaf": "3.0",
            "random_state": "7",
            "n_jobs": "2",
        }
    )
    assert hp == Hyperparameters(
        "random_forest",
        n_estimators=250,
        max_depth=12,
        max_features=0.5,
        min_samples_leaf=3,
        random_state=7,
        n_jobs=2,
    )
    assert (hp.n_estimators, hp.max_depth, hp.n_jobs) == (250, 12, 2)


@pytest.mark.parametrize("value", ["None", "null", "", '"None"', None])
def test_max_depth_none_words(value: object) -> None:
    assert parse_hyperparameters({"max_depth": value}).max_depth is None


def test_max_features_words() -> None:
    hp = parse_hyperparameters({"algorithm": "random_forest", "max_features": "SQRT"})
    assert hp.max_features == "sqrt"


def test_reserved_keys_are_ignored() -> None:
    hp = parse_hyperparameters(
        {
            "sagemaker_program": '"train.py"',
            "_tuning_objective_metric": "validation:rmse",
            "n_estimators": "10",
        }
    )
    assert hp.n_estimators == 10


@pytest.mark.parametrize(
    ("algorithm", "defaults"),
    [
        ("extra_trees", {"n_estimators": 100, "max_depth": None, "n_jobs": -1}),
        (
            "gradient_boosting",
            {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1, "subsample": 1.0},
        ),
        (
            "hist_gradient_boosting",
            {"max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20, "max_bins": 255},
        ),
    ],
)
def test_each_family_has_its_own_defaults(algorithm: str, defaults: dict[str, object]) -> None:
    params = parse_hyperparameters({"algorithm": algorithm}).sklearn_params()
    assert params.items() >= defaults.items()
    # The job's own parameters (sample weights, calibration, threshold) are no estimator's.
    assert set(params) == {
        (SPECS[n].sklearn_name or {}).get(algorithm, n)
        for n in family_names(algorithm)[1:]
        if n not in JOB_PARAMETERS
    }


def test_n_estimators_is_max_iter_for_the_histogram_family() -> None:
    hp = parse_hyperparameters({"algorithm": '"HIST_GRADIENT_BOOSTING"', "n_estimators": "30"})
    assert hp.as_dict()["n_estimators"] == 30
    assert hp.sklearn_params()["max_iter"] == 30 and "n_estimators" not in hp.sklearn_params()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"n_estimators": "ten"}, "n_estimators='ten' must be an integer"),
        ({"n_estimators": "0"}, "n_estimators=0 must be an integer in [1, 10000]"),
        ({"n_estimators": "1e9"}, "must be an integer in [1, 10000]"),
        ({"n_estimators": "2.5"}, "must be an integer"),
        ({"n_estimators": "true"}, "must be an integer"),
        ({"random_state": "99999999999999999999999"}, "must be an integer in [0, 4294967295]"),
        ({"random_state": "-1"}, "must be an integer in [0, 4294967295]"),
        ({"max_depth": "0"}, "max_depth=0 must be an integer in [1, 1000]"),
        ({"max_depth": "100000"}, "must be an integer in [1, 1000]"),
        ({"algorithm": "random_forest", "min_samples_split": "1"}, "must be an integer in [2, "),
        ({"max_features": "1.5"}, "must be a number in (0, 1] or one of ['sqrt', 'log2']"),
        ({"max_features": "all"}, "must be a number in (0, 1]"),
        ({"max_features": "nan"}, "must be a number in (0, 1]"),
        ({"algorithm": "random_forest", "n_jobs": "0"}, "n_jobs=0 is not allowed"),
        ({"algorithm": "random_forest", "n_jobs": "5000"}, "must be an integer in [-1, 1024]"),
        ({"algorithm": "xgboost"}, "algorithm='xgboost' must be one of ['auto', 'random_forest'"),
        ({"colour": "red"}, "unknown hyperparameter(s) ['colour']"),
        (
            {"algorithm": "random_forest", "learning_rate": "0.1"},
            "learning_rate does not apply to algorithm=random_forest; it is a parameter of "
            "['gradient_boosting', 'hist_gradient_boosting']",
        ),
        (
            {"algorithm": "hist_gradient_boosting", "n_jobs": "2"},
            "n_jobs does not apply to algorithm=hist_gradient_boosting",
        ),
        (
            {"algorithm": "gradient_boosting", "learning_rate": "0"},
            "learning_rate=0 must be a number in (0, 1]",
        ),
        (
            {"algorithm": "gradient_boosting", "learning_rate": "3"},
            "learning_rate=3 must be a number in (0, 1]",
        ),
        (
            {"algorithm": "hist_gradient_boosting", "max_features": "sqrt"},
            "max_features='sqrt' must be a number in (0, 1]",
        ),
        ({"algorithm": "hist_gradient_boosting", "max_bins": "256"}, "in [2, 255]"),
        ({"algorithm": "hist_gradient_boosting", "l2_regularization": "-1"}, "in [0, 1e+06]"),
    ],
)
def test_bad_values_name_the_fix(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_hyperparameters(raw)
    assert message in str(err.value)


def test_every_parameter_has_both_bounds() -> None:
    for spec in SCHEMA:
        valid = spec.valid
        if isinstance(valid, Integer):
            assert valid.minimum is not None and valid.maximum is not None, spec.name
        elif hasattr(valid, "high"):
            assert valid.high < float("inf"), spec.name


@pytest.mark.parametrize("spec", SCHEMA[1:], ids=lambda s: s.name)
def test_every_default_is_a_valid_value(spec: Spec) -> None:
    for algorithm, default in spec.defaults.items():
        assert Hyperparameters(algorithm, **{spec.name: default}).as_dict()[spec.name] == default


@pytest.mark.parametrize("spec", [s for s in SCHEMA if s.tuned], ids=lambda s: s.name)
def test_every_tuning_range_lies_inside_the_valid_values_of_every_family(spec: Spec) -> None:
    assert spec.tuned is not None
    for algorithm in spec.defaults:
        if spec.tuned.kind == "Categorical":
            bounds: tuple[object, ...] = spec.tuned.values
        else:
            assert spec.tuned.low < spec.tuned.high
            bounds = (spec.tuned.low, spec.tuned.high)
        for bound in bounds:
            raw = {"algorithm": algorithm, spec.name: str(bound)}
            if spec.name == "algorithm":
                raw = {"algorithm": str(bound)}
            assert parse_hyperparameters(raw).as_dict()[spec.name] == bound
    # Integer ranges only for integers: the tuner would send "0.3" to an integer otherwise.
    assert (spec.tuned.kind == "Integer") == isinstance(spec.valid, Integer)


def test_the_tuner_chooses_the_family_with_the_parameters_every_family_shares() -> None:
    ranges = parameter_ranges()
    assert ranges == {
        "IntegerParameterRanges": [
            {"Name": "n_estimators", "MinValue": "50", "MaxValue": "400", "ScalingType": "Auto"},
            {"Name": "max_depth", "MinValue": "3", "MaxValue": "20", "ScalingType": "Auto"},
            {"Name": "min_samples_leaf", "MinValue": "1", "MaxValue": "8", "ScalingType": "Auto"},
        ],
        "ContinuousParameterRanges": [
            {"Name": "max_features", "MinValue": "0.3", "MaxValue": "1.0", "ScalingType": "Auto"},
        ],
        "CategoricalParameterRanges": [{"Name": "algorithm", "Values": list(ALGORITHMS)}],
    }
    assert {r["Name"] for group in ranges.values() for r in group} == TUNED
    # Whatever family the tuner picks, every tuned value is one it takes.
    for algorithm in ALGORITHMS:
        assert TUNED - {"algorithm"} <= set(family_names(algorithm))


def test_a_fixed_family_tunes_its_own_parameters() -> None:
    ranges, static = tuning_plan({"algorithm": "gradient_boosting", "random_state": "7"})
    assert static == {"algorithm": "gradient_boosting", "random_state": "7"}
    assert ranges["CategoricalParameterRanges"] == []
    assert {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.3"}.items() <= ranges[
        "ContinuousParameterRanges"
    ][-1].items()
    assert tuned_names("random_forest") == TUNED - {"algorithm"}


def test_tuning_across_families_refuses_a_fixed_parameter_one_family_lacks() -> None:
    ranges, static = tuning_plan({"n_estimators": "10", "random_state": "7"})
    assert static == {"random_state": "7"}  # the tuner sets n_estimators
    assert ranges["CategoricalParameterRanges"][0]["Name"] == "algorithm"
    with pytest.raises(ConfigError, match=r"\['n_jobs'\] do not apply to every algorithm"):
        tuning_plan({"n_jobs": "2"})


def test_reported_error_does_not_depend_on_key_order() -> None:
    bad = {"max_features": "2", "n_estimators": "many"}
    for raw in (bad, dict(reversed(bad.items()))):
        with pytest.raises(ConfigError, match="n_estimators='many' must be an integer"):
            parse_hyperparameters(raw)


def test_small_tables_keep_todays_defaults() -> None:
    hp = Hyperparameters("random_forest")
    assert for_table_rows(hp, 278) is hp
    assert for_table_rows(hp, FOREST_SIZE_RULE_ROWS) is hp


def test_large_tables_bound_the_forests_trees() -> None:
    hp = parse_hyperparameters({"algorithm": "random_forest", "n_estimators": "50", "n_jobs": "2"})
    adapted = for_table_rows(hp, 1_000_000)
    assert adapted.max_leaf_nodes == FOREST_LEAVES
    assert adapted.max_samples == FOREST_SAMPLE_ROWS / 1_000_000
    assert (adapted.n_estimators, adapted.n_jobs) == (50, 2)  # given values are kept
    extra = for_table_rows(Hyperparameters(algorithm="extra_trees"), 200_000)
    assert extra.max_leaf_nodes == FOREST_LEAVES and "max_samples" not in extra.as_dict()


@pytest.mark.parametrize(
    "raw",
    [
        {"max_depth": "30"},
        {"max_leaf_nodes": "None"},
        {"algorithm": "random_forest", "max_samples": "0.9"},
        {"algorithm": "hist_gradient_boosting"},
        {"algorithm": "gradient_boosting"},
    ],
)
def test_the_size_rule_leaves_explicit_sizes_and_boosting_alone(raw: dict[str, str]) -> None:
    hp = parse_hyperparameters(raw)
    assert for_table_rows(hp, 1_000_000) is hp
