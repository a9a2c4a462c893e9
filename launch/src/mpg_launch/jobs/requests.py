"""Pure functions: one config (plus names and URIs) in, a job's exact boto3 request out:
processing, training, tuning, the evaluation (a processing job) and batch transform.

Nothing here talks to AWS, so ``--dry-run`` prints these, tests compare them, and
:mod:`mpg_launch.aws.validation` checks them against botocore's service model. The local runner
(:mod:`mpg_launch.local.clients.sagemaker`) consumes the very same dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mpg_core.errors import ConfigError as HyperparameterError
from mpg_core.hyperparameters import tuning_plan
from mpg_core.metrics import METRIC_DEFINITIONS
from mpg_launch.aws import names
from mpg_launch.aws.request_parts import (
    CSV,
    PROCESSING_ROOT,
    Request,
    processing_input,
    vpc_config,
    with_tags,
)
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig, training_instances
from mpg_launch.table import schema as table
from mpg_launch.table import tasks
from mpg_launch.table.schema import SCHEMA_INPUT

# The processing input holding the whole train split, which every host fits on.
FIT_INPUT = "fit"
# Batch transform: one request may take this long; retried this often.
INVOCATIONS_TIMEOUT_SECONDS = 600
INVOCATIONS_MAX_RETRIES = 1


def processing_request(config: LaunchConfig, job_name: str) -> Request:
    """Preprocessing: the raw splits in, features and the fitted preprocessor out.

    Correct on any instance count: every host gets the whole train split as ``fit``
    (FullyReplicated) and fits the same preprocessor on it, and transforms only its
    ShardedByS3Key share of each split, so every row is written once."""
    inputs = [
        processing_input(FIT_INPUT, names.raw_uri(config, "train"), "FullyReplicated"),
        *(
            processing_input(split, names.raw_uri(config, split), "ShardedByS3Key")
            for split in names.SPLITS
        ),
    ]
    if config.schema:  # the user's table schema; without it the job uses Auto MPG's
        inputs.append(
            processing_input(SCHEMA_INPUT, table.schema_prefix(config), "FullyReplicated")
        )
    outputs = [
        {
            "OutputName": name,
            "S3Output": {
                "S3Uri": names.preprocess_uri(config, job_name, name),
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
    vpc = vpc_config(config)
    if vpc:
        network["VpcConfig"] = vpc
    arguments = [
        f"--{i['InputName']}={i['S3Input']['LocalPath']}"
        for i in inputs
        if i["InputName"] != SCHEMA_INPUT  # read from its SageMaker path, as the job's default
    ] + [f"--{name}={PROCESSING_ROOT}/output/{name}" for name in ("features", "preprocessor")]
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
    return with_tags(request, config)


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
        _channel(split, names.features_uri(config, preprocessing_job, split))
        for split in names.SPLITS
    ]
    if with_preprocessor:
        channels.append(
            _channel(
                "preprocessor",
                names.preprocess_uri(config, preprocessing_job, "preprocessor"),
                content_type="application/x-gzip",
            )
        )
    return channels


def _training_definition(config: LaunchConfig, channels: Sequence[Mapping[str, Any]]) -> Request:
    """What a training job and a tuning job's TrainingJobDefinition share."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": config.max_runtime_seconds}
    training = training_instances(config)
    resources: dict[str, Any] = {
        "InstanceType": training.type,
        "InstanceCount": training.count,
        "VolumeSizeInGB": config.volume_size_gb,
    }
    output: dict[str, Any] = {"S3OutputPath": names.training_output_uri(config)}
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
    vpc = vpc_config(config)
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
        request["CheckpointConfig"] = {"S3Uri": names.checkpoint_uri(config, job_name)}
    return with_tags(request, config)


def tuning_request(
    config: LaunchConfig,
    job_name: str,
    preprocessing_job: str,
    max_jobs: int = 8,
    max_parallel: int = 2,
    strategy: str = "Bayesian",
) -> Request:
    """A tuning job optimising the task's validation metric (minimum RMSE for regression), read
    by the training image's metric regexes, over the ranges the hyperparameter table
    (:mod:`mpg_core.hyperparameters`) declares."""
    goals = tasks.goals(config)  # the schema's task: minimise RMSE, or maximise a score
    channels = training_channels(config, preprocessing_job, with_preprocessor=True)
    definition = _training_definition(config, channels)
    # The tuner sets the tuned hyperparameters (and, unless the config fixes it, the
    # algorithm); the config's others are fixed for every job.
    try:
        ranges, static = tuning_plan(config.hyperparameters)
    except HyperparameterError as exc:
        raise ConfigError(f"tuning: {exc}") from None
    if static:
        definition["StaticHyperParameters"] = static
    if config.spot:
        definition["CheckpointConfig"] = {"S3Uri": names.checkpoint_uri(config, job_name)}
    request = {
        "HyperParameterTuningJobName": job_name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {
                "Type": goals.objective_type,
                "MetricName": goals.objective_metric,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": max_jobs,
                "MaxParallelTrainingJobs": max_parallel,
            },
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": definition,
    }
    return with_tags(request, config)


# SageMaker Pipelines and the Model Registry. The pipeline's steps reuse the job builders above
# (mpg_launch.pipeline.definition substitutes pipeline parameters into their requests).
EVALUATION_REPORT = "evaluation.json"
# The evaluate job's input holding the registry's approved version, and its threshold flag.
APPROVED_INPUT = "approved"
ABSOLUTE_THRESHOLD_FLAG = "--absolute-threshold="


def evaluation_request(
    config: LaunchConfig,
    job_name: str,
    model_data_url: str,
    test_uri: str,
    approved_model_uri: str | None = None,
    absolute_threshold: float | None = None,
) -> Request:
    """The training image's ``evaluate``: the trained ``model.tar.gz`` and the raw test split in,
    ``evaluation.json`` (SageMaker's regression model-quality format) and plots out. A
    processing job like preprocessing's (same network, limits, encryption, tags) on one
    instance: evaluation does not shard. The gate's verdict in the report also compares with
    the model under ``approved_model_uri`` (the registry's approved version, scored on the same
    rows; a prefix holding no model means no comparison) and ``absolute_threshold`` (the task's
    RmseThreshold or BalancedAccuracyThreshold), when given."""
    request = processing_request(config, job_name)
    arguments = [
        f"--model={PROCESSING_ROOT}/input/model",
        f"--test={PROCESSING_ROOT}/input/test",
        f"--report={PROCESSING_ROOT}/output/evaluation",
    ]
    inputs = [("model", model_data_url), ("test", test_uri)]
    if approved_model_uri is not None:
        arguments.append(f"--approved-model={PROCESSING_ROOT}/input/{APPROVED_INPUT}")
        inputs.append((APPROVED_INPUT, approved_model_uri))
    if absolute_threshold is not None:
        arguments.append(f"{ABSOLUTE_THRESHOLD_FLAG}{absolute_threshold}")
    request["AppSpecification"] = {
        "ImageUri": config.image_uri("training"),
        "ContainerEntrypoint": ["evaluate"],
        "ContainerArguments": arguments,
    }
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1
    request["ProcessingInputs"] = [processing_input(name, uri) for name, uri in inputs]
    request["ProcessingOutputConfig"]["Outputs"] = [
        {
            "OutputName": "evaluation",
            "S3Output": {
                "S3Uri": names.s3_uri(config, "evaluate", job_name, "evaluation") + "/",
                "LocalPath": f"{PROCESSING_ROOT}/output/evaluation",
                "S3UploadMode": "EndOfJob",
            },
        }
    ]
    return request


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
    environment: Mapping[str, str] | None = None,
) -> Request:
    """Batch transform over raw rows (CSV, or JSON Lines): Line splitting, MultiRecord
    batching, one output line per input line. MaxConcurrentTransforms, unless given, is left
    to the container's /execution-parameters. ``data_processing`` comes from
    :func:`data_processing`; ``environment`` is the container's (the files' header line,
    :mod:`mpg_launch.table.header`)."""
    transform = config.instance("transform")
    output: dict[str, Any] = {
        "S3OutputPath": names.transform_output_uri(config, job_name),
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
                    "S3Uri": input_uri or names.batch_input_uri(config),
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
    if environment:
        request["Environment"] = dict(environment)
    return with_tags(request, config)


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
