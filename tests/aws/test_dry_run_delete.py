"""The dry-run issue's headline, against a moto server: ``delete --dry-run`` leaves the
endpoint, its endpoint config and its model where they were."""

from __future__ import annotations

import boto3

from mpg_launch.cli.main import main
from tests.helpers.launch import REGION, printed_requests


def test_delete_dry_run_deletes_nothing(aws_env: dict[str, str]) -> None:
    """The issue's report: `delete --dry-run --endpoint victim` deleted all three."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(
        ModelName="victim-m",
        ExecutionRoleArn=aws_env["MPG_ROLE_ARN"],
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="victim-c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "victim-m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="victim", EndpointConfigName="victim-c")
    lines: list[str] = []
    code = main(
        ["delete", "--dry-run", "--endpoint", "victim", "--bucket", "b-unused"],
        out=lines.append,
    )
    assert code == 0
    assert [p["operation"] for p in printed_requests(lines)] == ["DescribeEndpoint"]
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["victim"]
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [
        "victim-c"
    ]
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["victim-m"]
