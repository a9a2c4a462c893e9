"""What deploy's update removes of an autoscaled variant (endpoint.run.plan_pause): the kit's
part, by delete's ownership rules, or a refusal when SageMaker would need the rest gone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mpg_launch.aws.names import scalable_variant
from mpg_launch.endpoint.delete import kit_tags
from mpg_launch.endpoint.run import plan_pause
from mpg_launch.errors import ConfigError

TARGET = ("RegisterScalableTarget", scalable_variant("ep") | {"MinCapacity": 1, "MaxCapacity": 2})
KIT = "mpg-invocations-per-instance"


def policy(name: str) -> tuple[str, dict[str, Any]]:
    return ("PutScalingPolicy", {"PolicyName": name, **scalable_variant("ep")})


def tags(*recorded: str, endpoint: str = "ep") -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in kit_tags(endpoint, policies=recorded)}


SAME = ("ml.m5.large", "ml.m5.large")
MOVED = ("ml.m5.large", "ml.c5.xlarge")


def test_the_kits_registration_goes_whole_and_comes_back_on_failure() -> None:
    pause = plan_pause("ep", [TARGET, policy(KIT)], tags(KIT), MOVED)
    assert (pause.policies, pause.target, pause.kept) == ((KIT,), True, ())
    assert [s.operation for s in pause.restore] == ["RegisterScalableTarget", "PutScalingPolicy"]


def test_a_foreign_policy_stays_when_the_instance_type_stays() -> None:
    pause = plan_pause("ep", [TARGET, policy(KIT), policy("team")], tags(KIT), SAME)
    assert (pause.policies, pause.target) == ((KIT,), False)
    assert [s.request["PolicyName"] for s in pause.restore] == [KIT]
    assert "scaling policy team: not created by mpg-launch for ep" in pause.kept


@pytest.mark.parametrize(
    ("registration", "config_tags", "why"),
    [
        ([TARGET, policy(KIT), policy("team")], tags(KIT), "are on it (team)"),
        ([TARGET], tags(), "mpg-launch did not register it"),
        # A record on another endpoint's config is not this one's: the policy is not the kit's.
        ([TARGET, policy(KIT)], tags(KIT, endpoint="other"), f"are on it ({KIT})"),
    ],
)
def test_a_new_instance_type_is_refused_when_the_target_must_stay(
    registration: list[tuple[str, dict[str, Any]]], config_tags: dict[str, str], why: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape("from ml.m5.large to ml.c5.xlarge")) as refused:
        plan_pause("ep", registration, config_tags, MOVED)
    assert why in str(refused.value)
    assert "\n" not in str(refused.value)


def test_nothing_registered_is_nothing_to_pause() -> None:
    assert plan_pause("ep", [], tags(KIT), MOVED).registered is False
