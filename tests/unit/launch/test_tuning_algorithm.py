"""The tuning job searches ``algorithm`` (a categorical range) with the parameters every family
shares, or one configured family's own ranges; both requests validate against botocore's
service model, and a fixed parameter one family lacks is refused before anything is sent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mpg_core.hyperparameters import ALGORITHMS, parse_hyperparameters
from mpg_launch.aws.validation import operation_model, validate_request
from mpg_launch.errors import ConfigError
from mpg_launch.jobs import requests as build
from mpg_launch.settings.config import LaunchConfig


def test_the_tuner_searches_the_family_and_the_shared_parameters(config: LaunchConfig) -> None:
    fixed = replace(config, hyperparameters={"random_state": "7"})
    request = build.tuning_request(fixed, "tune-1", "prep-1")
    validate_request("sagemaker", "CreateHyperParameterTuningJob", request)
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == [
        {"Name": "algorithm", "Values": list(ALGORITHMS)}
    ]
    # botocore's own shape for the entry: a name and a list of string values.
    shape = operation_model("sagemaker", "CreateHyperParameterTuningJob").input_shape
    entry = (
        shape.members["HyperParameterTuningJobConfig"]
        .members["ParameterRanges"]
        .members["CategoricalParameterRanges"]
        .member
    )
    assert set(entry.required_members) == {"Name", "Values"}
    assert request["TrainingJobDefinition"]["StaticHyperParameters"] == {"random_state": "7"}
    # Every combination the tuner can send is one the training image accepts.
    tuned = [r["Name"] for group in ranges.values() for r in group if r["Name"] != "algorithm"]
    for algorithm in ALGORITHMS:
        low = {
            r["Name"]: r["MinValue"] for group in ranges.values() for r in group if "MinValue" in r
        }
        parse_hyperparameters({"algorithm": algorithm, "random_state": "7", **low})
        assert set(low) == set(tuned)


def test_a_configured_family_tunes_its_own_ranges(config: LaunchConfig) -> None:
    boosted = replace(config, hyperparameters={"algorithm": "hist_gradient_boosting"})
    request = build.tuning_request(boosted, "tune-1", "prep-1")
    validate_request("sagemaker", "CreateHyperParameterTuningJob", request)
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == []
    assert "learning_rate" in {r["Name"] for r in ranges["ContinuousParameterRanges"]}
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"algorithm": "hist_gradient_boosting"}


def test_a_fixed_parameter_some_family_lacks_is_refused(config: LaunchConfig) -> None:
    forest_only = replace(config, hyperparameters={"n_jobs": "2"})
    with pytest.raises(ConfigError, match=r"tuning: .*\['n_jobs'\] do not apply to every"):
        build.tuning_request(forest_only, "tune-1", "prep-1")
