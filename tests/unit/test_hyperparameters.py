import pytest

from mpg_core.errors import ConfigError
from mpg_training.hyperparameters import Hyperparameters, parse_hyperparameters


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
