import pytest

from mpg_core.errors import ConfigError
from mpg_core.hyperparameters import (
    SCHEMA,
    TUNED,
    Hyperparameters,
    Integer,
    Spec,
    parameter_ranges,
    parse_hyperparameters,
)


def test_defaults() -> None:
    assert parse_hyperparameters({}) == Hyperparameters()


def test_strings_and_json_quoted_strings_are_parsed() -> None:
    hp = parse_hyperparameters(
        {
            "n_estimators": "250",
            "max_depth": '"12"',
            "max_features": "0.5",
            "min_samples_leaf": "3.0",
            "random_state": "7",
            "n_jobs": "2",
        }
    )
    assert hp == Hyperparameters(
        n_estimators=250,
        max_depth=12,
        max_features=0.5,
        min_samples_leaf=3,
        random_state=7,
        n_jobs=2,
    )


@pytest.mark.parametrize("value", ["None", "null", "", '"None"', None])
def test_max_depth_none_words(value: object) -> None:
    assert parse_hyperparameters({"max_depth": value}).max_depth is None


def test_max_features_words() -> None:
    assert parse_hyperparameters({"max_features": "SQRT"}).max_features == "sqrt"


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
    ("raw", "message"),
    [
        ({"n_estimators": "ten"}, "n_estimators='ten' must be an integer"),
        ({"n_estimators": "0"}, "n_estimators=0 must be >= 1"),
        ({"n_estimators": "2.5"}, "must be an integer"),
        ({"n_estimators": "true"}, "must be an integer"),
        ({"max_depth": "0"}, "max_depth=0 must be >= 1"),
        ({"min_samples_split": "1"}, "must be >= 2"),
        ({"max_features": "1.5"}, "fraction in (0, 1]"),
        ({"max_features": "all"}, "fraction in (0, 1]"),
        ({"n_jobs": "0"}, "n_jobs=0 is not allowed"),
        ({"learning_rate": "0.1"}, "unknown hyperparameter(s) ['learning_rate']"),
    ],
)
def test_bad_values_name_the_fix(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_hyperparameters(raw)
    assert message in str(err.value)


def test_the_table_and_the_dataclass_are_one() -> None:
    assert [s.name for s in SCHEMA] == list(Hyperparameters().as_dict())
    assert {s.name: s.default for s in SCHEMA} == Hyperparameters().as_dict()


@pytest.mark.parametrize("spec", SCHEMA, ids=lambda s: s.name)
def test_every_default_is_a_valid_value(spec: Spec) -> None:
    assert spec.valid.parse(spec.name, spec.default) == spec.default


@pytest.mark.parametrize("spec", [s for s in SCHEMA if s.tuned], ids=lambda s: s.name)
def test_every_tuning_range_lies_inside_the_valid_values(spec: Spec) -> None:
    assert spec.tuned is not None
    assert spec.tuned.low < spec.tuned.high
    for bound in (spec.tuned.low, spec.tuned.high):
        assert parse_hyperparameters({spec.name: str(bound)}).as_dict()[spec.name] == bound
    # Integer ranges only for integers: the tuner would send "0.3" to an integer otherwise.
    assert (spec.tuned.kind == "Integer") == isinstance(spec.valid, Integer)


def test_parameter_ranges_come_from_the_table() -> None:
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
        "CategoricalParameterRanges": [],
    }
    assert {r["Name"] for group in ranges.values() for r in group} == TUNED


def test_reported_error_does_not_depend_on_key_order() -> None:
    bad = {"max_features": "2", "n_estimators": "many"}
    for raw in (bad, dict(reversed(bad.items()))):
        with pytest.raises(ConfigError, match="n_estimators='many' must be an integer"):
            parse_hyperparameters(raw)
