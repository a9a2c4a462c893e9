"""Endpoint autoscaling, serverless and data capture: settings from the config file and flags
(one-line errors naming the key and the flag), the refusals SageMaker would make, and the
requests, each validated against botocore's service model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mpg_launch.aws.validation import request_errors
from mpg_launch.cli.main import main
from mpg_launch.endpoint import checks as endpoint_checks
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint import settings as endpoint_options
from mpg_launch.endpoint.settings import Autoscaling, DataCapture, Serverless
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import Instances, LaunchConfig, load_config
from tests.helpers.launch import ENV, dry_run, no_clients, toml

AUTOSCALING = Autoscaling(max_instances=4, target_invocations_per_instance=750)


# Settings -------------------------------------------------------------------------------------


def test_config_tables_become_settings(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        "[autoscaling]\nmin_instances = 2\nmax_instances = 6\n"
        "target_invocations_per_instance = 900\nscale_in_cooldown = 600\n"
        "[data_capture]\nsampling_percentage = 5\ncapture_output = false\n",
    )
    config = load_config(path, ENV)
    assert config.autoscaling == Autoscaling(
        max_instances=6,
        target_invocations_per_instance=900.0,
        min_instances=2,
        scale_in_cooldown=600,
    )
    assert config.autoscaling.scale_out_cooldown == 60
    assert config.data_capture == DataCapture(sampling_percentage=5, capture_output=False)
    assert config.serverless is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[autoscaling]\nmax_instances = 2\n",
            "autoscaling needs target_invocations_per_instance; set "
            "target_invocations_per_instance in [autoscaling] or --target-invocations",
        ),
        (
            "[autoscaling]\nmin_instances = 0\nmax_instances = 2\n"
            "target_invocations_per_instance = 10\n",
            "autoscaling min_instances=0 must be at least 1; set min_instances in "
            "[autoscaling] or --min-instances",
        ),
        (
            "[autoscaling]\nmin_instances = 3\nmax_instances = 2\n"
            "target_invocations_per_instance = 10\n",
            "autoscaling max_instances=2 must be at least min_instances=3",
        ),
        (
            "[autoscaling]\nmax_instances = 2\ntarget_invocations_per_instance = 10\n"
            "scale_in_cooldown = -1\n",
            "scale_in_cooldown=-1 must be 0 or more seconds",
        ),
        (
            "[autoscaling]\nmax_instances = 'two'\n",
            "autoscaling max_instances='two' is not an integer",
        ),
        ("[autoscaling]\nmax_instance = 2\n", "unknown key(s) ['max_instance'] in [autoscaling]"),
        (
            "[serverless]\nmemory_mb = 1536\n",
            "serverless memory_mb=1536 must be one of [1024, 2048, 3072, 4096, 5120, 6144]",
        ),
        ("[serverless]\nmax_concurrency = 201\n", "max_concurrency=201 must be 1 to 200"),
        (
            "[serverless]\nmax_concurrency = 4\nprovisioned_concurrency = 5\n",
            "provisioned_concurrency=5 must be 1 to max_concurrency=4",
        ),
        ("[data_capture]\nsampling_percentage = 101\n", "sampling_percentage=101 must be 0 to 100"),
        ("[data_capture]\ndestination = '/tmp/x'\n", "destination='/tmp/x' must be an s3:// URI"),
        (
            "[data_capture]\ncapture_input = false\ncapture_output = false\n",
            "capture_output=False and capture_input=False capture nothing",
        ),
        ("serverless = 3\n", "'serverless' must be a table of settings"),
        ("[serverless]\nmemory_mb = 2048.5\n", "memory_mb=2048.5 is not an integer"),
        ("[data_capture]\ncapture_input = 'yes'\n", "capture_input='yes' is not true or false"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(toml(tmp_path, text), ENV)
    assert message in str(caught.value)
    assert str(toml(tmp_path, text)) in str(caught.value)  # names the file
    assert "\n" not in str(caught.value)


def test_flags_override_the_file_and_switch_sections(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        "[autoscaling]\nmax_instances = 2\ntarget_invocations_per_instance = 10\n"
        "[serverless]\nmemory_mb = 1024\n",
    )
    config = load_config(path, ENV)
    merged = endpoint_options.with_flags(
        config, {"max_instances": 5, "serverless": False, "data_capture": True}
    )
    assert merged.autoscaling == Autoscaling(max_instances=5, target_invocations_per_instance=10)
    assert merged.serverless is None
    assert merged.data_capture == DataCapture()
    # A value flag alone turns its section on, with the defaults for the rest.
    on = endpoint_options.with_flags(load_config(env=ENV), {"memory_mb": 4096})
    assert on.serverless == Serverless(memory_mb=4096)
    # Nothing given: nothing on.
    assert endpoint_options.with_flags(load_config(env=ENV), {}) == load_config(env=ENV)


def test_a_switch_off_with_values_is_a_contradiction() -> None:
    with pytest.raises(ConfigError, match="--no-autoscaling contradicts --max-instances"):
        endpoint_options.with_flags(
            load_config(env=ENV), {"autoscaling": False, "max_instances": 3}
        )


# Refusals and notes ---------------------------------------------------------------------------


@pytest.fixture
def serverless(config: LaunchConfig) -> LaunchConfig:
    return replace(config, serverless=Serverless(memory_mb=3072, max_concurrency=10))


@pytest.mark.parametrize(
    ("change", "pipeline", "message"),
    [
        ({}, True, "do not support inference pipelines (--pipeline)"),
        ({"autoscaling": AUTOSCALING}, False, "do not support instance autoscaling"),
        ({"data_capture": DataCapture()}, False, "do not support data capture"),
        (
            {"subnets": ("subnet-0123abcd",), "security_group_ids": ("sg-0123abcd",)},
            False,
            "do not support a VPC (subnets)",
        ),
    ],
)
def test_serverless_refuses_what_the_docs_exclude(
    serverless: LaunchConfig, change: dict[str, Any], pipeline: bool, message: str
) -> None:
    refused = replace(serverless, **change)
    with pytest.raises(ConfigError) as caught:
        endpoint_checks.check_deploy(refused, pipeline)
    assert message in str(caught.value)
    assert "--no-serverless" in str(caught.value)
    # The builders refuse the same, so no caller can build such a request.
    with pytest.raises(ConfigError):
        if pipeline:
            endpoint_requests.pipeline_model_request(
                refused, "m", "s3://bkt/p.tar.gz", "s3://bkt/m.tar.gz"
            )
        else:
            endpoint_requests.endpoint_config_request(refused, "ec", "m")


@pytest.mark.parametrize(("count", "started"), [(5, 4), (1, 2), (3, 3)])
def test_the_endpoint_starts_within_autoscalings_range(
    config: LaunchConfig, count: int, started: int
) -> None:
    scaled = replace(
        config,
        autoscaling=Autoscaling(
            max_instances=4, target_invocations_per_instance=9, min_instances=2
        ),
        instances={"serving": Instances(count=count)},
    )
    variant = endpoint_requests.endpoint_config_request(scaled, "ec", "m")["ProductionVariants"][0]
    assert variant["InitialInstanceCount"] == started
    notes = endpoint_checks.deploy_notes(scaled)
    said = f"starts with {started} instances, not [instances.serving] count={count}"
    assert any(said in note for note in notes) == (count != started)


def test_notes_say_what_is_left_out(serverless: LaunchConfig) -> None:
    keyed = replace(
        serverless,
        kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        instances={"serving": Instances()},
    )
    notes = "\n".join(endpoint_checks.deploy_notes(keyed))
    assert "EnableNetworkIsolation left out" in notes
    assert "KmsKeyId left out" in notes
    assert "[instances.serving] is not used" in notes
    assert "4 MB" in notes and "cold start" in notes
    assert endpoint_checks.deploy_notes(replace(serverless, network_isolation=False)) == [
        endpoint_checks.deploy_notes(serverless)[0]
    ]
    local = replace(serverless, local=True)
    assert any("no cold starts" in n for n in endpoint_checks.deploy_notes(local))


# Requests -------------------------------------------------------------------------------------


def test_serverless_requests(serverless: LaunchConfig) -> None:
    provisioned = replace(
        serverless,
        serverless=Serverless(memory_mb=3072, max_concurrency=10, provisioned_concurrency=2),
        kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    model = endpoint_requests.model_request(provisioned, "m-1", "s3://bkt/m/model.tar.gz")
    endpoint_config = endpoint_requests.endpoint_config_request(provisioned, "ec-1", "m-1")
    assert request_errors("sagemaker", "CreateModel", model) == []
    assert request_errors("sagemaker", "CreateEndpointConfig", endpoint_config) == []
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == "1"
    assert environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] == "4"  # the docs' serverless limit
    assert "EnableNetworkIsolation" not in model
    (variant,) = endpoint_config["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": "m-1",
        "ServerlessConfig": {
            "MemorySizeInMB": 3072,
            "MaxConcurrency": 10,
            "ProvisionedConcurrency": 2,
        },
    }
    assert "KmsKeyId" not in endpoint_config


def test_instance_requests_are_unchanged_without_the_options(config: LaunchConfig) -> None:
    model = endpoint_requests.model_request(config, "m-1", "s3://bkt/m/model.tar.gz")
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" not in model["PrimaryContainer"]["Environment"]
    assert model["EnableNetworkIsolation"] is True
    endpoint_config = endpoint_requests.endpoint_config_request(config, "ec-1", "m-1")
    assert "DataCaptureConfig" not in endpoint_config
    assert endpoint_config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"


def test_data_capture_defaults_under_the_project_prefix(config: LaunchConfig) -> None:
    captured = replace(
        config,
        data_capture=DataCapture(),
        kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    request = endpoint_requests.endpoint_config_request(captured, "ec-1", "m-1")
    assert request_errors("sagemaker", "CreateEndpointConfig", request) == []
    assert request["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://my-bucket/mpg/data-capture/",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json", "application/jsonlines"],
        },
        "KmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    }
    only_input = replace(
        config,
        data_capture=DataCapture(
            capture_output=False, destination="s3://elsewhere/cap/", json_content_types=()
        ),
    )
    capture = endpoint_requests.endpoint_config_request(only_input, "ec-1", "m-1")[
        "DataCaptureConfig"
    ]
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}]
    assert capture["DestinationS3Uri"] == "s3://elsewhere/cap/"
    assert capture["CaptureContentTypeHeader"] == {"CsvContentTypes": ["text/csv"]}


def test_autoscaling_requests_are_valid_application_autoscaling_requests(
    config: LaunchConfig,
) -> None:
    scaled = replace(
        config,
        autoscaling=Autoscaling(
            max_instances=4,
            target_invocations_per_instance=750,
            min_instances=2,
            scale_in_cooldown=400,
            scale_out_cooldown=30,
        ),
        tags={"project": "mpg"},
        instances={"serving": Instances(count=2)},
    )
    target = endpoint_requests.scalable_target_request(scaled, "mpg")
    policy = endpoint_requests.scaling_policy_request(scaled, "mpg")
    assert request_errors("application-autoscaling", "RegisterScalableTarget", target) == []
    assert request_errors("application-autoscaling", "PutScalingPolicy", policy) == []
    assert target == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/mpg/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 2,
        "MaxCapacity": 4,
        "Tags": {"project": "mpg"},
    }
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 750.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 400,
        "ScaleOutCooldown": 30,
    }
    # The service model catches what would be refused after the endpoint is up.
    broken = {**policy, "PolicyType": "Sideways"}
    assert request_errors("application-autoscaling", "PutScalingPolicy", broken) != []
    with pytest.raises(ConfigError, match="no autoscaling settings"):
        endpoint_requests.scalable_target_request(config, "mpg")


# --dry-run ------------------------------------------------------------------------------------


def test_dry_run_prints_the_autoscaling_requests_after_the_endpoint() -> None:
    printed, notes = dry_run(
        ["--training-job", "t1", "--max-instances", "3", "--target-invocations", "500"]
    )
    assert [(p["service"], p["operation"]) for p in printed] == [
        ("sagemaker", "CreateModel"),
        ("sagemaker", "CreateEndpointConfig"),
        ("sagemaker", "CreateEndpoint"),
        ("application-autoscaling", "RegisterScalableTarget"),
        ("application-autoscaling", "PutScalingPolicy"),
    ]
    assert printed[3]["request"]["MaxCapacity"] == 3
    assert printed[4]["request"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 500
    assert notes == []


def test_dry_run_serverless_with_capture_flags_off(tmp_path: Path) -> None:
    path = toml(tmp_path, "[data_capture]\nsampling_percentage = 50\n")
    printed, notes = dry_run(
        ["--training-job", "t1", "--serverless", "--no-data-capture", "--config", str(path)]
    )
    assert [p["operation"] for p in printed] == [
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
    ]
    variant = printed[1]["request"]["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in variant
    assert "DataCaptureConfig" not in printed[1]["request"]
    assert any("EnableNetworkIsolation left out" in n for n in notes)


def test_dry_run_local_leaves_autoscaling_out_and_says_so() -> None:
    printed, notes = dry_run(
        ["--local", "--training-job", "t1", "--max-instances", "2", "--target-invocations", "9"]
    )
    assert [p["operation"] for p in printed][-1] == "CreateEndpoint"
    assert notes == ["note: --local: autoscaling is not emulated: the instances stay as started"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--serverless", "--pipeline", "--preprocessing-job", "p"], "inference pipelines"),
        (["--serverless", "--max-instances", "2", "--target-invocations", "5"], "autoscaling"),
        (["--serverless", "--data-capture"], "data capture"),
        (["--max-instances", "2"], "autoscaling needs target_invocations_per_instance"),
        (["--data-capture", "--capture-percent", "-1"], "sampling_percentage=-1 must be 0 to 100"),
        (["--no-serverless", "--max-concurrency", "3"], "--no-serverless contradicts"),
    ],
)
@pytest.mark.parametrize("dry", [["--dry-run"], []])
def test_refusals_come_before_any_request_or_client(
    argv: list[str], message: str, dry: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    code = main(
        ["deploy", "--training-job", "t1", *argv, *dry],
        env=ENV,
        factory=no_clients,
        out=lines.append,
    )
    assert code == 2
    assert lines == []
    err = capsys.readouterr().err.strip()
    assert err.startswith("mpg-launch: error: ") and message in err
    assert len(err.splitlines()) == 1
