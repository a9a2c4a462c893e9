"""Pure functions: the Model Registry's requests (package group, versioned package, a model
from a package, approval), one config in, the exact boto3 request out."""

from __future__ import annotations

from mpg_launch.aws.request_parts import CSV, Request, with_tags
from mpg_launch.endpoint.requests import model_request, serving_container
from mpg_launch.settings.config import LaunchConfig

# What the serving image reads and answers (mpg_serving.codecs).
SERVING_CONTENT_TYPES = [CSV, "application/json", "application/jsonlines"]


def model_package_group_request(config: LaunchConfig) -> Request:
    request: Request = {
        "ModelPackageGroupName": config.model_package_group,
        "ModelPackageGroupDescription": "Auto MPG regressors registered by the mpg pipeline",
    }
    return with_tags(request, config)


def model_package_request(
    config: LaunchConfig, model_data_url: str, report_uri: str, approval_status: str
) -> Request:
    """A versioned model package: the serving container and artifact, what it reads and
    answers, where it may run, and the evaluation report as its model-quality statistics."""
    request: Request = {
        "ModelPackageGroupName": config.model_package_group,
        "ModelPackageDescription": "Auto MPG random forest (raw rows -> mpg)",
        "InferenceSpecification": {
            "Containers": [serving_container(config, model_data_url)],
            "SupportedContentTypes": list(SERVING_CONTENT_TYPES),
            "SupportedResponseMIMETypes": list(SERVING_CONTENT_TYPES),
            "SupportedRealtimeInferenceInstanceTypes": [config.instance("serving").type],
            "SupportedTransformInstanceTypes": [config.instance("transform").type],
        },
        "ModelApprovalStatus": approval_status,
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}
        },
    }
    return with_tags(request, config)


def model_package_model_request(
    config: LaunchConfig, model_name: str, model_package_arn: str
) -> Request:
    """A model from a registered package, which names the image, artifact and environment."""
    request = model_request(config, model_name, model_data_url="")
    request["PrimaryContainer"] = {"ModelPackageName": model_package_arn}
    return request


def model_package_approval_request(
    model_package_arn: str, status: str, description: str | None = None
) -> Request:
    request: Request = {"ModelPackageArn": model_package_arn, "ModelApprovalStatus": status}
    if description:
        request["ApprovalDescription"] = description
    return request
