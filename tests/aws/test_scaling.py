"""Endpoint scaling flows against a real moto server: autoscaling registered after deploy and
removed before delete, serverless and data-capture endpoint configs as SageMaker stores them.

moto has no UpdateEndpoint, so the redeploy tests answer the SageMaker calls with botocore's
Stubber (the exact requests are asserted) while Application Auto Scaling is the moto server:
what it holds before, during and after the update is read from it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.names import scalable_variant
from mpg_launch.aws.submit import Runner
from mpg_launch.cli.main import main
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint import run as endpoint_run
from mpg_launch.endpoint import scaling
from mpg_launch.endpoint.delete import owned
from mpg_launch.endpoint.settings import Autoscaling
from mpg_launch.errors import JobFailed
from mpg_launch.settings.config import LaunchConfig
from tests.helpers.moto_scaling import RESOURCE, aas, policies, run, targets

REGION = "us-east-1"
SCALING = ["--max-instances", "3", "--target-invocations", "750", "--scale-in-cooldown", "400"]
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mpg-moto"
pytestmark = pytest.mark.aws


@pytest.fixture
def config(moto_config: LaunchConfig) -> LaunchConfig:
    """``config`` here is moto's, with the images pushed (tests/aws/conftest.py)."""
    return moto_config


def test_deploy_registers_the_variant_then_delete_deregisters_it(config: LaunchConfig) -> None:
    code, lines = run(*SCALING)
    assert code == 0, lines
    (target,) = targets()
    assert target["ResourceId"] == RESOURCE
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    (policy,) = policies()
    assert policy["PolicyName"] == "mpg-invocations-per-instance"
    assert policy["ResourceId"] == RESOURCE
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 750.0
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (400, 60)
    assert "autoscaling: 1..3 instances holding 750 invocations per instance per minute" in (
        "\n".join(lines)
    )

    deleted: list[str] = []
    assert main(["delete", "--endpoint", "mpg-moto"], out=deleted.append) == 0
    assert (targets(), policies()) == ([], [])
    assert deleted[:3] == [
        "deleted scaling policy mpg-invocations-per-instance",
        f"deleted scalable target {RESOURCE}",
        "deleted endpoint mpg-moto",
    ]
    assert boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"] == []


def test_serverless_endpoint_config_is_stored_with_serverless_config(config: LaunchConfig) -> None:
    code, lines = run("--serverless", "--memory-mb", "1024", "--provisioned-concurrency", "1")
    assert code == 0, lines
    sm = boto3.client("sagemaker", region_name=REGION)
    endpoint = sm.describe_endpoint(EndpointName="mpg-moto")
    assert endpoint["EndpointStatus"] == "InService"
    stored = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (variant,) = stored["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": 1024,
        "MaxConcurrency": 5,
        "ProvisionedConcurrency": 1,
    }
    assert "InstanceType" not in variant
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_MODEL_SERVER_WORKERS"] == "1"
    assert any(line.startswith("note: serverless: one worker") for line in lines)
    assert targets() == []  # serverless scales by itself


def test_data_capture_config_is_stored(config: LaunchConfig) -> None:
    code, lines = run("--data-capture", "--capture-percent", "50")
    assert code == 0, lines
    sm = boto3.client("sagemaker", region_name=REGION)
    name = sm.describe_endpoint(EndpointName="mpg-moto")["EndpointConfigName"]
    capture = sm.describe_endpoint_config(EndpointConfigName=name)["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 50
    assert capture["DestinationS3Uri"] == f"s3://{config.bucket}/mpg/data-capture/"
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]


def test_an_instance_endpoint_is_not_moved_to_serverless(
    config: LaunchConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run()[0] == 0
    sm = boto3.client("sagemaker", region_name=REGION)
    before = sm.list_models()["Models"]
    code, _ = run("--serverless")
    assert code == 2
    err = capsys.readouterr().err
    assert "runs on instances, and SageMaker cannot update it to serverless" in err
    assert "mpg-launch delete --endpoint mpg-moto" in err
    assert sm.list_models()["Models"] == before  # nothing was created


# Redeploy onto an autoscaled endpoint ---------------------------------------------------------

OLD = "mpg-moto-20240101-000000"
KIT_POLICY = "mpg-invocations-per-instance"
NEW = "mpg-moto-20250101-000000"


def _endpoint(config_name: str, **extra: str) -> dict[str, Any]:
    return {
        "EndpointName": "mpg-moto",
        "EndpointArn": ARN,
        "EndpointConfigName": config_name,
        "EndpointStatus": "InService",
        "CreationTime": "2025-01-01T00:00:00Z",
        "LastModifiedTime": "2025-01-01T00:00:00Z",
        **extra,
    }


def _autoscaled(config: LaunchConfig) -> LaunchConfig:
    """The endpoint as an earlier deploy left it: 1..2 instances at 100 invocations."""
    earlier = replace(
        config, autoscaling=Autoscaling(max_instances=2, target_invocations_per_instance=100)
    )
    client = aas()
    client.register_scalable_target(
        **endpoint_requests.scalable_target_request(earlier, "mpg-moto")
    )
    client.put_scaling_policy(**endpoint_requests.scaling_policy_request(earlier, "mpg-moto"))
    return earlier


OLD_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{OLD}"


def _serving(config: LaunchConfig, recorded: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """DescribeEndpointConfig and ListTags of the config the endpoint serves, as a deploy of
    ``config`` left it: tagged as the kit's, recording the scaling policies ``recorded``."""
    old = endpoint_requests.endpoint_config_request(config, OLD, OLD)
    described = {
        "EndpointConfigName": OLD,
        "EndpointConfigArn": OLD_ARN,
        "ProductionVariants": old["ProductionVariants"],
        "CreationTime": "2024-01-01T00:00:00Z",
    }
    return described, {"Tags": owned({}, "mpg-moto", policies=recorded)["Tags"]}


def _redeploy(
    config: LaunchConfig,
    after_update: dict[str, Any],
    old_record: tuple[str, ...] = (KIT_POLICY,),
) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """Redeploy ``config`` onto the autoscaled endpoint, whose serving config (on the same
    instance type) records the scaling policies ``old_record``: SageMaker stubbed (its exact
    requests asserted), Application Auto Scaling on moto. Returns the output and the scalable
    targets moto held when UpdateEndpoint was sent."""
    sm = boto3.client("sagemaker", region_name=REGION)
    at_update: list[list[dict[str, Any]]] = []
    sm.meta.events.register(
        "provide-client-params.sagemaker.UpdateEndpoint", lambda **_: at_update.append(targets())
    )
    model_uri = f"s3://{config.bucket}/mpg/training/t1/output/model.tar.gz"
    lines: list[str] = []
    # The new config records the scaling policies put with it (delete removes only those).
    recorded = [
        r["PolicyName"]
        for o, r in scaling.register_requests(config, "mpg-moto")
        if o == "PutScalingPolicy"
    ]
    with Stubber(sm) as stub:
        stub.add_response("describe_endpoint", _endpoint(OLD), {"EndpointName": "mpg-moto"})
        # The registration's owner: the serving config's record (read as it is registered).
        described, tags = _serving(config, list(old_record))
        stub.add_response("describe_endpoint", _endpoint(OLD), {"EndpointName": "mpg-moto"})
        stub.add_response("describe_endpoint_config", described, {"EndpointConfigName": OLD})
        stub.add_response("list_tags", tags, {"ResourceArn": OLD_ARN})
        stub.add_response(
            "create_model",
            {"ModelArn": ARN},
            owned(endpoint_requests.model_request(config, NEW, model_uri), "mpg-moto"),
        )
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": ARN},
            owned(
                endpoint_requests.endpoint_config_request(config, NEW, NEW),
                "mpg-moto",
                policies=recorded,
            ),
        )
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": ARN},
            {"EndpointName": "mpg-moto", "EndpointConfigName": NEW},
        )
        stub.add_response("describe_endpoint", after_update, {"EndpointName": "mpg-moto"})
        runner = Runner(
            config, Clients(sm, None, None, None, autoscaling=aas()), lines.append, poll_seconds=0
        )
        try:
            endpoint_run.deploy(runner, "mpg-moto", "20250101-000000", training_job="t1")
        finally:
            stub.assert_no_pending_responses()
    return lines, at_update


def test_redeploy_deregisters_before_the_update_and_registers_after(config: LaunchConfig) -> None:
    _autoscaled(config)
    wider = replace(
        config, autoscaling=Autoscaling(max_instances=4, target_invocations_per_instance=750)
    )
    lines, at_update = _redeploy(wider, _endpoint(NEW))
    assert at_update == [[]]  # nothing registered while UpdateEndpoint ran
    (target,) = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    (policy,) = policies()
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 750.0
    assert (
        f"removed scalable target {RESOURCE} for the update (UpdateEndpoint fails on it)" in lines
    )


def test_a_failed_update_puts_the_old_autoscaling_back(config: LaunchConfig) -> None:
    earlier = _autoscaled(config)
    wider = replace(
        config, autoscaling=Autoscaling(max_instances=4, target_invocations_per_instance=750)
    )
    rolled_back = _endpoint(OLD, FailureReason="The primary container did not pass the ping")
    with pytest.raises(JobFailed, match=f"was not updated and still serves {OLD}: The primary"):
        _redeploy(wider, rolled_back)
    (target,) = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    (policy,) = policies()
    assert (
        policy["TargetTrackingScalingPolicyConfiguration"]
        == (
            endpoint_requests.scaling_policy_request(earlier, "mpg-moto")[
                "TargetTrackingScalingPolicyConfiguration"
            ]
        )
    )


def test_redeploy_without_autoscaling_leaves_the_endpoint_unscaled(config: LaunchConfig) -> None:
    _autoscaled(config)
    lines, at_update = _redeploy(config, _endpoint(NEW))
    assert at_update == [[]]
    assert (targets(), policies()) == ([], [])
    assert "note: endpoint mpg-moto is no longer autoscaled (no autoscaling settings)" in lines


def test_a_redeploy_refused_before_the_update_leaves_autoscaling_alone(
    config: LaunchConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*SCALING)[0] == 0
    before = (targets(), policies())
    code, lines = run(*SCALING, "--image-tag", "git-nope")  # CreateModel is refused
    assert code == 2
    assert "unknown image" in capsys.readouterr().err
    assert (targets(), policies()) == before
    assert not any("removed" in line or "restored" in line for line in lines)


def _team_policy() -> None:
    """A policy someone added to the variant beside the kit's."""
    aas().put_scaling_policy(
        PolicyName="team-policy",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 90.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
        **scalable_variant("mpg-moto"),
    )


def _values() -> dict[str, float]:
    return {
        p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in policies()
    }


def test_redeploy_keeps_a_policy_the_kit_did_not_make(config: LaunchConfig) -> None:
    """Same instance type, so SageMaker takes the update with the variant registered: the
    kit's policy goes and comes back with the new settings; the team's and the target stay."""
    _autoscaled(config)
    _team_policy()
    wider = replace(
        config, autoscaling=Autoscaling(max_instances=4, target_invocations_per_instance=750)
    )
    lines, at_update = _redeploy(wider, _endpoint(NEW))
    assert [[t["ResourceId"] for t in held] for held in at_update] == [[RESOURCE]]
    assert _values() == {KIT_POLICY: 750.0, "team-policy": 90.0}
    assert (target := targets()[0])["MaxCapacity"] == 4, target
    assert f"removed scaling policy {KIT_POLICY} for the update (UpdateEndpoint fails on it)" in (
        lines
    )
    assert "kept scaling policy team-policy: not created by mpg-launch for mpg-moto" in lines
    assert not any(line.startswith("removed scalable target") for line in lines)


def test_a_failed_update_puts_back_only_what_it_removed(config: LaunchConfig) -> None:
    _autoscaled(config)
    _team_policy()
    wider = replace(
        config, autoscaling=Autoscaling(max_instances=4, target_invocations_per_instance=750)
    )
    rolled_back = _endpoint(OLD, FailureReason="The primary container did not pass the ping")
    with pytest.raises(JobFailed, match="was not updated"):
        _redeploy(wider, rolled_back)
    assert _values() == {KIT_POLICY: 100.0, "team-policy": 90.0}
    assert (targets()[0]["MinCapacity"], targets()[0]["MaxCapacity"]) == (1, 2)


def test_redeploy_leaves_a_registration_the_kit_did_not_record(config: LaunchConfig) -> None:
    """The serving config records no policy (deployed without autoscaling, registered by
    someone else): nothing of it is removed, even a policy named like the kit's."""
    _autoscaled(config)
    lines, at_update = _redeploy(config, _endpoint(NEW), old_record=())
    assert len(at_update[0]) == 1
    assert _values() == {KIT_POLICY: 100.0}
    assert f"kept scaling policy {KIT_POLICY}: not created by mpg-launch for mpg-moto" in lines
    assert f"kept scalable target {RESOURCE}: not registered by mpg-launch for mpg-moto" in lines
    assert not any(line.startswith(("removed", "note: endpoint")) for line in lines)


def test_a_new_instance_type_under_a_foreign_policy_is_refused(
    config: LaunchConfig, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """SageMaker refuses the instance type change on a registered variant, and deregistering
    would take the team's policy: refused in one line naming it and the fix, nothing sent."""
    assert run(*SCALING)[0] == 0
    _team_policy()
    sm = boto3.client("sagemaker", region_name=REGION)
    before = (targets(), policies(), sm.list_models()["Models"])
    settings = tmp_path / "mpg.toml"
    settings.write_text('[instances.serving]\ntype = "ml.c5.xlarge"\n')
    code, lines = run(*SCALING, "--config", str(settings))
    assert code == 2, lines
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error.startswith("mpg-launch: error: deploy would move endpoint mpg-moto from ")
    assert "to ml.c5.xlarge" in error
    assert "scaling policies not mpg-launch's are on it (team-policy)" in error
    assert f"deregister-scalable-target --service-namespace sagemaker --resource-id {RESOURCE}" in (
        error
    )
    assert "put team-policy back" in error
    assert (targets(), policies(), sm.list_models()["Models"]) == before
