"""``delete``'s plan (pure) for what the kit records rather than tags: the scaling policies an
endpoint config records, the monitors an endpoint records; and the two rules behind them (a
record's tag, and whether a schedule starts the kit's monitoring job of an endpoint)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from mpg_launch.endpoint.delete import (
    MONITORS,
    Config,
    Observed,
    kit_tags,
    plan,
    record_tags,
)
from mpg_launch.errors import ConfigError
from mpg_launch.monitor import requests as monitor_requests
from mpg_launch.monitor.settings import MonitorSettings
from mpg_launch.settings.config import LaunchConfig

TARGET = "scalable target endpoint/ep/variant/AllTraffic"


def tags(endpoint: str, policies: tuple[str, ...] = ()) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in kit_tags(endpoint, policies=policies)}


def seen(
    policies_recorded: tuple[str, ...],
    on_variant: tuple[str, ...],
    schedules: Mapping[str, bool] | None = None,
    monitor_alarms: Mapping[str, dict[str, str]] | None = None,
) -> Observed:
    serving = Config("ep-c", ("ep-m",), tags("ep", policies_recorded))
    return Observed(
        "ep",
        exists=True,
        tags=tags("ep"),
        current="ep-c",
        configs=(serving,),
        model_tags={"ep-m": tags("ep")},
        scalable_target=bool(on_variant),
        scaling_policies=on_variant,
        schedules=schedules or {},
        monitor_alarms=monitor_alarms or {},
    )


def test_the_recorded_policies_and_the_target_go() -> None:
    planned = plan(seen(("p1", "p2"), ("p1", "p2")))
    assert planned.deletes()[:3] == ["scaling policy p1", "scaling policy p2", TARGET]
    assert planned.kept == ()


def test_a_policy_not_recorded_keeps_itself_and_the_target() -> None:
    planned = plan(seen(("p1",), ("p1", "theirs")))
    assert (planned.scaling_policies, planned.scalable_target) == (("p1",), False)
    assert planned.kept == (
        "scaling policy theirs: not created by mpg-launch for ep",
        f"{TARGET}: scaling policies not mpg-launch's are on it (theirs)",
    )


def test_nothing_recorded_keeps_the_whole_registration() -> None:
    planned = plan(seen((), ("p1",)))
    assert (planned.scaling_policies, planned.scalable_target) == ((), False)
    assert f"{TARGET}: not registered by mpg-launch for ep" in planned.kept


def test_a_forced_delete_takes_the_whole_registration() -> None:
    foreign = Observed(
        "ep",
        exists=True,
        current="ep-c",
        configs=(Config("ep-c", ("ep-m",), {}),),
        scalable_target=True,
        scaling_policies=("theirs",),
    )
    planned = plan(foreign, force=True)
    assert (planned.scaling_policies, planned.scalable_target) == (("theirs",), True)


def test_monitor_schedules_and_alarms_by_their_checks() -> None:
    planned = plan(
        seen(
            (),
            (),
            schedules={"m-ep": True, "other-ep": False},
            monitor_alarms={"m-ep-a": tags("ep"), "m-ep-b": tags("ep2"), "m-ep-c": {}},
        )
    )
    assert (planned.schedules, planned.monitor_alarms) == (("m-ep",), ("m-ep-a",))
    assert planned.deletes()[0] == "EventBridge schedule m-ep"
    assert planned.deletes()[-1] == "CloudWatch alarm m-ep-a"
    assert planned.kept == (
        "CloudWatch alarm m-ep-b: its tags do not say mpg-launch made it here",
        "CloudWatch alarm m-ep-c: its tags do not say mpg-launch made it here",
        "EventBridge schedule other-ep: it does not start mpg-launch's monitoring job of ep",
    )


def test_a_record_adds_a_name_once_and_stays_within_a_tag_value() -> None:
    assert record_tags({}, MONITORS, "m") == [{"Key": MONITORS, "Value": "m"}]
    assert record_tags({MONITORS: "z a"}, MONITORS, "m") == [{"Key": MONITORS, "Value": "a m z"}]
    assert record_tags({MONITORS: "a m"}, MONITORS, "m") is None
    full = " ".join(f"{i:039d}" for i in range(6))  # 239 characters
    with pytest.raises(ConfigError, match="over 256"):
        record_tags({MONITORS: full}, MONITORS, "m" * 40)


def test_a_schedule_is_the_kits_only_when_it_starts_its_job_of_that_endpoint(
    config: LaunchConfig,
) -> None:
    settings = MonitorSettings(monitor_name="m")
    role = "arn:aws:iam::111122223333:role/scheduler"
    request = monitor_requests.schedule_request(config, settings, "ep", "s3://b/m.tar.gz", role)
    assert monitor_requests.watched(request) == ("ep", "m")
    other = {**request, "Target": {**request["Target"], "Arn": "arn:aws:sqs:eu-west-1:1:q"}}
    assert monitor_requests.watched(other) is None
    job = json.loads(request["Target"]["Input"])
    job["AppSpecification"]["ContainerEntrypoint"] = ["train"]
    elsewhere = {**request, "Target": {**request["Target"], "Input": json.dumps(job)}}
    assert monitor_requests.watched(elsewhere) is None
    garbled = {**request, "Target": {**request["Target"], "Input": "not json"}}
    assert monitor_requests.watched(garbled) is None
