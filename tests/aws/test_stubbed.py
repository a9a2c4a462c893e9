"""botocore Stubber where the exact request matters: what is sent to SageMaker and ECR."""

from __future__ import annotations

import base64
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.submit import Runner
from mpg_launch.endpoint import delete as endpoint_delete
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint import run as endpoint_run
from mpg_launch.endpoint.delete import kit_tags, owned
from mpg_launch.images import ecr
from mpg_launch.jobs import requests as build
from mpg_launch.jobs import run as jobs_run
from mpg_launch.settings.config import LaunchConfig

ARN = "arn:aws:sagemaker:eu-west-1:111122223333:resource/name"


def client(service: str) -> Any:
    return boto3.client(
        service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_preprocess_sends_exactly_the_built_request(config: LaunchConfig) -> None:
    sm = client("sagemaker")
    expected = build.processing_request(config, "prep-1")
    with Stubber(sm) as stub:
        stub.add_response("create_processing_job", {"ProcessingJobArn": ARN}, expected)
        stub.add_response(
            "describe_processing_job",
            {
                "ProcessingJobName": "prep-1",
                "ProcessingJobStatus": "Completed",
                "ProcessingJobArn": ARN,
                "ProcessingResources": expected["ProcessingResources"],
                "AppSpecification": expected["AppSpecification"],
                "CreationTime": "2025-01-01T00:00:00Z",
            },
            {"ProcessingJobName": "prep-1"},
        )
        runner = Runner(config, Clients(sm, None, None, None), lambda s: None, poll_seconds=0)
        job = jobs_run.preprocess(runner, "prep-1")
        stub.assert_no_pending_responses()
    assert job is not None and job["ProcessingJobStatus"] == "Completed"


def test_deploy_creates_model_config_and_endpoint(config: LaunchConfig) -> None:
    sm = client("sagemaker")
    name = "mpg-20250101-000000"
    with Stubber(sm) as stub:
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find")
        stub.add_response(
            "create_model",
            {"ModelArn": ARN},
            owned(
                endpoint_requests.model_request(
                    config, name, "s3://my-bucket/mpg/training/t1/output/model.tar.gz"
                ),
                "mpg",
            ),
        )
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": ARN},
            owned(endpoint_requests.endpoint_config_request(config, name, name), "mpg"),
        )
        stub.add_response(
            "create_endpoint",
            {"EndpointArn": ARN},
            owned({"EndpointName": "mpg", "EndpointConfigName": name}, "mpg"),
        )
        runner = Runner(config, Clients(sm, None, None, None), lambda s: None)
        endpoint_run.deploy(runner, "mpg", "20250101-000000", training_job="t1", wait=False)
        stub.assert_no_pending_responses()


def test_existing_endpoint_is_updated_not_recreated(config: LaunchConfig) -> None:
    sm = client("sagemaker")
    name = "mpg-20250101-000000"
    with Stubber(sm) as stub:
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "mpg",
                "EndpointArn": ARN,
                "EndpointConfigName": "old",
                "EndpointStatus": "InService",
                "CreationTime": "2025-01-01T00:00:00Z",
                "LastModifiedTime": "2025-01-01T00:00:00Z",
            },
        )
        stub.add_response("create_model", {"ModelArn": ARN}, None)
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": ARN}, None)
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": ARN},
            {"EndpointName": "mpg", "EndpointConfigName": name},
        )
        runner = Runner(config, Clients(sm, None, None, None), lambda s: None)
        endpoint_run.deploy(runner, "mpg", "20250101-000000", training_job="t1", wait=False)
        stub.assert_no_pending_responses()


def test_missing_repository_is_created_immutable_with_scan_on_push(config: LaunchConfig) -> None:
    registry = client("ecr")
    with Stubber(registry) as stub:
        stub.add_client_error("describe_repositories", "RepositoryNotFoundException", "none")
        stub.add_response(
            "create_repository",
            {"repository": {"repositoryUri": "uri"}},
            {
                "repositoryName": "mpg-training",
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
            },
        )
        assert ecr.ensure_repository(registry, "mpg-training", config) == "uri"
        stub.assert_no_pending_responses()


def test_authorization_token_is_split_on_the_first_colon() -> None:
    registry = client("ecr")
    token = base64.b64encode(b"AWS:pass:with:colons").decode()
    with Stubber(registry) as stub:
        stub.add_response(
            "get_authorization_token",
            {
                "authorizationData": [
                    {
                        "authorizationToken": token,
                        "proxyEndpoint": "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com",
                    }
                ]
            },
            {"registryIds": ["111122223333"]},
        )
        user, password, host = ecr.registry_credentials(registry, "111122223333")
    assert (user, password) == ("AWS", "pass:with:colons")
    assert host == "111122223333.dkr.ecr.eu-west-1.amazonaws.com"


def test_delete_removes_endpoint_config_and_models(config: LaunchConfig) -> None:
    """The exact requests: reads first (what is the kit's, what others use), then the deletes
    of the endpoint, its config and model and an earlier deploy's config, each tagged as the
    kit's for this endpoint."""
    sm = client("sagemaker")
    ours = {"Tags": kit_tags("mpg")}
    with Stubber(sm) as stub:
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "mpg",
                "EndpointArn": ARN + "/endpoint",
                "EndpointConfigName": "mpg-c",
                "EndpointStatus": "InService",
                "CreationTime": "2025-01-01T00:00:00Z",
                "LastModifiedTime": "2025-01-01T00:00:00Z",
            },
            {"EndpointName": "mpg"},
        )
        config_answer = {
            "EndpointConfigArn": ARN + "/config",
            "CreationTime": "2025-01-01T00:00:00Z",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "mpg-m"}],
        }
        stub.add_response(
            "describe_endpoint_config",
            {"EndpointConfigName": "mpg-c", **config_answer},
            {"EndpointConfigName": "mpg-c"},
        )
        stub.add_response("list_tags", ours, {"ResourceArn": ARN + "/config"})
        old = "mpg-20240101-000000"
        stub.add_response(
            "list_endpoint_configs",
            {
                "EndpointConfigs": [
                    {
                        "EndpointConfigName": old,
                        "EndpointConfigArn": ARN + "/old",
                        "CreationTime": "2025-01-01T00:00:00Z",
                    }
                ]
            },
            {"NameContains": "mpg", "MaxResults": ANY},
        )
        stub.add_response("list_tags", ours, {"ResourceArn": ARN + "/old"})
        stub.add_response(
            "describe_endpoint_config",
            {"EndpointConfigName": old, **config_answer},
            {"EndpointConfigName": old},
        )
        stub.add_response("list_models", {"Models": []}, {"NameContains": "mpg", "MaxResults": ANY})
        stub.add_response(
            "describe_model",
            {"ModelName": "mpg-m", "ModelArn": ARN + "/model", "CreationTime": "2025-01-01"},
            {"ModelName": "mpg-m"},
        )
        stub.add_response("list_tags", ours, {"ResourceArn": ARN + "/model"})
        stub.add_response("list_tags", ours, {"ResourceArn": ARN + "/endpoint"})
        stub.add_response("list_endpoints", {"Endpoints": []}, {"MaxResults": ANY})
        stub.add_response("delete_endpoint", {}, {"EndpointName": "mpg"})
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "mpg-c"})
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": old})
        stub.add_response("delete_model", {}, {"ModelName": "mpg-m"})
        deleted = endpoint_delete.delete(
            Clients(sm, None, None, None), "mpg", lambda s: None, wait=lambda sm, name: None
        )
        stub.assert_no_pending_responses()
    assert deleted == [
        "endpoint mpg",
        "endpoint config mpg-c",
        f"endpoint config {old}",
        "model mpg-m",
    ]
