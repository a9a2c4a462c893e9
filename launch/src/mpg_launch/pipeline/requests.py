"""Pure functions: CreatePipeline, UpdatePipeline and StartPipelineExecution requests, and the
PutObject of the "no approved model" README the pipeline's ApprovedModelData defaults to."""

from __future__ import annotations

from collections.abc import Mapping

from mpg_launch.aws.request_parts import Request, with_tags
from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.pipeline.parameters import (
    NO_APPROVED_MODEL_README,
    NO_APPROVED_MODEL_TEXT,
    no_approved_model,
)
from mpg_launch.settings.config import LaunchConfig


def pipeline_request(
    config: LaunchConfig, definition: str, token: str, description: str | None = None
) -> Request:
    """CreatePipeline; ``token`` is the idempotency token boto3 would otherwise generate."""
    request: Request = {
        "PipelineName": config.pipeline_name,
        "PipelineDefinition": definition,
        "RoleArn": config.role_arn,
        "ClientRequestToken": token,
    }
    if description:
        request["PipelineDescription"] = description
    return with_tags(request, config)


def pipeline_update_request(
    config: LaunchConfig, definition: str, description: str | None = None
) -> Request:
    request = pipeline_request(config, definition, "", description)
    del request["ClientRequestToken"]
    request.pop("Tags", None)  # UpdatePipeline takes no tags
    return request


def pipeline_execution_request(
    config: LaunchConfig,
    parameters: Mapping[str, str],
    token: str,
    display_name: str | None = None,
) -> Request:
    """StartPipelineExecution; parameter values are strings on the wire, whatever their type."""
    request: Request = {
        "PipelineName": config.pipeline_name,
        "PipelineParameters": [{"Name": k, "Value": v} for k, v in parameters.items()],
        "ClientRequestToken": token,
    }
    if display_name:
        request["PipelineExecutionDisplayName"] = display_name
    return request


def no_approved_model_request(config: LaunchConfig) -> Request:
    """PutObject of the README under the ApprovedModelData default, so that prefix holds an
    object (a ProcessingInput needs one) and no model."""
    bucket, key = split_s3_uri(no_approved_model(config) + NO_APPROVED_MODEL_README)
    return {"Bucket": bucket, "Key": key, "Body": NO_APPROVED_MODEL_TEXT.encode()}
