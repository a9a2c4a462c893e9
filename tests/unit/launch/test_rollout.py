"""Rollouts without AWS or Docker: the ``[rollout]`` settings and flags, the requests (checked
against botocore's service model), the guardrail exclusions refused before anything is sent,
and the local engine's alarm evaluation and alarm records."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mpg_launch.aws.validation import request_errors
from mpg_launch.cli.main import main
from mpg_launch.endpoint import checks as endpoint_checks
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint import rollout
from mpg_launch.endpoint.rollout_settings import Rollout, parse
from mpg_launch.endpoint.settings import Autoscaling
from mpg_launch.errors import ConfigError
from mpg_launch.local.clients.cloudwatch import LocalCloudWatch
from mpg_launch.local.engine import rollout as local_rollout
from mpg_launch.local.engine.rollout import Datapoint
from mpg_launch.local.state import LocalState
from mpg_launch.model_registry import requests as registry_requests
from mpg_launch.settings.config import Instances, LaunchConfig, load_config
from tests.helpers.launch import STUB_ROLE

ENV = {"MPG_REGION": "eu-west-1", "MPG_ROLE_ARN": STUB_ROLE, "MPG_BUCKET": "my-bucket"}
# A Marketplace package lives in its seller's account, not the buyer's (111122223333 here).
MARKETPLACE = "arn:aws:sagemaker:eu-west-1:865070037744:model-package/some-vendor-model"


def dry_run(*argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    base = ["deploy", "--dry-run", "--training-job", "t1"]
    return main([*base, *argv], env=ENV, out=lines.append), lines


def requests_of(lines: list[str]) -> list[dict[str, object]]:
    decoder, text, found = json.JSONDecoder(), "\n".join(lines), []
    index = text.find("{")
    while index != -1:
        value, end = decoder.raw_decode(text, index)
        found.append(value)
        index = text.find("{", end)
    return found


@pytest.mark.parametrize(
    ("mode", "step", "shares"),
    [
        ("canary", 10, [0.1, 1.0]),
        ("linear", 25, [0.25, 0.5, 0.75, 1.0]),
        ("linear", 30, [0.3, 0.6, 0.9, 1.0]),
        ("all_at_once", None, [1.0]),
    ],
)
def test_steps_end_with_all_traffic_on_the_new_fleet(
    mode: str, step: int | None, shares: list[float]
) -> None:
    plan = Rollout(mode=mode, step_percent=step, wait_seconds=60, bake_seconds=100)
    assert plan.shares(4) == pytest.approx(shares)
    assert plan.total_wait_seconds(4) == 60 * (len(shares) - 1) + 100


@pytest.mark.parametrize("mode", ["canary", "linear", "all_at_once"])
def test_every_mode_builds_requests_botocore_accepts(mode: str) -> None:
    plan = Rollout(mode=mode, alarms=("mine",))
    update = rollout.update_request(plan, "mpg", "mpg-20250101-000000", 2)
    assert request_errors("sagemaker", "UpdateEndpoint", update) == []
    names = [
        a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ]
    assert names == [*rollout.alarm_names("mpg-20250101-000000"), "mine"]
    for alarm in rollout.alarm_requests(plan, "mpg", "mpg-20250101-000000"):
        assert request_errors("cloudwatch", "PutMetricAlarm", alarm) == []


def test_instance_steps_become_instance_count_sizes() -> None:
    plan = Rollout(mode="linear", step_instances=1)
    routing = rollout.update_request(plan, "mpg", "c", 4)["DeploymentConfig"][
        "BlueGreenUpdatePolicy"
    ]["TrafficRoutingConfiguration"]
    assert routing["LinearStepSize"] == {"Type": "INSTANCE_COUNT", "Value": 1}
    assert plan.shares(4) == [0.25, 0.5, 0.75, 1.0]


def test_the_config_table_is_read_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "mpg.toml"
    path.write_text('[rollout]\nmode = "linear"\nstep_percent = 20\nwait_seconds = 30\n')
    config = load_config(path, ENV)
    assert config.rollout == Rollout(mode="linear", step_percent=20, wait_seconds=30)
    code, lines = dry_run("--config", str(path), "--rollout-wait", "45", "--max-5xx-rate", "0.05")
    assert code == 0
    update = next(r for r in requests_of(lines) if r["operation"] == "UpdateEndpoint")
    routing = update["request"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][  # type: ignore[index]
        "TrafficRoutingConfiguration"
    ]
    assert routing == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 45,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
    }
    alarms = [r["request"] for r in requests_of(lines) if r["operation"] == "PutMetricAlarm"]
    assert [a["Threshold"] for a in alarms] == [0.05, 1_000_000]  # type: ignore[index]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "canary", "step_percent": 60}, "must be 1-50 for a canary"),
        ({"mode": "linear", "step_percent": 5}, "must be 10-50 for linear steps"),
        ({"mode": "canary", "step_percent": 10, "step_instances": 1}, "give one of them"),
        ({"mode": "bluegreen"}, "is not one of"),
        ({"mode": "canary", "wait_seconds": 4000}, "wait_seconds=4000 must be 0-3600"),
        ({"alarm_period_seconds": 30}, "must be a multiple of 60"),
        ({"mode": "linear", "create_alarms": False}, "nothing could roll the rollout back"),
        ({"max_execution_seconds": 100}, "must be 600-28800"),
        ({"mode": "canary", "surprise": 1}, "unknown key(s) ['surprise'] in [rollout]"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(values, "mpg.toml")
    assert message in str(caught.value)


def test_rollout_values_without_a_mode_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert dry_run("--rollout-wait", "30")[0] == 2
    assert "rollout settings without a rollout: add --rollout" in capsys.readouterr().err
    code, lines = dry_run()  # a plain deploy stays a plain one
    assert code == 0 and "UpdateEndpoint" not in "\n".join(lines)


def test_a_dry_run_prints_the_alarms_then_the_guarded_update() -> None:
    code, lines = dry_run("--rollout", "canary", "--rollout-bake", "60", "--rollback-alarm", "x")
    assert code == 0
    operations = [r["operation"] for r in requests_of(lines)]
    assert operations == [
        "CreateModel",
        "CreateEndpointConfig",
        "PutMetricAlarm",
        "PutMetricAlarm",
        "UpdateEndpoint",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--serverless"], "serverless endpoints have no instance fleet"),
        (["--max-instances", "3", "--target-invocations", "100"], "autoscaling would change"),
        (["--rollout-step-percent", "70"], "must be 1-50 for a canary"),
        (["--no-rollout-alarms"], "nothing could roll the rollout back"),
    ],
)
def test_what_guardrails_do_not_support_is_refused_before_sending(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = dry_run("--rollout", "canary", *argv)
    assert code == 2
    assert message in capsys.readouterr().err
    assert requests_of(lines) == []


@pytest.fixture
def config() -> LaunchConfig:
    return load_config(env=ENV)


def _problems(config: LaunchConfig, plan: Rollout, model: dict[str, object] | None = None) -> str:
    model = model or endpoint_requests.model_request(config, "m", "s3://my-bucket/model.tar.gz")
    endpoint_config = endpoint_requests.endpoint_config_request(config, "c", "m")
    current = endpoint_checks.CurrentEndpoint(
        "mpg", "old", tuple(endpoint_config["ProductionVariants"])
    )
    return "; ".join(
        endpoint_checks.guardrail_problems(config, plan, model, endpoint_config, current)
    )


def test_inf1_marketplace_and_oversized_instance_steps_are_refused(config: LaunchConfig) -> None:
    canary = Rollout(mode="canary")
    inf1 = replace(config, instances={"serving": Instances("ml.inf1.xlarge", 1)})
    assert "Inf1 (Inferentia) instances are excluded" in _problems(inf1, canary)
    package = registry_requests.model_package_model_request(config, "m", MARKETPLACE)
    assert "is in another account, as AWS Marketplace packages are" in _problems(
        config, canary, package
    )
    own = registry_requests.model_package_model_request(
        config, "m", "arn:aws:sagemaker:eu-west-1:111122223333:model-package/mpg-models/3"
    )
    assert _problems(config, canary, own) == ""
    two = replace(config, instances={"serving": Instances("ml.m5.large", 2)})
    assert "is 100% of the 2 instance(s)" in _problems(two, replace(canary, step_instances=2))
    assert _problems(two, replace(canary, step_instances=1)) == ""
    scaled = replace(
        config, autoscaling=Autoscaling(max_instances=3, target_invocations_per_instance=9)
    )
    assert "autoscaling would change in the same update" in _problems(scaled, canary)
    short = replace(canary, wait_seconds=600, bake_seconds=600, max_execution_seconds=900)
    assert "must be above the waits and the bake (1200 s" in _problems(config, short)


# The local engine's side.
def _point(config: str, status: int, latency_ms: float) -> Datapoint:
    return Datapoint(time=1.0, config=config, status=status, latency_us=latency_ms * 1000)


def test_local_alarms_evaluate_the_new_fleet_only() -> None:
    errors, latency = rollout.alarm_requests(Rollout(max_latency_p99_ms=50), "mpg", "new")
    points = [_point("old", 500, 5)] * 10 + [_point("new", 200, 5)] * 99
    assert local_rollout.evaluate(errors, points, "mpg").state == "OK"  # old 5xx do not count
    assert local_rollout.evaluate(latency, points, "mpg").state == "OK"
    one = local_rollout.evaluate(errors, [*points, _point("new", 500, 5)], "mpg")
    assert (one.state, one.text) == (
        "OK",
        "Invocation5XXErrors Average 0.01 not > 0.01 over 100 requests",
    )
    two = local_rollout.evaluate(errors, [*points, *[_point("new", 500, 5)] * 2], "mpg")
    assert (two.state, two.text) == (
        "ALARM",
        "Invocation5XXErrors Average 0.0198 > 0.01 over 101 requests",
    )
    slow = [*points, _point("new", 200, 80), _point("new", 200, 90)]
    result = local_rollout.evaluate(latency, slow, "mpg")
    assert (result.state, result.text) == (
        "ALARM",
        "ModelLatency p99 8e+04 > 5e+04 over 101 requests",
    )
    assert local_rollout.evaluate(errors, [], "mpg").state == "OK"  # missing data: not breaching


def test_nearest_rank_percentile_and_plain_statistics() -> None:
    values = [float(v) for v in range(1, 101)]
    assert local_rollout.statistic(values, {"ExtendedStatistic": "p99"}) == 99.0
    assert local_rollout.statistic(values, {"ExtendedStatistic": "p50"}) == 50.0
    assert local_rollout.statistic(values, {"Statistic": "Maximum"}) == 100.0
    assert local_rollout.statistic(values, {"Statistic": "Sum"}) == 5050.0


def test_the_local_plan_is_read_back_from_the_request() -> None:
    plan = Rollout(mode="linear", step_percent=50, wait_seconds=3, bake_seconds=2)
    update = rollout.update_request(plan, "mpg", "c", 1)
    read = local_rollout.routing_plan(update["DeploymentConfig"])
    assert read.shares(1) == [0.5, 1.0]
    assert (read.wait_seconds, read.bake_seconds) == (3, 2)


def test_local_alarms_are_stored_and_checked_like_cloudwatchs(tmp_path: Path) -> None:
    cloudwatch = LocalCloudWatch(LocalState(tmp_path))
    for alarm in rollout.alarm_requests(Rollout(), "mpg", "c"):
        cloudwatch.put_metric_alarm(**alarm)
    endpoint_checks.check_alarms_exist(cloudwatch, rollout.alarm_names("c"))
    with pytest.raises(ConfigError, match=r"\['other'\] do not exist"):
        endpoint_checks.check_alarms_exist(cloudwatch, ["c-5xx-rate", "other"])


class FakeTime:
    """A clock the rollout's waits advance; each wait, the router's traffic of that moment is
    recorded as the local InvokeEndpoint records it."""

    def __init__(self, state: LocalState, status: int, interrupt_at: float | None = None) -> None:
        self.now, self.state, self.status, self.interrupt_at = 0.0, state, status, interrupt_at

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            raise KeyboardInterrupt
        record = self.state.get("endpoints", "mpg", "test")
        share = record["Rollout"]["NewShare"]
        for config, status in ((record["Rollout"]["NewConfig"], self.status), ("old", 200)):
            if share > 0 or config == "old":
                point = Datapoint(time=time.time(), config=config, status=status, latency_us=900)
                local_rollout.record_point(self.state, "mpg", point)


def _run_local(
    tmp_path: Path, status: int, interrupt_at: float | None = None
) -> tuple[dict, list[str]]:
    state = LocalState(tmp_path)
    plan = Rollout(mode="linear", step_percent=50, wait_seconds=2, bake_seconds=2)
    cloudwatch = LocalCloudWatch(state)
    for alarm in rollout.alarm_requests(plan, "mpg", "new"):
        cloudwatch.put_metric_alarm(**alarm)
    record = {"EndpointName": "mpg", "EndpointConfigName": "old", "Instances": [[]]}
    state.put("endpoints", "mpg", record)
    fake, lines = FakeTime(state, status, interrupt_at), []
    update = rollout.update_request(plan, "mpg", "new", 1)
    final = local_rollout.run(
        state,
        record,
        [[]],
        "new",
        update["DeploymentConfig"],
        99,
        lines.append,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert final == state.get("endpoints", "mpg", "test")
    return final, lines


def test_local_linear_rollout_completes_when_the_alarms_stay_ok(tmp_path: Path) -> None:
    final, lines = _run_local(tmp_path, 200)
    assert [line[10:] for line in lines if "% of traffic" in line] == [
        "50% of traffic to new, 50% to old; wait 1 2 s",
        "100% of traffic to new, 0% to old; bake 2 s",
    ]
    assert (final["EndpointStatus"], final["EndpointConfigName"]) == ("InService", "new")
    assert "Rollout" not in final and "FailureReason" not in final
    assert final["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TerminationWaitInSeconds"] == 2


def test_local_rollout_rolls_back_on_the_new_fleets_5xx(tmp_path: Path) -> None:
    final, lines = _run_local(tmp_path, 503)
    assert (final["EndpointStatus"], final["EndpointConfigName"]) == ("InService", "old")
    assert final["FailureReason"].startswith(
        "Rolled back to old: alarm new-5xx-rate went into ALARM during the wait 1 of the linear"
    )
    assert "Rollout" not in final
    assert lines[-1].endswith("rolled back: new fleet removed, mpg InService on old")


def test_an_interrupted_local_rollout_leaves_the_old_fleet_serving(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _run_local(tmp_path, 200, interrupt_at=1.0)
    record = LocalState(tmp_path).get("endpoints", "mpg", "test")
    assert (record["EndpointStatus"], record["EndpointConfigName"]) == ("InService", "old")
    assert record["FailureReason"] == "Update interrupted" and "Rollout" not in record


def test_deploy_help_lists_the_rollout_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deploy", "--help"], env=ENV)
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "--rollout {all-at-once,canary,linear}" in text
    assert "canary/linear step, % of capacity" in text
