"""Pure functions: one config (plus names and URIs) in, the exact boto3 request dict out.

Nothing here talks to AWS, so ``--dry-run`` prints these, tests compare them, and
:mod:`mpg_launch.validation` checks them against botocore's service model. The local runner
(:mod:`mpg_launch.local.sagemaker`) consumes the very same dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mpg_core.hyperparameters import TUNED, parameter_ranges
from mpg_core.metrics import METRIC_DEFINITIONS
from mpg_launch import layout
from mpg_launch.config import LaunchConfig

Request = dict[str, Any]
PROCESSING_ROOT = "/opt/ml/processing"
CSV = "text/csv"
OBJECTIVE_METRIC = "validation:rmse"
# Real-time endpoints: the health-check window and the time to fetch model.tar.gz.
STARTUP_HEALTH_CHECK_SECONDS = 600
MODEL_DOWNLOAD_SECONDS = 600
# Batch transform: one request may take this long; retried this often.
INVOCATIONS_TIMEOUT_SECONDS = 600
INVOCATIONS_MAX_RETRIES = 1


def _tags(config: LaunchConfig) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]


def _with_common(request: Request, config: LaunchConfig) -> Request:
    if config.tags:
        request["Tags"] = _tags(config)
    return request


def _vpc(config: LaunchConfig) -> dict[str, list[str]] | None:
    if not config.subnets:
        return None
    return {"Subnets": list(config.subnets), "SecurityGroupIds": list(config.security_group_ids)}


def processing_request(config: LaunchConfig, job_name: str) -> Request:
    """Preprocessing: the raw splits in, features and the fitted preprocessor out."""
    inputs = [
        {
            "InputName": split,
            "S3Input": {
                "S3Uri": layout.raw_uri(config, split),
                "LocalPath": f"{PROCESSING_ROOT}/input/{split}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }
        for split in layout.SPLITS
    ]
    outputs = [
        {
            "OutputName": name,
            "S3Output": {
                "S3Uri": layout.preprocess_uri(config, job_name, name),
                "LocalPath": f"{PROCESSING_ROOT}/output/{name}",
                "S3UploadMode": "EndOfJob",
            },
        }
        for name in ("features", "preprocessor")
    ]
    output_config: dict[str, Any] = {"Outputs": outputs}
    cluster: dict[str, Any] = {
        "InstanceCount": config.instance("processing").count,
        "InstanceType": config.instance("processing").type,
        "VolumeSizeInGB": config.volume_size_gb,
    }
    if config.kms_key_id:
        output_config["KmsKeyId"] = config.kms_key_id
        cluster["VolumeKmsKeyId"] = config.kms_key_id
    network: dict[str, Any] = {"EnableNetworkIsolation": config.network_isolation}
    vpc = _vpc(config)
    if vpc:
        network["VpcConfig"] = vpc
    arguments = [f"--{split}={PROCESSING_ROOT}/input/{split}" for split in layout.SPLITS] + [
        f"--{name}={PROCESSING_ROOT}/output/{name}" for name in ("features", "preprocessor")
    ]
    request = {
        "ProcessingJobName": job_name,
        "RoleArn": config.role_arn,
        "AppSpecification": {
            "ImageUri": config.image_uri("preprocessing"),
            "ContainerArguments": arguments,
        },
        "ProcessingResources": {"ClusterConfig": cluster},
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": output_config,
        "StoppingCondition": {"MaxRuntimeInSeconds": config.max_runtime_seconds},
        "NetworkConfig": network,
    }
    return _with_common(request, config)


def _channel(name: str, uri: str, content_type: str | None = CSV) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "InputMode": "File",
    }
    if content_type:
        channel["ContentType"] = content_type
    return channel


def training_channels(
    config: LaunchConfig, preprocessing_job: str, with_preprocessor: bool = True
) -> list[dict[str, Any]]:
    """The features of a preprocessing job as channels; with the preprocessor channel the
    trained artifact serves raw rows (kind "pipeline"), without it features (kind "model")."""
    channels = [
        _channel(split, layout.features_uri(config, preprocessing_job, split))
        for split in layout.SPLITS
    ]
    if with_preprocessor:
        channels.append(
            _channel(
                "preprocessor",
                layout.preprocess_uri(config, preprocessing_job, "preprocessor"),
                content_type="application/x-gzip",
            )
        )
    return channels


def _training_definition(config: LaunchConfig, channels: Sequence[Mapping[str, Any]]) -> Request:
    """What a training job and a tuning job's TrainingJobDefinition share."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": config.max_runtime_seconds}
    resources: dict[str, Any] = {
        "InstanceType": config.instance("training").type,
        "InstanceCount": config.instance("training").count,
        "VolumeSizeInGB": config.volume_size_gb,
    }
    output: dict[str, Any] = {"S3OutputPath": layout.training_output_uri(config)}
    if config.kms_key_id:
        output["KmsKeyId"] = config.kms_key_id
        resources["VolumeKmsKeyId"] = config.kms_key_id
    definition: Request = {
        "RoleArn": config.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": config.image_uri("training"),
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
        },
        "InputDataConfig": [dict(c) for c in channels],
        "OutputDataConfig": output,
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": config.network_isolation,
    }
    vpc = _vpc(config)
    if vpc:
        definition["VpcConfig"] = vpc
    if config.spot:
        definition["EnableManagedSpotTraining"] = True
        stopping["MaxWaitTimeInSeconds"] = config.max_wait_seconds or config.max_runtime_seconds
    return definition


def training_request(
    config: LaunchConfig,
    job_name: str,
    preprocessing_job: str,
    with_preprocessor: bool = True,
    hyperparameters: Mapping[str, str] | None = None,
) -> Request:
    channels = training_channels(config, preprocessing_job, with_preprocessor)
    request = {"TrainingJobName": job_name, **_training_definition(config, channels)}
    # Hyperparameters are always strings on the wire.
    merged = {**config.hyperparameters, **(hyperparameters or {})}
    if merged:
        request["HyperParameters"] = {k: str(v) for k, v in merged.items()}
    if config.spot:
        request["CheckpointConfig"] = {"S3Uri": layout.checkpoint_uri(config, job_name)}
    return _with_common(request, config)


def tuning_request(
    config: LaunchConfig,
    job_name: str,
    preprocessing_job: str,
    max_jobs: int = 8,
    max_parallel: int = 2,
    strategy: str = "Bayesian",
) -> Request:
    """A tuning job minimising validation RMSE, read by the training image's metric regexes,
    over the ranges the hyperparameter table (:mod:`mpg_core.hyperparameters`) declares."""
    channels = training_channels(config, preprocessing_job, with_preprocessor=True)
    definition = _training_definition(config, channels)
    # The tuner sets the tuned hyperparameters; the config's others are fixed for every job.
    static = {k: str(v) for k, v in config.hyperparameters.items() if k not in TUNED}
    if static:
        definition["StaticHyperParameters"] = static
    if config.spot:
        definition["CheckpointConfig"] = {"S3Uri": layout.checkpoint_uri(config, job_name)}
    request = {
        "HyperParameterTuningJobName": job_name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize",
                "MetricName": OBJECTIVE_METRIC,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": max_jobs,
                "MaxParallelTrainingJobs": max_parallel,
            },
            "ParameterRanges": parameter_ranges(),
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": definition,
    }
    return _with_common(request, config)


def _container(
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
    preprocessor channel)."""
    request: Request = {
        "ModelName": model_name,
        "ExecutionRoleArn": config.role_arn,
        "PrimaryContainer": _container(config, model_data_url),
        "EnableNetworkIsolation": config.network_isolation,
    }
    vpc = _vpc(config)
    if vpc:
        request["VpcConfig"] = vpc
    return _with_common(request, config)


def pipeline_model_request(
    config: LaunchConfig, model_name: str, preprocessor_data_url: str, model_data_url: str
) -> Request:
    """A serial inference pipeline: the preprocessor container turns raw rows into feature
    rows (as CSV, which the model container reads), the model container predicts mpg."""
    request: Request = {
        "ModelName": model_name,
        "ExecutionRoleArn": config.role_arn,
        "Containers": [
            _container(
                config,
                preprocessor_data_url,
                "preprocessor",
                {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": CSV},
            ),
            _container(config, model_data_url, "model"),
        ],
        "InferenceExecutionConfig": {"Mode": "Serial"},
        "EnableNetworkIsolation": config.network_isolation,
    }
    vpc = _vpc(config)
    if vpc:
        request["VpcConfig"] = vpc
    return _with_common(request, config)


def endpoint_config_request(config: LaunchConfig, name: str, model_name: str) -> Request:
    serving = config.instance("serving")
    request: Request = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InstanceType": serving.type,
                "InitialInstanceCount": serving.count,
                "InitialVariantWeight": 1.0,
                "ContainerStartupHealthCheckTimeoutInSeconds": STARTUP_HEALTH_CHECK_SECONDS,
                "ModelDataDownloadTimeoutInSeconds": MODEL_DOWNLOAD_SECONDS,
            }
        ],
    }
    if config.kms_key_id:
        request["KmsKeyId"] = config.kms_key_id
    return _with_common(request, config)


def endpoint_request(config: LaunchConfig, name: str, endpoint_config_name: str) -> Request:
    return _with_common({"EndpointName": name, "EndpointConfigName": endpoint_config_name}, config)


def transform_request(
    config: LaunchConfig,
    job_name: str,
    model_name: str,
    input_uri: str | None = None,
    max_payload_mb: int = 6,
    max_concurrent: int | None = None,
    batch_strategy: str = "MultiRecord",
    content_type: str = CSV,
    data_processing: Mapping[str, str] | None = None,
) -> Request:
    """Batch transform over headerless raw rows (CSV, or JSON Lines): Line splitting,
    MultiRecord batching, one output line per input line. MaxConcurrentTransforms, unless
    given, is left to the container's /execution-parameters. ``data_processing`` comes from
    :func:`data_processing`."""
    transform = config.instance("transform")
    output: dict[str, Any] = {
        "S3OutputPath": layout.transform_output_uri(config, job_name),
        "Accept": content_type,
        "AssembleWith": "Line",
    }
    resources: dict[str, Any] = {"InstanceType": transform.type, "InstanceCount": transform.count}
    if config.kms_key_id:
        output["KmsKeyId"] = config.kms_key_id
        resources["VolumeKmsKeyId"] = config.kms_key_id
    request: Request = {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "BatchStrategy": batch_strategy,
        "MaxPayloadInMB": max_payload_mb,
        "ModelClientConfig": {
            "InvocationsTimeoutInSeconds": INVOCATIONS_TIMEOUT_SECONDS,
            "InvocationsMaxRetries": INVOCATIONS_MAX_RETRIES,
        },
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": input_uri or layout.batch_input_uri(config),
                }
            },
            "ContentType": content_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": output,
        "TransformResources": resources,
    }
    if max_concurrent:
        request["MaxConcurrentTransforms"] = max_concurrent
    if data_processing:
        request["DataProcessing"] = dict(data_processing)
    return _with_common(request, config)


def data_processing(
    input_filter: str | None = None, join_input: bool = False, output_filter: str | None = None
) -> dict[str, str] | None:
    """A transform's DataProcessing: the filters (SageMaker's JSONPath subset) and
    JoinSource; None when everything is SageMaker's default (``$``, no join, ``$``)."""
    spec: dict[str, str] = {}
    if input_filter and input_filter != "$":
        spec["InputFilter"] = input_filter
    if join_input:
        spec["JoinSource"] = "Input"
    if output_filter and output_filter != "$":
        spec["OutputFilter"] = output_filter
    return spec or None
