"""``[async]`` and ``deploy --async``: settings from the config file and flags (one-line errors
naming the key and the flag), what an asynchronous endpoint refuses, and the dry run's
requests, each validated against botocore's service models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mpg_launch.aws.validation import request_errors
from mpg_launch.cli.main import main
from mpg_launch.endpoint import async_requests, scaling
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint.async_settings import AsyncInference
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig, load_config
from tests.helpers.launch import ENV, dry_run, no_clients, toml


def test_the_async_table_is_read_from_the_config_file(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        '[async]\noutput_path = "s3://out/answers/"\ninvocation_timeout = 1200\nmax_capacity = 3\n',
    )
    config = load_config(path, ENV)
    assert config.async_inference == AsyncInference(
        output_path="s3://out/answers/", invocation_timeout=1200, max_capacity=3
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[async]\ninvocation_timeout = 4000\n",
            "async invocation_timeout=4000 must be 1 to 3600 seconds; set invocation_timeout "
            "in [async] or --invocation-timeout",
        ),
        ("[async]\ntimeout = 5\n", "unknown key(s) ['timeout'] in [async]"),
        ("[async]\nmax_payload_mb = 2048\n", "async max_payload_mb=2048 must be 1 to 1024"),
        ("[async]\nfailure_path = 'out/'\n", "async failure_path='out/' must be an s3:// URI"),
        ("[async]\nerror_topic = 'errors'\n", "async error_topic='errors' must be an SNS topic"),
        (
            "[async]\nmin_capacity = 2\nmax_capacity = 1\n",
            "async max_capacity=1 must be at least 1 and at least min_capacity=2",
        ),
        ("[async]\nmax_concurrent_invocations = 0\n", "must be 1 to 1000"),
    ],
)
def test_bad_async_settings_name_the_key_and_its_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(toml(tmp_path, text), ENV)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--async", "--serverless"], "do not take serverless"),
        (["--async", "--max-instances", "3", "--target-invocations", "5"], "[autoscaling]"),
        (["--async", "--pipeline", "--preprocessing-job", "p"], "inference pipelines"),
        (["--no-async", "--invocation-timeout", "60"], "--no-async contradicts"),
    ],
)
def test_what_async_excludes_is_refused_before_any_client(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["deploy", "--training-job", "t1", *argv], env=ENV, factory=no_clients)  # type: ignore[arg-type]
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_dry_run_prints_the_async_config_scaling_and_the_wake_alarm() -> None:
    printed, notes = dry_run(
        ["--training-job", "t1", "--async", "--max-capacity", "2", "--error-topic",
         "arn:aws:sns:us-east-1:123456789012:failures"]
    )  # fmt: skip
    assert [(p["service"], p["operation"]) for p in printed] == [
        ("sagemaker", "CreateModel"),
        ("sagemaker", "CreateEndpointConfig"),
        ("sagemaker", "CreateEndpoint"),
        ("application-autoscaling", "RegisterScalableTarget"),
        ("application-autoscaling", "PutScalingPolicy"),
        ("application-autoscaling", "PutScalingPolicy"),
        ("cloudwatch", "PutMetricAlarm"),
    ]
    output = printed[1]["request"]["AsyncInferenceConfig"]["OutputConfig"]
    assert output["NotificationConfig"] == {
        "ErrorTopic": "arn:aws:sns:us-east-1:123456789012:failures"
    }
    assert printed[3]["request"]["MinCapacity"] == 0
    assert printed[6]["request"]["AlarmActions"] == [scaling.POLICY_ARN_PLACEHOLDER]
    assert any("scales in to 0" in note for note in notes)


@pytest.fixture
def async_config(config: LaunchConfig) -> LaunchConfig:
    return replace(config, async_inference=AsyncInference(max_capacity=2), kms_key_id="alias/k-1")


def test_every_async_request_is_valid_for_botocore(async_config: LaunchConfig) -> None:
    arn = "arn:aws:autoscaling:eu-west-1:111122223333:scalingPolicy:1:resource/x"
    requests = [
        ("RegisterScalableTarget", endpoint_requests.scalable_target_request),
        ("PutScalingPolicy", async_requests.backlog_policy_request),
        ("PutScalingPolicy", async_requests.wake_policy_request),
    ]
    for operation, builder in requests:
        request = builder(async_config, "mpg")
        assert request_errors("application-autoscaling", operation, request) == []
    alarm = async_requests.wake_alarm_request(async_config, "mpg", arn)
    assert request_errors("cloudwatch", "PutMetricAlarm", alarm) == []
    assert (
        async_requests.async_inference_config(async_config)["OutputConfig"]["KmsKeyId"]
        == "alias/k-1"
    )


def test_an_inline_body_over_128000_bytes_is_refused() -> None:
    request = async_requests.invoke_request("mpg", "text/csv", "text/csv", 900, body=b"1" * 128_000)
    assert request_errors("sagemaker-runtime", "InvokeEndpointAsync", request) == []
    with pytest.raises(ConfigError, match="over InvokeEndpointAsync's inline 128000"):
        async_requests.invoke_request("mpg", "text/csv", "text/csv", 900, body=b"1" * 128_001)
    with pytest.raises(ConfigError, match="not both"):
        async_requests.invoke_request("mpg", "text/csv", "text/csv", 900, "s3://b/k", b"1")
