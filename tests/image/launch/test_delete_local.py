"""Issue 23: ``delete --local`` removes only what the kit created, as against AWS: the local
double keeps the tags of what it creates, lists its endpoints and its alarms' tags. The
records are written through the double's own create calls (no container is needed to own a
name); delete runs through the CLI on the real engine (it stops an endpoint's containers)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from mpg_launch.cli.main import main
from mpg_launch.endpoint import rollout
from mpg_launch.endpoint.delete import MONITORS, kit_tags
from mpg_launch.local.clients.cloudwatch import LocalCloudWatch
from mpg_launch.local.clients.sagemaker import LocalSageMaker
from mpg_launch.local.state import LocalState

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]
ACCOUNT, REGION = "123456789012", "us-east-1"


def double(state: Path) -> tuple[LocalSageMaker, LocalCloudWatch, LocalState]:
    records = LocalState(state)
    return (
        LocalSageMaker(None, records, REGION, ACCOUNT, out=lambda s: None),
        LocalCloudWatch(records, REGION, ACCOUNT),
        records,
    )


def make(
    state: Path,
    endpoint: str | None,
    config_name: str,
    model: str,
    tags_for: str | None,
    alarms: list[str] | None = None,
) -> None:
    sm, _, records = double(state)
    tags = {"Tags": kit_tags(tags_for, alarms or [])} if tags_for else {}
    plain = {"Tags": kit_tags(tags_for)} if tags_for else {}
    sm.create_model(ModelName=model, PrimaryContainer={"Image": "mpg-serving:x"}, **plain)
    sm.create_endpoint_config(
        EndpointConfigName=config_name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model}],
        **tags,
    )
    if endpoint:  # as create_endpoint records it, without starting containers
        records.put(
            "endpoints",
            endpoint,
            {
                "EndpointName": endpoint,
                "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint}",
                "EndpointConfigName": config_name,
                "EndpointStatus": "InService",
                **plain,
            },
        )


def left(state: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    records = LocalState(state)
    return (
        records.names("endpoints"),
        records.names("endpoint-configs"),
        records.names("models"),
        records.names("alarms"),
    )


def delete(env: dict[str, str], *argv: str, lines: list[str] | None = None) -> int:
    out = (lines if lines is not None else []).append
    return main(["delete", "--local", "--poll-seconds", "0", *argv], env=env, out=out)


def test_local_delete_refuses_an_endpoint_the_kit_did_not_create(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state = Path(env["MPG_LOCAL_STATE_DIR"])
    make(state, "victim", "victim-c", "victim-m", None)
    before = left(state)
    assert delete(env, "--endpoint", "victim") == 2
    err = capsys.readouterr().err
    assert "endpoint victim was not created by mpg-launch" in err
    assert len(err.strip().splitlines()) == 1
    assert left(state) == before
    assert delete(env, "--endpoint", "victim", "--force", "--yes") == 0
    assert left(state) == ([], [], [], [])


def test_local_delete_keeps_what_another_endpoint_uses_and_foreign_alarms(
    env: dict[str, str],
) -> None:
    state = Path(env["MPG_LOCAL_STATE_DIR"])
    new, old = "ep-a-20250101-000000", "ep-a-20240101-000000"
    make(state, "ep-a", new, new, "ep-a", alarms=rollout.alarm_names(new))
    make(state, None, old, old, "ep-a")
    make(state, "ep-b", "ep-b-c", old, None)  # ep-b serves ep-a's earlier model
    _, cloudwatch, _ = double(state)
    errors, latency = rollout.alarm_names(new)
    for name, tags in ((errors, kit_tags("ep-a")), (latency, []), ("ep-a-team", [])):
        cloudwatch.put_metric_alarm(AlarmName=name, Tags=tags)
    lines: list[str] = []
    assert delete(env, "--endpoint", "ep-a", lines=lines) == 0
    assert left(state) == (["ep-b"], ["ep-b-c"], [old], sorted(["ep-a-team", latency]))
    assert f"kept model {old}: endpoint ep-b uses it" in lines
    assert f"deleted CloudWatch alarm {errors}" in lines


def test_local_delete_removes_the_monitors_alarms_where_the_monitor_put_them(
    env: dict[str, str],
) -> None:
    """`monitor run --local` puts its alarms on the CloudWatch the AWS settings reach (moto
    here), and records itself on the local endpoint: delete --local removes them there, and
    keeps a user's alarm under the same prefix and the local double's own alarms."""
    state = Path(env["MPG_LOCAL_STATE_DIR"])
    make(state, "ep-a", "ep-a-c", "ep-a-m", "ep-a")
    sm, local_cloudwatch, _ = double(state)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep-a"
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": MONITORS, "Value": "mpg-monitor"}])
    assert {"Key": MONITORS, "Value": "mpg-monitor"} in sm.list_tags(ResourceArn=arn)["Tags"]
    assert {"Key": "mpg-launch:managed", "Value": "true"} in sm.list_tags(ResourceArn=arn)["Tags"]
    local_cloudwatch.put_metric_alarm(AlarmName="mpg-monitor-ep-a-local", Tags=kit_tags("ep-a"))
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    kit, user = "mpg-monitor-ep-a-feature_baseline_drift_weight", "mpg-monitor-ep-a-mine"
    for name, tags in ((kit, kit_tags("ep-a")), (user, [])):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="mpg/ModelMonitor",
            MetricName="feature_baseline_drift_weight",
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=0.2,
            ComparisonOperator="GreaterThanThreshold",
            **({"Tags": tags} if tags else {}),
        )
    lines: list[str] = []
    assert delete(env, "--endpoint", "ep-a", lines=lines) == 0
    left_on_moto = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]]
    assert left_on_moto == [user]
    assert f"deleted CloudWatch alarm {kit}" in lines
    assert f"kept CloudWatch alarm {user}: its tags do not say mpg-launch made it here" in lines
    assert left(state) == ([], [], [], ["mpg-monitor-ep-a-local"])
