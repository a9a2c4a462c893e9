"""A guarded UpdateEndpoint on the local engine: the old and the new containers side by side,
traffic shifted as the request's ``DeploymentConfig`` says, the rollback alarms evaluated
against what the new containers answer, then the update completed or rolled back.

* **Router.** While a rollout runs, the endpoint record carries the new fleet and its share of
  traffic; :func:`invoke` (what the local InvokeEndpoint calls, from any process) sends each
  request to the new fleet with that probability, and appends one line per request to the
  endpoint's metrics file: the endpoint config that answered, the status and the latency.
* **Alarms.** Each rollback alarm (PutMetricAlarm records of :mod:`.cloudwatch`) is evaluated
  on the SageMaker metrics it names (``Invocation5XXErrors``, ``Invocation4XXErrors``,
  ``Invocations``, ``ModelLatency``) with its dimensions (``EndpointConfigName`` selects one
  fleet), statistic (``Average``, ``Sum``, ``SampleCount``, ``Minimum``, ``Maximum`` or an
  extended ``pNN``), threshold and comparison. CloudWatch evaluates whole periods of a minute
  or more; locally the waits are seconds, so an alarm is evaluated, every quarter second, over
  the requests since the current wait (or the bake) began. No requests is not a breach
  (``TreatMissingData: notBreaching``, SageMaker rolls back on ``ALARM`` only).
* **Outcome**, recorded as DescribeEndpoint shows it: all good, the old containers are removed
  and the endpoint is ``InService`` on the new config; an alarm in ``ALARM``, the new share
  goes to 0, the new containers are removed and the endpoint is ``InService`` on the old config
  with a ``FailureReason`` naming the alarm, or ``UpdateRollbackFailed`` if the old containers
  no longer answer ``/ping``.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.local.engine import serving
from mpg_launch.local.state import ALARMS, LocalState

Out = Callable[[str], None]
ROLLOUT_KEY = "Rollout"  # in the endpoint record while a rollout runs
POLL_SECONDS = 0.25
# SageMaker's ceiling for MaximumExecutionTimeoutInSeconds, used when a request gives none.
MAX_EXECUTION_SECONDS = 28800
# The SageMaker metrics the local router records, per request.
METRICS = ("Invocation5XXErrors", "Invocation4XXErrors", "Invocations", "ModelLatency")
_STATUS = re.compile(r"\((\d{3})\)")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_SYMBOL = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}


@dataclass(frozen=True)
class Datapoint:
    """One request the local router sent: when, to which config, and how it went."""

    time: float  # epoch seconds
    config: str
    status: int
    latency_us: float


def metrics_path(state: LocalState, endpoint: str) -> Path:
    return state.root / "metrics" / f"{endpoint}.jsonl"


def record_point(state: LocalState, endpoint: str, point: Datapoint) -> None:
    path = metrics_path(state, endpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(point.__dict__) + "\n"
    with path.open("a", encoding="utf-8") as f:  # one short append: whole lines, any process
        f.write(line)


def read_points(state: LocalState, endpoint: str, since: float) -> list[Datapoint]:
    path = metrics_path(state, endpoint)
    if not path.is_file():
        return []
    points = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            point = Datapoint(**json.loads(line))
        except (ValueError, TypeError):
            continue  # a line being written right now
        if point.time >= since:
            points.append(point)
    return points


# The router: what the local InvokeEndpoint runs.
def invoke(
    state: LocalState,
    record: Mapping[str, Any],
    body: bytes,
    content_type: str,
    accept: str,
    rng: random.Random | None = None,
) -> serving.Reply:
    """Send a request to the old or (with the rollout's share) the new fleet; during a
    rollout, record what happened for the alarms."""
    rng = rng or random.Random()  # noqa: S311 - traffic splitting, not security
    rollout = record.get(ROLLOUT_KEY)
    instances, config = record["Instances"], record["EndpointConfigName"]
    if rollout and rng.random() < rollout["NewShare"]:
        instances, config = rollout["NewInstances"], rollout["NewConfig"]
    instance = rng.choice(instances)
    start = time.perf_counter()
    status = 200
    try:
        return serving.invoke_chain([c["port"] for c in instance], body, content_type, accept)
    except ClientError as exc:
        found = _STATUS.search(str(exc))
        status = int(found.group(1)) if found else 504  # timed out or unreachable
        raise
    finally:
        if rollout:
            latency = (time.perf_counter() - start) * 1e6
            point = Datapoint(time.time(), config, status, latency)
            record_point(state, record["EndpointName"], point)


# Alarms.
@dataclass(frozen=True)
class Evaluation:
    alarm: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    text: str


def _value(metric: str, point: Datapoint) -> float | None:
    if metric == "Invocation5XXErrors":
        return 1.0 if point.status >= 500 else 0.0
    if metric == "Invocation4XXErrors":
        return 1.0 if 400 <= point.status < 500 else 0.0
    if metric == "Invocations":
        return 1.0
    if metric == "ModelLatency":
        return point.latency_us if point.status < 500 else None
    return None


def statistic(values: Sequence[float], alarm: Mapping[str, Any]) -> float:
    """CloudWatch's statistic of ``values`` (not empty) as the alarm names it."""
    extended = alarm.get("ExtendedStatistic")
    if extended:
        match = re.fullmatch(r"p(\d+(?:\.\d+)?)", extended)
        if not match:
            raise ValueError(f"extended statistic {extended!r} is not evaluated locally")
        ordered = sorted(values)
        rank = math.ceil(float(match.group(1)) / 100 * len(ordered))  # nearest rank
        return ordered[max(rank, 1) - 1]
    statistics: dict[str, Callable[[Sequence[float]], float]] = {
        "Average": lambda v: sum(v) / len(v),
        "Sum": lambda v: float(sum(v)),
        "SampleCount": lambda v: float(len(v)),
        "Minimum": min,
        "Maximum": max,
    }
    return statistics[str(alarm.get("Statistic", "Average"))](values)


def evaluate(alarm: Mapping[str, Any], points: Sequence[Datapoint], endpoint: str) -> Evaluation:
    """The alarm's state over ``points`` (the requests of the current wait)."""
    name = str(alarm["AlarmName"])
    dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    metric = str(alarm.get("MetricName"))
    if alarm.get("Namespace") != "AWS/SageMaker" or metric not in METRICS:
        return Evaluation(name, "INSUFFICIENT_DATA", f"{metric} is not recorded locally")
    if dims.get("EndpointName", endpoint) != endpoint:
        return Evaluation(name, "INSUFFICIENT_DATA", "watches another endpoint")
    fleet = dims.get("EndpointConfigName")
    values = [
        v
        for p in points
        if (fleet is None or p.config == fleet) and (v := _value(metric, p)) is not None
    ]
    if not values:
        return Evaluation(name, "OK", f"no {metric} data yet (not breaching)")
    value = statistic(values, alarm)
    threshold = float(alarm["Threshold"])
    operator = str(alarm.get("ComparisonOperator", "GreaterThanThreshold"))
    label = alarm.get("ExtendedStatistic") or alarm.get("Statistic", "Average")
    breached = _COMPARE[operator](value, threshold)
    count = f"{len(values)} request" + ("s" if len(values) != 1 else "")
    relation = _SYMBOL[operator] if breached else f"not {_SYMBOL[operator]}"
    text = f"{metric} {label} {value:.4g} {relation} {threshold:.4g} over {count}"
    return Evaluation(name, "ALARM" if breached else "OK", text)


@dataclass(frozen=True)
class TrafficPlan:
    """An UpdateEndpoint's BlueGreenUpdatePolicy, read from the request the way SageMaker reads
    it. The double does its own arithmetic (not the launcher's ``Rollout``), so a mistake in
    the launcher's traffic steps shows up here instead of being shared."""

    mode: str  # the request's TrafficRoutingConfiguration Type, lower case
    step_type: str | None  # CanarySize / LinearStepSize Type: CAPACITY_PERCENT, INSTANCE_COUNT
    step_value: int
    wait_seconds: int
    bake_seconds: int
    max_execution_seconds: int

    def step_share(self, instance_count: int) -> float:
        """The canary, or each linear step, as a share of the new fleet's capacity."""
        if self.step_type == "INSTANCE_COUNT":
            return self.step_value / max(instance_count, 1)
        return self.step_value / 100

    def shares(self, instance_count: int) -> list[float]:
        """The new fleet's share of the traffic after each shift, ending at all of it."""
        if self.mode == "all_at_once":
            return [1.0]
        step = self.step_share(instance_count)
        if self.mode == "canary":
            return [step, 1.0]
        found: list[float] = []
        while not found or found[-1] < 1.0:
            # Multiplied, not summed: 0.1 + 0.1 + 0.1 ... never lands on 1.0 exactly.
            share = step * (len(found) + 1)
            found.append(1.0 if share > 1.0 - 1e-9 else share)
        return found


def routing_plan(deployment_config: Mapping[str, Any]) -> TrafficPlan:
    """The request's DeploymentConfig as a :class:`TrafficPlan`."""
    policy = deployment_config["BlueGreenUpdatePolicy"]
    routing = policy["TrafficRoutingConfiguration"]
    size = routing.get("CanarySize") or routing.get("LinearStepSize") or {}
    return TrafficPlan(
        mode=str(routing["Type"]).lower(),
        step_type=size.get("Type"),
        step_value=int(size.get("Value", 100)),
        wait_seconds=int(routing.get("WaitIntervalInSeconds", 0)),
        bake_seconds=int(policy.get("TerminationWaitInSeconds", 0)),
        max_execution_seconds=int(
            policy.get("MaximumExecutionTimeoutInSeconds", MAX_EXECUTION_SECONDS)
        ),
    )


def _summary(points: Sequence[Datapoint], config: str) -> str:
    mine = [p for p in points if p.config == config]
    if not mine:
        return "no requests"
    errors = sum(p.status >= 500 for p in mine)
    latencies = [p.latency_us for p in mine if p.status < 500]
    p99 = statistic(latencies, {"ExtendedStatistic": "p99"}) / 1000 if latencies else None
    count = f"{len(mine)} request" + ("s" if len(mine) != 1 else "")
    latency = f"p99 {p99:.1f} ms" if p99 is not None else "no answered requests"
    return f"{count}, 5xx {errors / len(mine):.0%}, {latency}"


def _healthy(instances: Sequence[Sequence[Mapping[str, Any]]]) -> bool:
    for instance in instances:
        try:
            serving.wait_healthy([c["name"] for c in instance], [c["port"] for c in instance], 10)
        except Exception:  # any failure to answer is "not healthy"
            return False
    return True


def run(
    state: LocalState,
    record: dict[str, Any],
    new_instances: list[list[dict[str, Any]]],
    new_config: str,
    deployment_config: Mapping[str, Any],
    new_max_body: int,
    out: Out = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Shift, watch, then complete or roll back; returns the final endpoint record."""
    endpoint, old_config = record["EndpointName"], record["EndpointConfigName"]
    plan = routing_plan(deployment_config)
    alarm_names = [
        a["AlarmName"]
        for a in deployment_config.get("AutoRollbackConfiguration", {}).get("Alarms", [])
    ]
    alarms = [
        state.get(ALARMS, n, "DescribeAlarms") for n in alarm_names if state.exists(ALARMS, n)
    ]
    start = clock()
    deadline = start + float(plan.max_execution_seconds)

    def say(text: str) -> None:
        out(f"[{clock() - start:6.1f}s] {text}")

    for name in sorted(set(alarm_names) - {a["AlarmName"] for a in alarms}):
        say(f"alarm {name} does not exist locally: it cannot roll back")

    def shift(share: float) -> None:
        record[ROLLOUT_KEY] = {
            "NewConfig": new_config,
            "NewInstances": new_instances,
            "NewShare": share,
        }
        state.put("endpoints", endpoint, record)

    def watch(seconds: float, phase: str) -> Evaluation | None:
        """Evaluate the alarms until ``seconds`` pass; the first in ALARM, or None."""
        since = time.time()
        until = clock() + seconds
        while True:
            points = read_points(state, endpoint, since)
            for alarm in alarms:
                result = evaluate(alarm, points, endpoint)
                if result.state == "ALARM":
                    say(f"{phase}: new fleet {_summary(points, new_config)}")
                    return result
            if clock() >= deadline:
                return Evaluation("MaximumExecutionTimeoutInSeconds", "ALARM", "timed out")
            if clock() >= until:
                say(f"{phase} over: new fleet {_summary(points, new_config)}; alarms OK")
                return None
            sleep(POLL_SECONDS)

    record["EndpointStatus"] = "Updating"
    record.pop("FailureReason", None)
    shares = plan.shares(len(new_instances))
    say(
        f"{plan.mode} update of {endpoint}: {old_config} -> {new_config}, new fleet ready; "
        f"watching {', '.join(alarm_names) or 'no alarms'}"
    )
    metrics_path(state, endpoint).unlink(missing_ok=True)
    tripped: Evaluation | None = None
    phase = ""
    try:
        for index, share in enumerate(shares):
            shift(share)
            last = index == len(shares) - 1
            if last:
                phase, seconds = "bake", float(plan.bake_seconds)
            else:
                phase, seconds = f"wait {index + 1}", float(plan.wait_seconds)
            say(
                f"{share:.0%} of traffic to {new_config}, {1 - share:.0%} to {old_config}; "
                f"{phase} {seconds:.0f} s"
            )
            tripped = watch(seconds, phase)
            if tripped:
                break
    except BaseException:  # Ctrl-C: the old fleet takes all traffic again, the new one goes
        _roll_back(state, record, new_instances)
        record.update(EndpointStatus="InService", FailureReason="Update interrupted")
        state.put("endpoints", endpoint, record)
        raise
    if tripped is None:
        serving.put_in_service(record, new_instances, new_config, new_max_body)
        record.pop(ROLLOUT_KEY, None)
        record["LastDeploymentConfig"] = dict(deployment_config)
        state.put("endpoints", endpoint, record)
        metrics_path(state, endpoint).unlink(missing_ok=True)
        say(f"update complete: old fleet removed, {endpoint} InService on {new_config}")
        return record
    say(f"alarm {tripped.alarm} in ALARM during {phase}: {tripped.text}; rolling back")
    _roll_back(state, record, new_instances)
    reason = (
        f"Rolled back to {old_config}: alarm {tripped.alarm} went into ALARM during the "
        f"{phase} of the {plan.mode} update to {new_config} ({tripped.text})"
    )
    if _healthy(record.get("Instances", [])):
        record.update(EndpointStatus="InService", FailureReason=reason[:1024])
        say(f"rolled back: new fleet removed, {endpoint} InService on {old_config}")
    else:
        record.update(
            EndpointStatus="UpdateRollbackFailed",
            FailureReason=(reason + "; the old fleet no longer passes /ping")[:1024],
        )
        say(f"rollback failed: the old fleet of {endpoint} does not answer /ping")
    state.put("endpoints", endpoint, record)
    metrics_path(state, endpoint).unlink(missing_ok=True)
    return record


def _roll_back(
    state: LocalState, record: dict[str, Any], new_instances: list[list[dict[str, Any]]]
) -> None:
    """Every request to the old fleet (recorded first), then the new containers removed."""
    if ROLLOUT_KEY in record:
        record[ROLLOUT_KEY]["NewShare"] = 0.0
        state.put("endpoints", record["EndpointName"], record)
    for instance in new_instances:
        serving.stop_containers([c["name"] for c in instance])
    record.pop(ROLLOUT_KEY, None)
