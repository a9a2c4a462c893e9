"""Pure functions: one config (plus names and URIs) in, an endpoint's exact boto3 requests out:
the model (one container or a serial pipeline), the endpoint config and the endpoint, and the
variant's Application Auto Scaling registration.

Nothing here talks to AWS; :mod:`mpg_launch.aws.validation` checks these against botocore's
service model, and ``--local`` runs the very same dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpg_core.platform import MAX_PAYLOAD_ENV, MODEL_SERVER_WORKERS_ENV
from mpg_launch.aws import names
from mpg_launch.aws.request_parts import CSV, Request, vpc_config, with_tags
from mpg_launch.endpoint import async_requests
from mpg_launch.endpoint import checks as endpoint_checks
from mpg_launch.endpoint import settings as endpoint_options
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

# Real-time endpoints: the health-check window and the time to fetch model.tar.gz.
STARTUP_HEALTH_CHECK_SECONDS = 600
MODEL_DOWNLOAD_SECONDS = 600
# The one production variant deploy creates, and how Application Auto Scaling names it.
INVOCATIONS_METRIC = "SageMakerVariantInvocationsPerInstance"
SCALING_POLICY_NAME = "mpg-invocations-per-instance"


def serving_container(
    config: LaunchConfig,
    model_data_url: str,
    hostname: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "Image": config.image_uri("serving"),
        "ModelDataUrl": model_data_url,
        "Environment": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "60", **(environment or {})},
    }
    if hostname:
        container["ContainerHostname"] = hostname
    return container


def model_request(config: LaunchConfig, model_name: str, model_data_url: str) -> Request:
    """A single-container model serving raw rows (a "pipeline" artifact from training with the
    preprocessor channel). Serverless: one worker, the serverless body limit, and no network
    isolation (serverless endpoints do not support it)."""
    endpoint_checks.check_deploy(config)
    request: Request = {
        "ModelName": model_name,
        "ExecutionRoleArn": config.role_arn,
        "PrimaryContainer": serving_container(
            config,
            model_data_url,
            environment=_serverless_env(config) | async_requests.container_environment(config),
        ),
    }
    if not config.serverless:
        request["EnableNetworkIsolation"] = config.network_isolation
    vpc = vpc_config(config)
    if vpc:
        request["VpcConfig"] = vpc
    return with_tags(request, config)


def pipeline_model_request(
    config: LaunchConfig, model_name: str, preprocessor_data_url: str, model_data_url: str
) -> Request:
    """A serial inference pipeline: the preprocessor container turns raw rows into feature
    rows (as CSV, which the model container reads), the model container predicts mpg."""
    endpoint_checks.check_deploy(config, pipeline=True)
    request: Request = {
        "ModelName": model_name,
        "ExecutionRoleArn": config.role_arn,
        "Containers": [
            serving_container(
                config,
                preprocessor_data_url,
                "preprocessor",
                {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": CSV},
            ),
            serving_container(config, model_data_url, "model"),
        ],
        "InferenceExecutionConfig": {"Mode": "Serial"},
        "EnableNetworkIsolation": config.network_isolation,
    }
    vpc = vpc_config(config)
    if vpc:
        request["VpcConfig"] = vpc
    return with_tags(request, config)


def _serverless_env(config: LaunchConfig) -> dict[str, str]:
    """The docs recommend one worker (one copy of the model) per serverless container; the
    payload limit is set only because it is below the server's real-time default of 6 MB."""
    if not config.serverless:
        return {}
    return {
        MODEL_SERVER_WORKERS_ENV: str(endpoint_options.SERVERLESS_WORKERS),
        MAX_PAYLOAD_ENV: str(endpoint_options.SERVERLESS_MAX_PAYLOAD_MB),
    }


def _variant(config: LaunchConfig, model_name: str) -> dict[str, Any]:
    variant: dict[str, Any] = {"VariantName": names.VARIANT, "ModelName": model_name}
    serverless = config.serverless
    if serverless:
        # Serverless: no instances, and fixed start-up limits (no timeouts to set).
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": serverless.memory_mb,
            "MaxConcurrency": serverless.max_concurrency,
        }
        if serverless.provisioned_concurrency:
            variant["ServerlessConfig"]["ProvisionedConcurrency"] = (
                serverless.provisioned_concurrency
            )
        return variant
    serving = config.instance("serving")
    return variant | {
        "InstanceType": serving.type,
        "InitialInstanceCount": endpoint_options.initial_instance_count(config),
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": STARTUP_HEALTH_CHECK_SECONDS,
        "ModelDataDownloadTimeoutInSeconds": MODEL_DOWNLOAD_SECONDS,
    }


def _data_capture(config: LaunchConfig) -> dict[str, Any]:
    capture = config.data_capture
    assert capture is not None
    modes = [("Input", capture.capture_input), ("Output", capture.capture_output)]
    request: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": capture.sampling_percentage,
        "DestinationS3Uri": capture.destination or names.data_capture_uri(config),
        "CaptureOptions": [{"CaptureMode": mode} for mode, on in modes if on],
    }
    # Types listed here are stored as text; anything else is stored base64-encoded.
    headers = {
        key: list(types)
        for key, types in (
            ("CsvContentTypes", capture.csv_content_types),
            ("JsonContentTypes", capture.json_content_types),
        )
        if types
    }
    if headers:
        request["CaptureContentTypeHeader"] = headers
    if config.kms_key_id:
        request["KmsKeyId"] = config.kms_key_id
    return request


def endpoint_config_request(config: LaunchConfig, name: str, model_name: str) -> Request:
    """One variant: instances, or serverless (ServerlessConfig instead of instances); with
    data capture when configured."""
    endpoint_checks.check_deploy(config)
    request: Request = {
        "EndpointConfigName": name,
        "ProductionVariants": [_variant(config, model_name)],
    }
    if config.data_capture:
        request["DataCaptureConfig"] = _data_capture(config)
    if config.async_inference:
        request["AsyncInferenceConfig"] = async_requests.async_inference_config(config)
    if config.kms_key_id and not config.serverless:
        request["KmsKeyId"] = config.kms_key_id
    return with_tags(request, config)


def endpoint_request(config: LaunchConfig, name: str, endpoint_config_name: str) -> Request:
    return with_tags({"EndpointName": name, "EndpointConfigName": endpoint_config_name}, config)


def _autoscaling(config: LaunchConfig) -> endpoint_options.Autoscaling:
    if not config.autoscaling:
        raise ConfigError("no autoscaling settings: add [autoscaling] or --max-instances")
    return config.autoscaling


def scalable_target_request(config: LaunchConfig, endpoint: str) -> Request:
    """RegisterScalableTarget: the variant's instance count between the bounds of ``[async]``
    (which may reach 0) or of ``[autoscaling]``; the one builder for both."""
    if config.async_inference:
        minimum, maximum = config.async_inference.min_capacity, config.async_inference.max_capacity
        assert maximum is not None, "an asynchronous endpoint without max_capacity is not scaled"
    else:
        scaling = _autoscaling(config)
        minimum, maximum = scaling.min_instances, scaling.max_instances
    request = names.scalable_variant(endpoint) | {"MinCapacity": minimum, "MaxCapacity": maximum}
    if config.tags:
        request["Tags"] = dict(sorted(config.tags.items()))
    return request


def scaling_policy_request(config: LaunchConfig, endpoint: str) -> Request:
    """PutScalingPolicy: target tracking holds invocations per instance (per minute) near the
    target, adding instances after ``scale_out_cooldown`` and removing them after
    ``scale_in_cooldown``."""
    scaling = _autoscaling(config)
    return {
        "PolicyName": SCALING_POLICY_NAME,
        **names.scalable_variant(endpoint),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(scaling.target_invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": INVOCATIONS_METRIC},
            "ScaleInCooldown": scaling.scale_in_cooldown,
            "ScaleOutCooldown": scaling.scale_out_cooldown,
        },
    }
