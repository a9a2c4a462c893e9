"""Issue 23: ``delete`` removes only what the kit created, and nothing another endpoint uses;
against a moto server, which keeps tags, lists endpoints and stores alarms with their tags.
Every request the command sends is recorded, so "nothing sent" means no write at all.

These are the hostile-input suite's ``delete`` class; their count is asserted and printed."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from mpg_launch.aws.clients import Clients, aws_clients
from mpg_launch.aws.names import scalable_variant
from mpg_launch.cli.main import main
from mpg_launch.endpoint import rollout
from mpg_launch.endpoint.async_requests import wake_alarm_name
from mpg_launch.endpoint.delete import MONITORS, kit_tags
from mpg_launch.endpoint.delete import SCALING as SCALING_TAG
from mpg_launch.endpoint.rollout_settings import Rollout
from mpg_launch.settings.config import LaunchConfig
from tests.helpers.launch import REGION, printed_requests
from tests.helpers.moto_scaling import RESOURCE, aas, policies, targets

WRITES = ("Create", "Delete", "Deregister", "Put", "Update", "Register")
FAST = ["--poll-seconds", "0"]
Factory = Callable[[LaunchConfig, Any], Clients]


def recording(sent: list[str]) -> Factory:
    """AWS clients (moto) whose every operation is recorded in ``sent``."""

    def factory(config: LaunchConfig, out: Any) -> Clients:
        clients = aws_clients(config)
        for client in (clients.sagemaker, clients.cloudwatch, clients.autoscaling):
            client.meta.events.register("before-call", lambda model, **_: sent.append(model.name))
        return clients

    return factory


def writes(sent: list[str]) -> list[str]:
    return [op for op in sent if op.startswith(WRITES)]


def sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def make(
    role: str,
    endpoint: str | None,
    config_name: str,
    model: str,
    tags_for: str | None = None,
    alarms: list[str] | None = None,
    new_model: bool = True,
) -> None:
    """A model, an endpoint config on it, and (``endpoint``) an endpoint on that config;
    tagged as the kit tags them for endpoint ``tags_for`` (None: untagged, the user's)."""
    client = sm()
    tags = {"Tags": kit_tags(tags_for, alarms or [])} if tags_for else {}
    plain = {"Tags": kit_tags(tags_for)} if tags_for else {}
    if new_model:
        client.create_model(
            ModelName=model,
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
            **plain,
        )
    client.create_endpoint_config(
        EndpointConfigName=config_name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        **tags,
    )
    if endpoint:
        client.create_endpoint(EndpointName=endpoint, EndpointConfigName=config_name, **plain)


def names() -> tuple[list[str], list[str], list[str]]:
    client = sm()
    return (
        sorted(e["EndpointName"] for e in client.list_endpoints()["Endpoints"]),
        sorted(c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]),
        sorted(m["ModelName"] for m in client.list_models()["Models"]),
    )


def run(argv: list[str], sent: list[str], lines: list[str] | None = None) -> int:
    return main(
        ["delete", *argv, *FAST],
        out=(lines if lines is not None else []).append,
        factory=recording(sent),
    )


CASES: list[str] = []  # the delete class: one entry per hostile case below


def case(test: Callable[..., None]) -> Callable[..., None]:
    CASES.append(test.__name__)
    return test


@case
def test_an_endpoint_the_kit_did_not_create_is_refused(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    make(aws_env["MPG_ROLE_ARN"], "victim", "victim-c", "victim-m")
    before, sent = names(), []
    assert run(["--endpoint", "victim", "--bucket", "b-unused"], sent) == 2
    err = capsys.readouterr().err
    assert err.startswith("mpg-launch: error: endpoint victim was not created by mpg-launch")
    assert "no mpg-launch:managed tag" in err and len(err.strip().splitlines()) == 1
    assert writes(sent) == [] and "DescribeEndpoint" in sent
    assert names() == before


@case
def test_copied_tags_of_another_endpoint_do_not_make_it_ours(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    make(aws_env["MPG_ROLE_ARN"], "copy", "copy-c", "copy-m", tags_for="original")
    sent: list[str] = []
    assert run(["--endpoint", "copy", "--bucket", "b-unused"], sent) == 2
    assert "its tags name endpoint 'original'" in capsys.readouterr().err
    assert writes(sent) == []


@case
def test_force_off_a_terminal_needs_yes(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make(aws_env["MPG_ROLE_ARN"], "victim", "victim-c", "victim-m")
    monkeypatch.setattr("sys.stdin", io.StringIO("victim\n"))  # a pipe, not a terminal
    before, sent = names(), []
    assert run(["--endpoint", "victim", "--bucket", "b-unused", "--force"], sent) == 2
    err = capsys.readouterr().err
    assert "needs its name typed on a terminal, or --yes in scripts" in err
    assert len(err.strip().splitlines()) == 1
    assert writes(sent) == [] and names() == before


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@case
def test_force_with_a_wrongly_typed_name_deletes_nothing(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make(aws_env["MPG_ROLE_ARN"], "victim", "victim-c", "victim-m")
    monkeypatch.setattr("sys.stdin", Terminal("victi\n"))
    before, sent, lines = names(), [], []
    assert run(["--endpoint", "victim", "--bucket", "b-unused", "--force"], sent, lines) == 2
    assert "not confirmed; nothing sent" in capsys.readouterr().err
    assert "will delete endpoint victim" in lines  # the plan, shown before the question
    assert writes(sent) == [] and names() == before


@case
def test_force_with_the_typed_name_deletes_it(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make(aws_env["MPG_ROLE_ARN"], "victim", "victim-c", "victim-m")
    monkeypatch.setattr("sys.stdin", Terminal("victim\n"))
    sent: list[str] = []
    assert run(["--endpoint", "victim", "--bucket", "b-unused", "--force"], sent) == 0
    assert "type the endpoint's name (victim)" in capsys.readouterr().err
    assert names() == ([], [], [])


@case
def test_yes_without_force_is_refused(
    aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[str] = []
    assert run(["--endpoint", "victim", "--bucket", "b-unused", "--yes"], sent) == 2
    assert "--yes needs --force" in capsys.readouterr().err
    assert sent == []


@case
def test_force_yes_keeps_what_another_endpoint_uses(aws_env: dict[str, str]) -> None:
    """A forced delete of the user's endpoint still keeps the model another one serves."""
    role = aws_env["MPG_ROLE_ARN"]
    make(role, "victim", "victim-c", "shared-m")
    make(role, "other", "other-c", "shared-m", new_model=False)
    sent: list[str] = []
    lines: list[str] = []
    argv = ["--endpoint", "victim", "--bucket", "b-unused", "--force", "--yes"]
    assert run(argv, sent, lines) == 0
    assert names() == (["other"], ["other-c"], ["shared-m"])
    assert "kept model shared-m: endpoint other uses it" in lines


@case
def test_a_config_and_model_another_endpoint_serves_are_kept(aws_env: dict[str, str]) -> None:
    """The issue's case: endpoint B runs on A's config; deleting A left B on a deleted config."""
    make(aws_env["MPG_ROLE_ARN"], "ep-a", "ep-a-20250101-000000", "ep-a-20250101-000000", "ep-a")
    sm().create_endpoint(EndpointName="ep-b", EndpointConfigName="ep-a-20250101-000000")
    sent: list[str] = []
    lines: list[str] = []
    assert run(["--endpoint", "ep-a", "--bucket", "b-unused"], sent, lines) == 0
    assert names() == (["ep-b"], ["ep-a-20250101-000000"], ["ep-a-20250101-000000"])
    assert "kept endpoint config ep-a-20250101-000000: endpoint ep-b uses it" in lines
    assert "kept model ep-a-20250101-000000: endpoint ep-b uses it" in lines
    assert sm().describe_endpoint(EndpointName="ep-b")["EndpointStatus"] == "InService"


@case
def test_another_endpoints_versions_with_a_like_name_are_kept(aws_env: dict[str, str]) -> None:
    """``mpg-2``'s configs and models start with ``mpg-`` too: their tags say whose they are."""
    role = aws_env["MPG_ROLE_ARN"]
    make(role, "mpg", "mpg-20250101-000000", "mpg-20250101-000000", "mpg")
    make(role, None, "mpg-20240101-000000", "mpg-20240101-000000", "mpg")  # an earlier deploy
    make(role, "mpg-2", "mpg-2-20250101-000000", "mpg-2-20250101-000000", "mpg-2")
    make(role, None, "mpg-2-20240101-000000", "mpg-2-20240101-000000", "mpg-2")
    make(role, None, "mpg-team", "mpg-team", None)  # the user's own, named like ours
    assert run(["--endpoint", "mpg", "--bucket", "b-unused"], []) == 0
    kept = ["mpg-2-20240101-000000", "mpg-2-20250101-000000", "mpg-team"]
    assert names() == (["mpg-2"], kept, kept)


def alarm(client: Any, name: str, tags: list[dict[str, str]] | None = None) -> None:
    client.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        **({"Tags": tags} if tags else {}),
    )


def replace_with_users_schedule(name: str) -> None:
    """The schedule ``name`` replaced by a user's own, which starts no job of the kit's."""
    scheduler = boto3.client("scheduler", region_name=REGION)
    scheduler.delete_schedule(Name=name)
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:team-queue", "RoleArn": SCHEDULE_ROLE},
    )


@case
def test_alarms_go_by_recorded_name_and_tag_never_by_pattern(aws_env: dict[str, str]) -> None:
    """The kit's rollout alarms (recorded on their config, tagged) and its wake alarm go; an
    alarm named like the old pattern but the user's, one recorded but tagged for another
    endpoint, and another endpoint's rollout alarms stay."""
    role = aws_env["MPG_ROLE_ARN"]
    old, new = "mpg-moto-20240101-000000", "mpg-moto-20250101-000000"
    make(role, "mpg-moto", new, new, "mpg-moto", alarms=rollout.alarm_names(new))
    make(role, None, old, old, "mpg-moto", alarms=rollout.alarm_names(old))
    make(role, "mpg-moto-2", "mpg-moto-2-c", "mpg-moto-2-m", "mpg-moto-2")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for endpoint, config_name in (("mpg-moto", new), ("mpg-moto-2", "mpg-moto-2-c")):
        for request in rollout.alarm_requests(Rollout(), endpoint, config_name):
            cloudwatch.put_metric_alarm(**request, Tags=kit_tags(endpoint))
    errors_old, latency_old = rollout.alarm_names(old)
    alarm(cloudwatch, errors_old, kit_tags("mpg-moto"))
    alarm(cloudwatch, latency_old, kit_tags("someone-else"))  # recorded, but not ours here
    alarm(cloudwatch, "mpg-moto-20230101-000000-5xx-rate")  # the old pattern, the user's
    alarm(cloudwatch, wake_alarm_name("mpg-moto"), kit_tags("mpg-moto"))
    lines: list[str] = []
    assert run(["--endpoint", "mpg-moto", "--bucket", "b-unused"], [], lines) == 0
    left = sorted(a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"])
    assert left == sorted(
        [
            latency_old,
            "mpg-moto-20230101-000000-5xx-rate",
            *rollout.alarm_names("mpg-moto-2-c"),
        ]
    )
    assert f"deleted CloudWatch alarm {wake_alarm_name('mpg-moto')}" in lines
    assert f"kept CloudWatch alarm {latency_old}: its tags do not say mpg-launch made it here" in (
        lines
    )


@case
def test_a_missing_endpoint_is_nothing_to_delete(aws_env: dict[str, str]) -> None:
    sent: list[str] = []
    lines: list[str] = []
    assert run(["--endpoint", "gone", "--bucket", "b-unused"], sent, lines) == 0
    assert lines == ["endpoint gone does not exist; nothing to delete"]
    assert writes(sent) == []


def test_deploy_tags_what_it_creates_and_delete_removes_it(moto_config: LaunchConfig) -> None:
    """The kit's own deploy, then delete: the tags deploy sets are the ones delete reads."""
    argv = ["--endpoint", "mpg-moto", *FAST]
    assert main(["deploy", "--training-job", "t1", *argv], out=lambda s: None) == 0
    client = sm()
    for arn in (
        client.describe_endpoint(EndpointName="mpg-moto")["EndpointArn"],
        client.list_endpoint_configs()["EndpointConfigs"][0]["EndpointConfigArn"],
        client.list_models()["Models"][0]["ModelArn"],
    ):
        tags = {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn)["Tags"]}
        assert tags["mpg-launch:managed"] == "true" and tags["mpg-launch:endpoint"] == "mpg-moto"
    assert main(["delete", *argv], out=lambda s: None) == 0
    assert names() == ([], [], [])


def test_delete_class_count() -> None:
    print("hostile input, round two: {'delete':", len(CASES), "}")
    assert len(CASES) >= 11


def test_a_63_character_endpoint_deploys_and_deletes(moto_config: LaunchConfig) -> None:
    """Its model and config names are shortened with a hash; delete still finds them."""
    endpoint = "e" * 63
    argv = ["--endpoint", endpoint, *FAST]
    assert main(["deploy", "--training-job", "t1", *argv], out=lambda s: None) == 0
    _, configs, models = names()
    assert len(configs) == 1 and configs == models and len(configs[0]) <= 63
    assert main(["delete", *argv], out=lambda s: None) == 0
    assert names() == ([], [], [])


SCALING = ["--max-instances", "3", "--target-invocations", "750"]
KIT_POLICY = "mpg-invocations-per-instance"


def put_policy(endpoint: str, name: str) -> None:
    """A target-tracking policy on ``endpoint``'s variant, as a user would add one."""
    aas().put_scaling_policy(
        PolicyName=name,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 100.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
        **scalable_variant(endpoint),
    )


def register(endpoint: str) -> None:
    aas().register_scalable_target(MinCapacity=1, MaxCapacity=2, **scalable_variant(endpoint))


def test_deploy_records_its_scaling_policies_and_delete_keeps_another(
    moto_config: LaunchConfig,
) -> None:
    """The kit's policy goes; a policy someone added to the variant stays, and so does the
    target (deregistering it would delete that policy too); both are named."""
    argv = ["--endpoint", "mpg-moto", *FAST]
    shown: list[str] = []
    assert (
        main(["deploy", "--training-job", "t1", *argv, *SCALING, "--dry-run"], out=shown.append)
        == 0
    )
    (config_request,) = [
        p["request"] for p in printed_requests(shown) if p["operation"] == "CreateEndpointConfig"
    ]
    assert {"Key": SCALING_TAG, "Value": KIT_POLICY} in config_request["Tags"]
    assert main(["deploy", "--training-job", "t1", *argv, *SCALING], out=lambda s: None) == 0
    arn = sm().list_endpoint_configs()["EndpointConfigs"][0]["EndpointConfigArn"]
    tags = {t["Key"]: t["Value"] for t in sm().list_tags(ResourceArn=arn)["Tags"]}
    assert tags[SCALING_TAG] == KIT_POLICY
    put_policy("mpg-moto", "team-policy")
    lines: list[str] = []
    assert main(["delete", *argv], out=lines.append) == 0
    assert [p["PolicyName"] for p in policies()] == ["team-policy"]
    assert [t["ResourceId"] for t in targets()] == [RESOURCE]
    assert lines[0] == f"deleted scaling policy {KIT_POLICY}"
    assert "kept scaling policy team-policy: not created by mpg-launch for mpg-moto" in lines
    assert (
        f"kept scalable target {RESOURCE}: scaling policies not mpg-launch's are on it "
        "(team-policy)" in lines
    )
    assert names() == ([], [], [])


def test_a_registration_the_kit_did_not_make_is_kept(moto_config: LaunchConfig) -> None:
    """Deployed without autoscaling (nothing recorded), then registered by someone else."""
    argv = ["--endpoint", "mpg-moto", *FAST]
    assert main(["deploy", "--training-job", "t1", *argv], out=lambda s: None) == 0
    register("mpg-moto")
    put_policy("mpg-moto", KIT_POLICY)  # named like the kit's: the record says whose it is
    lines: list[str] = []
    assert main(["delete", *argv], out=lines.append) == 0
    assert [p["PolicyName"] for p in policies()] == [KIT_POLICY]
    assert len(targets()) == 1
    assert f"kept scaling policy {KIT_POLICY}: not created by mpg-launch for mpg-moto" in lines
    assert f"kept scalable target {RESOURCE}: not registered by mpg-launch for mpg-moto" in lines
    assert not any("scal" in line for line in lines if line.startswith("deleted"))
    assert names() == ([], [], [])


@case
def test_force_takes_the_variants_whole_registration(aws_env: dict[str, str]) -> None:
    """A forced delete of the user's endpoint shows, then removes, its registration, as it
    removes the config it serves."""
    make(aws_env["MPG_ROLE_ARN"], "victim", "victim-c", "victim-m")
    register("victim")
    put_policy("victim", "their-policy")
    lines: list[str] = []
    argv = ["--endpoint", "victim", "--bucket", "b-unused", "--force", "--yes"]
    assert run(argv, [], lines) == 0
    target = "endpoint/victim/variant/AllTraffic"
    assert "will delete scaling policy their-policy" in lines
    assert f"will delete scalable target {target}" in lines
    assert (targets(), policies()) == ([], [])
    assert names() == ([], [], [])


SCHEDULE_ROLE = "arn:aws:iam::123456789012:role/scheduler"
MODEL_DATA = "s3://my-bucket/mpg/training/t1/output/model.tar.gz"


def monitor_schedule(endpoint: str, *argv: str, lines: list[str] | None = None) -> int:
    base = ["monitor", "schedule", "--endpoint", endpoint, "--model-data", MODEL_DATA]
    out = (lines if lines is not None else []).append
    return main([*base, "--schedule-role", SCHEDULE_ROLE, *argv], out=out)


def schedules() -> list[str]:
    scheduler = boto3.client("scheduler", region_name=REGION)
    return sorted(s["Name"] for s in scheduler.list_schedules()["Schedules"])


def alarm_names(prefix: str = "") -> list[str]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    given = {"AlarmNamePrefix": prefix} if prefix else {}
    found = cloudwatch.describe_alarms(**given)["MetricAlarms"]
    return sorted(a["AlarmName"] for a in found)


def test_the_monitors_schedules_and_alarms_go_with_their_endpoint(
    moto_config: LaunchConfig,
) -> None:
    """`monitor schedule` tags its alarms and records itself on the endpoint; delete removes
    its schedules and alarms, and keeps a user's alarm under the monitor's prefix, a user's
    schedule under a recorded monitor's name, and another endpoint's monitor."""
    argv = ["--endpoint", "mpg-moto", *FAST]
    assert main(["deploy", "--training-job", "t1", *argv], out=lambda s: None) == 0
    shown: list[str] = []
    assert monitor_schedule("mpg-moto", "--dry-run", lines=shown) == 0
    printed = printed_requests(shown)
    assert [p["operation"] for p in printed][:2] == ["AddTags", "CreateSchedule"]
    assert printed[0]["request"]["Tags"] == [{"Key": MONITORS, "Value": "mpg-monitor"}]
    alarms_shown = [p["request"] for p in printed if p["operation"] == "PutMetricAlarm"]
    assert len(alarms_shown) == 8
    assert all(kit_tags("mpg-moto") == a["Tags"][-2:] for a in alarms_shown)
    assert schedules() == [] and alarm_names() == []  # the dry run sent nothing

    assert monitor_schedule("mpg-moto") == 0
    assert monitor_schedule("mpg-moto", "--monitor-name", "second") == 0
    other: list[str] = []
    assert monitor_schedule("other", lines=other) == 0  # no such endpoint: nothing records it
    assert "note: endpoint other does not exist, so it cannot record this monitor" in (
        "\n".join(other)
    )
    arn = sm().describe_endpoint(EndpointName="mpg-moto")["EndpointArn"]
    tags = {t["Key"]: t["Value"] for t in sm().list_tags(ResourceArn=arn)["Tags"]}
    assert tags[MONITORS] == "mpg-monitor second"
    ours = alarm_names("mpg-monitor-mpg-moto-") + alarm_names("second-mpg-moto-")
    assert len(ours) == 16
    # A user's alarm under the monitor's prefix, and a user's schedule in place of "second"'s.
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    alarm(cloudwatch, "mpg-monitor-mpg-moto-team-latency")
    replace_with_users_schedule("second-mpg-moto")
    others = alarm_names("mpg-monitor-other-")
    assert len(others) == 8

    lines: list[str] = []
    assert main(["delete", *argv], out=lines.append) == 0
    assert schedules() == ["mpg-monitor-other", "second-mpg-moto"]
    assert alarm_names() == sorted([*others, "mpg-monitor-mpg-moto-team-latency"])
    assert lines[0] == "deleted EventBridge schedule mpg-monitor-mpg-moto"
    assert lines.index("deleted endpoint mpg-moto") > 0
    assert all(f"deleted CloudWatch alarm {a}" in lines for a in ours)
    assert (
        "kept EventBridge schedule second-mpg-moto: it does not start mpg-launch's monitoring "
        "job of mpg-moto" in lines
    )
    assert (
        "kept CloudWatch alarm mpg-monitor-mpg-moto-team-latency: its tags do not say "
        "mpg-launch made it here" in lines
    )
    assert names() == ([], [], [])


def endpoint_tags(endpoint: str) -> dict[str, str]:
    arn = sm().describe_endpoint(EndpointName=endpoint)["EndpointArn"]
    return {t["Key"]: t["Value"] for t in sm().list_tags(ResourceArn=arn)["Tags"]}


def test_monitor_delete_removes_only_the_kits_and_its_record(moto_config: LaunchConfig) -> None:
    """`monitor delete` goes by the same rules: the monitor's tagged alarms and its schedule
    go, a user's alarm under its prefix and a user's schedule under its name stay and are
    named, and the endpoint's record loses the monitor (the tag too, once it is empty)."""
    argv = ["--endpoint", "mpg-moto", *FAST]
    assert main(["deploy", "--training-job", "t1", *argv], out=lambda s: None) == 0
    assert monitor_schedule("mpg-moto") == 0
    assert monitor_schedule("mpg-moto", "--monitor-name", "second") == 0
    assert endpoint_tags("mpg-moto")[MONITORS] == "mpg-monitor second"
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    alarm(cloudwatch, "mpg-monitor-mpg-moto-team-latency")
    # Another endpoint's kit alarm under this monitor's prefix: its tags name mpg-moto-b.
    alarm(cloudwatch, "mpg-monitor-mpg-moto-b-drift", kit_tags("mpg-moto-b"))
    seconds = alarm_names("second-mpg-moto-")

    lines: list[str] = []
    assert main(["monitor", "delete", *argv], out=lines.append) == 0
    assert alarm_names("mpg-monitor-") == [
        "mpg-monitor-mpg-moto-b-drift",
        "mpg-monitor-mpg-moto-team-latency",
    ]
    assert schedules() == ["second-mpg-moto"]
    assert lines[:2] == ["deleted schedule mpg-monitor-mpg-moto", "deleted 8 alarm(s)"]
    assert (
        "kept CloudWatch alarm mpg-monitor-mpg-moto-team-latency: its tags do not say "
        "mpg-launch made it here" in lines
    )
    assert "kept CloudWatch alarm mpg-monitor-mpg-moto-b-drift: its tags do not say " in (
        "\n".join(lines)
    )
    assert f"removed monitor mpg-monitor from endpoint mpg-moto's {MONITORS} record" in lines
    assert endpoint_tags("mpg-moto")[MONITORS] == "second"

    # A user's schedule in place of second's: kept and named; the record is emptied, so gone.
    replace_with_users_schedule("second-mpg-moto")
    lines = []
    assert main(["monitor", "delete", "--monitor-name", "second", *argv], out=lines.append) == 0
    assert schedules() == ["second-mpg-moto"]
    assert alarm_names("second-") == [] and len(seconds) == 8
    assert (
        "kept EventBridge schedule second-mpg-moto: it does not start mpg-launch's monitoring "
        "job of mpg-moto" in lines
    )
    assert "deleted 8 alarm(s)" in lines
    assert MONITORS not in endpoint_tags("mpg-moto")

    # Nothing recorded now: a second run deletes nothing and updates no record.
    lines = []
    assert main(["monitor", "delete", *argv], out=lines.append) == 0
    assert "deleted 0 alarm(s)" in lines and "no schedule mpg-monitor-mpg-moto" in lines
    assert not any(line.startswith("removed monitor") for line in lines)
    assert main(["delete", *argv], out=lambda s: None) == 0
    assert names() == ([], [], [])
