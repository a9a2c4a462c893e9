"""The pure request builders, each validated against botocore's service model."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from mpg_core.hyperparameters import TUNED, parameter_ranges
from mpg_core.metrics import METRIC_DEFINITIONS
from mpg_launch.aws import names as layout
from mpg_launch.aws.validation import request_errors, validate_request
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.errors import ConfigError, RequestInvalid
from mpg_launch.jobs import requests as build
from mpg_launch.settings.config import Instances, LaunchConfig


@pytest.fixture
def full(config: LaunchConfig) -> LaunchConfig:
    """Every optional feature on: VPC, KMS, tags, spot with checkpoints."""
    return replace(
        config,
        subnets=("subnet-0123abcd",),
        security_group_ids=("sg-0123abcd",),
        kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        tags={"project": "mpg"},
        spot=True,
        max_wait_seconds=7200,
        instances={
            "training": Instances("ml.c5.xlarge"),
            "processing": Instances("ml.m5.xlarge", 3),
        },
    )


def all_requests(config: LaunchConfig) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("CreateProcessingJob", build.processing_request(config, "prep-1")),
        ("CreateTrainingJob", build.training_request(config, "train-1", "prep-1")),
        (
            "CreateTrainingJob",
            build.training_request(config, "train-2", "prep-1", with_preprocessor=False),
        ),
        ("CreateHyperParameterTuningJob", build.tuning_request(config, "tune-1", "prep-1")),
        ("CreateModel", endpoint_requests.model_request(config, "m-1", "s3://bkt/m/model.tar.gz")),
        (
            "CreateModel",
            endpoint_requests.pipeline_model_request(
                config, "m-2", "s3://bkt/p/model.tar.gz", "s3://bkt/m/model.tar.gz"
            ),
        ),
        ("CreateEndpointConfig", endpoint_requests.endpoint_config_request(config, "ec-1", "m-1")),
        ("CreateEndpoint", endpoint_requests.endpoint_request(config, "ep", "ec-1")),
        ("CreateTransformJob", build.transform_request(config, "bt-1", "m-1")),
    ]


@pytest.mark.parametrize("which", ["config", "full"])
def test_every_request_is_valid(which: str, request: pytest.FixtureRequest) -> None:
    for operation, req in all_requests(request.getfixturevalue(which)):
        assert request_errors("sagemaker", operation, req) == [], operation


def test_processing_request(config: LaunchConfig) -> None:
    req = build.processing_request(config, "prep-1")
    assert req["AppSpecification"]["ImageUri"] == (
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mpg-preprocessing:git-abc"
    )
    assert req["NetworkConfig"] == {"EnableNetworkIsolation": True}
    inputs = {i["InputName"]: i["S3Input"] for i in req["ProcessingInputs"]}
    assert inputs["validation"]["S3Uri"] == "s3://my-bucket/mpg/data/bronze/validation/"
    assert inputs["validation"]["LocalPath"] == "/opt/ml/processing/input/validation"
    outputs = {o["OutputName"]: o["S3Output"] for o in req["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["preprocessor"]["S3Uri"] == "s3://my-bucket/mpg/preprocess/prep-1/preprocessor/"
    assert (
        "--features=/opt/ml/processing/output/features"
        in (req["AppSpecification"]["ContainerArguments"])
    )


def test_processing_fits_on_the_whole_train_split_and_transforms_shards(
    config: LaunchConfig,
) -> None:
    """Correct on any instance count: the train prefix whole to every host to fit on, each
    split's objects spread over the hosts, and arguments that say which is which."""
    three = replace(config, instances={"processing": Instances(count=3)})
    req = build.processing_request(three, "prep-1")
    inputs = {i["InputName"]: i["S3Input"] for i in req["ProcessingInputs"]}
    assert list(inputs) == ["fit", "train", "validation", "test"]
    assert inputs["fit"] == {
        "S3Uri": "s3://my-bucket/mpg/data/bronze/train/",
        "LocalPath": "/opt/ml/processing/input/fit",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }
    for split in ("train", "validation", "test"):
        assert inputs[split]["S3Uri"] == f"s3://my-bucket/mpg/data/bronze/{split}/"
        assert inputs[split]["S3DataDistributionType"] == "ShardedByS3Key"
    assert req["AppSpecification"]["ContainerArguments"] == [
        "--fit=/opt/ml/processing/input/fit",
        "--train=/opt/ml/processing/input/train",
        "--validation=/opt/ml/processing/input/validation",
        "--test=/opt/ml/processing/input/test",
        "--features=/opt/ml/processing/output/features",
        "--preprocessor=/opt/ml/processing/output/preprocessor",
    ]
    assert req["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    assert request_errors("sagemaker", "CreateProcessingJob", req) == []


def test_training_on_more_than_one_instance_is_refused(config: LaunchConfig) -> None:
    several = replace(config, instances={"training": Instances("ml.m5.xlarge", 2)})
    for build_request in (
        lambda: build.training_request(several, "train-1", "prep-1"),
        lambda: build.tuning_request(several, "tune-1", "prep-1"),
    ):
        with pytest.raises(ConfigError, match=r"count = 2: a random forest trains on one"):
            build_request()


def test_training_request_uses_the_images_metric_definitions(config: LaunchConfig) -> None:
    req = build.training_request(config, "train-1", "prep-1", hyperparameters={"n_estimators": 50})
    spec = req["AlgorithmSpecification"]
    assert spec["MetricDefinitions"] == METRIC_DEFINITIONS
    assert req["HyperParameters"] == {"n_estimators": "50"}  # strings on the wire
    assert req["EnableNetworkIsolation"] is True
    channels = {c["ChannelName"]: c for c in req["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "test", "preprocessor"}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://my-bucket/mpg/preprocess/prep-1/features/train/"
    )
    assert "CheckpointConfig" not in req


def test_training_without_preprocessor_channel(config: LaunchConfig) -> None:
    req = build.training_request(config, "t", "prep-1", with_preprocessor=False)
    assert "preprocessor" not in {c["ChannelName"] for c in req["InputDataConfig"]}


def test_optional_features(full: LaunchConfig) -> None:
    req = build.training_request(full, "train-1", "prep-1")
    assert req["EnableManagedSpotTraining"] is True
    assert req["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert req["CheckpointConfig"] == {"S3Uri": "s3://my-bucket/mpg/checkpoints/train-1/"}
    assert req["VpcConfig"] == {"Subnets": ["subnet-0123abcd"], "SecurityGroupIds": ["sg-0123abcd"]}
    assert req["OutputDataConfig"]["KmsKeyId"] == full.kms_key_id
    assert req["ResourceConfig"] == {
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": full.kms_key_id,
    }
    assert req["Tags"] == [{"Key": "project", "Value": "mpg"}]
    prep = build.processing_request(full, "prep-1")
    assert prep["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    assert prep["NetworkConfig"]["VpcConfig"]["Subnets"] == ["subnet-0123abcd"]
    assert prep["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == full.kms_key_id


def test_network_isolation_can_be_turned_off(config: LaunchConfig) -> None:
    open_config = replace(config, network_isolation=False)
    assert build.training_request(open_config, "t", "p")["EnableNetworkIsolation"] is False
    assert (
        endpoint_requests.model_request(open_config, "m", "s3://bkt/k")["EnableNetworkIsolation"]
        is False
    )


def test_tuning_request_minimises_validation_rmse(config: LaunchConfig) -> None:
    req = build.tuning_request(config, "tune-1", "prep-1", max_jobs=4, max_parallel=2)
    tuning = req["HyperParameterTuningJobConfig"]
    assert tuning["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:rmse",
    }
    names = {
        d["Name"]
        for d in req["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert "validation:rmse" in names
    assert tuning["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}


def test_tuning_ranges_and_static_hyperparameters_come_from_the_schema(
    config: LaunchConfig,
) -> None:
    fixed = replace(config, hyperparameters={"n_estimators": "10", "random_state": "7"})
    req = build.tuning_request(fixed, "tune-1", "prep-1")
    ranges = req["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges == parameter_ranges()
    tuned = {r["Name"] for group in ranges.values() for r in group}
    assert tuned == TUNED and "n_estimators" in tuned
    # The tuner sets n_estimators; the config's value for it would clash, so it is left out.
    assert req["TrainingJobDefinition"]["StaticHyperParameters"] == {"random_state": "7"}


def test_pipeline_model_has_two_containers_in_order(config: LaunchConfig) -> None:
    req = endpoint_requests.pipeline_model_request(
        config, "m", "s3://bkt/pre/model.tar.gz", "s3://bkt/model/model.tar.gz"
    )
    first, second = req["Containers"]
    assert (first["ContainerHostname"], second["ContainerHostname"]) == ("preprocessor", "model")
    assert first["ModelDataUrl"] == "s3://bkt/pre/model.tar.gz"
    assert first["Environment"]["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"] == "text/csv"
    assert req["InferenceExecutionConfig"] == {"Mode": "Serial"}
    assert "PrimaryContainer" not in req


def test_transform_request_batches_lines(config: LaunchConfig) -> None:
    req = build.transform_request(config, "bt-1", "m-1")
    assert req["TransformInput"]["SplitType"] == "Line"
    assert req["BatchStrategy"] == "MultiRecord"
    assert req["TransformOutput"]["AssembleWith"] == "Line"
    assert req["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://my-bucket/mpg/data/batch/"
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.update(TrainingJobName="has_underscore"), "does not match"),
        (lambda r: r.update(TrainingJobName="x" * 64), "at most 63"),
        (lambda r: r.pop("RoleArn"), "Missing required parameter"),
        (lambda r: r.update(Bogus=1), "Unknown parameter"),
        (lambda r: r["ResourceConfig"].update(InstanceType="ml.nonsense"), "is not one of"),
        (lambda r: r.update(HyperParameters={"n_estimators": 5}), "Invalid type"),
    ],
)
def test_validation_rejects_what_the_service_would(
    config: LaunchConfig, mutate: Any, expected: str
) -> None:
    req = build.training_request(config, "train-1", "prep-1")
    mutate(req)
    with pytest.raises(RequestInvalid) as caught:
        validate_request("sagemaker", "CreateTrainingJob", req)
    assert expected in str(caught.value)


def test_job_names_are_unique_and_valid() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert layout.job_name("train", now) == "mpg-train-20250102-030405-678"
    tune = layout.job_name("tune", now, limit=layout.TUNING_NAME_LIMIT)
    assert len(tune) <= 32
    with pytest.raises(ConfigError, match="valid SageMaker name"):
        layout.checked_name("a" * 33, layout.TUNING_NAME_LIMIT)
