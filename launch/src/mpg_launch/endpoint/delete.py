"""``delete`` removes only what the kit created, and nothing another endpoint still uses.

At create time deploy tags every Model, EndpointConfig and Endpoint (and every alarm) it
makes with :data:`MANAGED` and :data:`ENDPOINT` (:func:`owned`); an endpoint config also
records, under :data:`ALARMS`, the names of the rollout alarms made for it, and under
:data:`SCALING` the scaling policies deploy put on the variant (Application Auto Scaling
keeps no tags on a policy). ``mpg-launch monitor`` tags its alarms the same way and records
its name on the endpoint, under :data:`MONITORS` (:func:`record_tags`). ``delete`` then works
in three steps, like every command:

* :func:`observe` reads: the endpoint and its tags, the kit's configs and models of that
  endpoint (found by their tags), every other endpoint's config and models (in use: kept),
  the alarms by their recorded names (and the async wake alarm, whose name is derived) with
  their own tags, the variant's autoscaling (its scalable target and policies), and for
  each recorded monitor its schedule (by its derived name) and its alarms (by their prefix)
  with their tags;
* :func:`plan` is pure: what it deletes, what it keeps and why, or why it refuses;
* :func:`apply` sends the deletes, in the order SageMaker and Application Auto Scaling ask,
  the monitor's schedules first (a schedule left behind starts jobs against nothing).

An endpoint the kit did not create is refused (nothing sent), unless forced; a forced delete
still keeps what another endpoint uses, and deletes only the alarms whose tags say they are
the kit's for this endpoint. Alarms are never matched by pattern alone: a monitor's alarms
are listed by their prefix, and only those whose tags say they are the kit's for this endpoint
go. EventBridge Scheduler keeps no tags on a schedule: a monitor's schedule goes when the
endpoint records the monitor and the schedule starts the kit's monitoring job of this
endpoint. Of the variant's
autoscaling, only the policies the serving config records go, and the scalable target with
them when no other policy is on it (deregistering a target deletes its policies); a forced
delete removes the variant's whole registration, as it does the config it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpg_launch.aws import names
from mpg_launch.aws.clients import Clients, error_code
from mpg_launch.aws.waiting import Out, wait_for_endpoint_deleted
from mpg_launch.endpoint import async_requests
from mpg_launch.endpoint import scaling as autoscaling
from mpg_launch.errors import ConfigError
from mpg_launch.monitor import requests as monitor_requests

MANAGED = "mpg-launch:managed"
ENDPOINT = "mpg-launch:endpoint"
ALARMS = "mpg-launch:alarms"  # on an endpoint config: its rollout alarms, space-separated
# On an endpoint config: the scaling policies deploy put on the variant, space-separated
# (their presence also says the kit registered the scalable target).
SCALING = "mpg-launch:scaling-policies"
# On an endpoint: the monitors `mpg-launch monitor` made for it, space-separated.
MONITORS = "mpg-launch:monitors"
_OURS = (MANAGED, ENDPOINT, ALARMS, SCALING, MONITORS)
TAG_VALUE_LIMIT = 256  # characters, SageMaker's and CloudWatch's
_MISSING = ("ValidationException", "ResourceNotFound", "ResourceNotFoundException")
Tags = dict[str, str]


def kit_tags(
    endpoint: str, alarms: Sequence[str] = (), policies: Sequence[str] = ()
) -> list[dict[str, str]]:
    tags = [{"Key": MANAGED, "Value": "true"}, {"Key": ENDPOINT, "Value": endpoint}]
    if alarms:
        tags.append({"Key": ALARMS, "Value": " ".join(alarms)})
    if policies:
        tags.append({"Key": SCALING, "Value": " ".join(policies)})
    return tags


def owned(
    request: dict[str, Any],
    endpoint: str,
    alarms: Sequence[str] = (),
    policies: Sequence[str] = (),
) -> dict[str, Any]:
    """``request`` (a Create* or PutMetricAlarm) with the kit's tags added to the user's (a
    user tag under one of the kit's keys gives way: the kit's say who made it); an endpoint
    config's also record its rollout ``alarms`` and the scaling ``policies`` put with it."""
    users = [t for t in request.get("Tags", []) if t["Key"] not in _OURS]
    return {**request, "Tags": users + kit_tags(endpoint, alarms, policies)}


def is_ours(tags: Mapping[str, str], endpoint: str) -> bool:
    return tags.get(MANAGED) == "true" and tags.get(ENDPOINT) == endpoint


def record_tags(tags: Mapping[str, str], key: str, name: str) -> list[dict[str, str]] | None:
    """The AddTags ``Tags`` that add ``name`` to the record under ``key`` of a resource whose
    tags are ``tags``; None when it is recorded already."""
    found = tags.get(key, "").split()
    if name in found:
        return None
    value = " ".join(sorted([*found, name]))
    if len(value) > TAG_VALUE_LIMIT:
        raise ConfigError(
            f"the {key} tag would be {len(value)} characters, over {TAG_VALUE_LIMIT}: "
            f"{value!r}; delete a monitor you no longer use (mpg-launch monitor delete "
            "--monitor-name NAME), then remove its name from that tag"
        )
    return [{"Key": key, "Value": value}]


def forget_tags(tags: Mapping[str, str], key: str, name: str) -> str | None:
    """What the record under ``key`` of a resource whose tags are ``tags`` holds without
    ``name`` ('' when nothing is left); None when ``name`` is not recorded."""
    found = tags.get(key, "").split()
    if name not in found:
        return None
    return " ".join(n for n in found if n != name)


@dataclass(frozen=True)
class Config:
    """An endpoint config seen by delete: its models and tags."""

    name: str
    models: tuple[str, ...]
    tags: Tags


@dataclass(frozen=True)
class Observed:
    endpoint: str
    exists: bool
    tags: Tags = field(default_factory=dict)
    current: str | None = None  # the config it serves
    configs: tuple[Config, ...] = ()  # the current one and the kit's earlier ones
    model_tags: Mapping[str, Tags] = field(default_factory=dict)
    # config names, and model names -> the other endpoints that use them
    configs_used_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    models_used_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    alarms: Mapping[str, Tags] = field(default_factory=dict)  # recorded names that exist
    scalable_target: bool = False  # the variant is registered with Application Auto Scaling
    scaling_policies: tuple[str, ...] = ()  # every policy on the variant
    # The recorded monitors' schedules that exist: name -> starts the kit's job of this endpoint
    schedules: Mapping[str, bool] = field(default_factory=dict)
    monitor_alarms: Mapping[str, Tags] = field(default_factory=dict)  # by the monitors' prefixes


@dataclass(frozen=True)
class Plan:
    endpoint: str
    delete_endpoint: bool = False
    scaling_policies: tuple[str, ...] = ()
    scalable_target: bool = False  # deregistered after the policies
    schedules: tuple[str, ...] = ()  # the monitors' EventBridge schedules
    monitor_alarms: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # "model X: endpoint B uses it"
    refused: str | None = None
    forced: bool = False  # deletes an endpoint the kit did not create

    def lines(self) -> list[str]:
        """What it will delete, then what it keeps and why."""
        found = [f"will delete {item}" for item in self.deletes()]
        return found + [f"keeps {item}" for item in self.kept]

    def deletes(self) -> list[str]:
        endpoint = [f"endpoint {self.endpoint}"] if self.delete_endpoint else []
        target = [_target_text(self.endpoint)] if self.scalable_target else []
        return [
            *(f"EventBridge schedule {s}" for s in self.schedules),
            *(f"scaling policy {p}" for p in self.scaling_policies),
            *target,
            *endpoint,
            *(f"endpoint config {c}" for c in self.configs),
            *(f"model {m}" for m in self.models),
            *(f"CloudWatch alarm {a}" for a in self.alarms),
            *(f"CloudWatch alarm {a}" for a in self.monitor_alarms),
        ]


def _pages(call: Callable[..., dict[str, Any]], key: str, **request: Any) -> Iterator[Any]:
    """Every item of a List* call, following NextToken (the local double answers in one)."""
    while True:
        answer = call(**request)
        yield from answer.get(key, [])
        token = answer.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def resource_tags(sagemaker: Any, arn: str) -> Tags:
    return {t["Key"]: t["Value"] for t in _pages(sagemaker.list_tags, "Tags", ResourceArn=arn)}


def _describe_config(sagemaker: Any, name: str) -> tuple[str, tuple[str, ...]] | None:
    """(ARN, model names) of an endpoint config; None when it is gone."""
    try:
        found = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    except Exception as exc:
        if error_code(exc) in _MISSING:
            return None
        raise
    models = tuple(v["ModelName"] for v in found["ProductionVariants"])
    return str(found["EndpointConfigArn"]), models


Users = dict[str, tuple[str, ...]]


def _in_use(sagemaker: Any, endpoint: str) -> tuple[Users, Users]:
    """The configs, and the models, that other endpoints serve (or are being updated onto):
    name -> those endpoints. Two maps, as a model and a config may share a name."""
    configs: dict[str, list[str]] = {}
    models: dict[str, list[str]] = {}
    for item in _pages(sagemaker.list_endpoints, "Endpoints", MaxResults=100):
        other = item["EndpointName"]
        if other == endpoint:
            continue
        try:
            described = sagemaker.describe_endpoint(EndpointName=other)
        except Exception as exc:
            if error_code(exc) in _MISSING:
                continue  # deleted between the list and the describe
            raise
        serving = {described.get("EndpointConfigName")}
        serving.add(described.get("PendingDeploymentSummary", {}).get("EndpointConfigName"))
        for config_name in sorted(c for c in serving if c):
            configs.setdefault(config_name, []).append(other)
            seen = _describe_config(sagemaker, config_name)
            for model in seen[1] if seen else ():
                models.setdefault(model, []).append(other)
    return (
        {name: tuple(sorted(set(found))) for name, found in configs.items()},
        {name: tuple(sorted(set(found))) for name, found in models.items()},
    )


def _kit_configs(sagemaker: Any, endpoint: str, skip: str | None) -> list[Config]:
    """The kit's earlier configs of ``endpoint`` (blue/green updates leave them), by tag."""
    found = []
    prefix = names.resource_name_prefix(endpoint)
    for item in _pages(
        sagemaker.list_endpoint_configs, "EndpointConfigs", NameContains=prefix, MaxResults=100
    ):
        name = item["EndpointConfigName"]
        if name == skip:
            continue
        tags = resource_tags(sagemaker, item["EndpointConfigArn"])
        if is_ours(tags, endpoint):
            seen = _describe_config(sagemaker, name)
            if seen:
                found.append(Config(name, seen[1], tags))
    return found


def _kit_models(sagemaker: Any, endpoint: str) -> dict[str, Tags]:
    """The kit's models of ``endpoint``, by tag (a model can outlive its config)."""
    prefix = names.resource_name_prefix(endpoint)
    found = {}
    for item in _pages(sagemaker.list_models, "Models", NameContains=prefix, MaxResults=100):
        tags = resource_tags(sagemaker, item["ModelArn"])
        if is_ours(tags, endpoint):
            found[item["ModelName"]] = tags
    return found


def _model_tags(sagemaker: Any, model: str) -> Tags | None:
    try:
        arn = sagemaker.describe_model(ModelName=model)["ModelArn"]
    except Exception as exc:
        if error_code(exc) in _MISSING:
            return None
        raise
    return resource_tags(sagemaker, arn)


def _alarm_tags(cloudwatch: Any, alarm: Mapping[str, Any]) -> Tags:
    arn = alarm.get("AlarmArn")
    tags = cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"] if arn else []
    return {t["Key"]: t["Value"] for t in tags}


def alarm_batches(alarms: Sequence[str]) -> list[list[str]]:
    """``alarms`` in lists CloudWatch takes in one call: DescribeAlarms and DeleteAlarms take
    up to 100 names."""
    return [list(alarms[start : start + 100]) for start in range(0, len(alarms), 100)]


def _alarms(cloudwatch: Any, recorded: Sequence[str]) -> dict[str, Tags]:
    """The recorded alarms that exist, with their own tags."""
    found: dict[str, Tags] = {}
    for batch in alarm_batches(sorted(set(recorded))):
        answer = cloudwatch.describe_alarms(AlarmNames=batch)
        for alarm in answer.get("MetricAlarms", []):
            found[alarm["AlarmName"]] = _alarm_tags(cloudwatch, alarm)
    return found


def observe_monitor(
    scheduler: Any | None, cloudwatch: Any | None, endpoint: str, monitor: str
) -> tuple[dict[str, bool], dict[str, Tags]]:
    """``monitor``'s alarms on ``endpoint``, listed by their prefix, with their own tags, and
    its schedule when it exists (name -> whether it starts the kit's monitoring job of
    ``endpoint`` for that monitor). No scheduler (--local, which schedules nothing), or no
    CloudWatch, reads nothing there. Read by delete and by ``monitor delete``."""
    alarms: dict[str, Tags] = {}
    if cloudwatch is not None:
        prefix = monitor_requests.alarm_prefix(monitor, endpoint)
        for alarm in _pages(cloudwatch.describe_alarms, "MetricAlarms", AlarmNamePrefix=prefix):
            alarms[alarm["AlarmName"]] = _alarm_tags(cloudwatch, alarm)
    schedules: dict[str, bool] = {}
    if scheduler is not None:
        name = monitor_requests.monitor_schedule_name(monitor, endpoint)
        try:
            found = scheduler.get_schedule(Name=name)
        except Exception as exc:
            if error_code(exc) not in _MISSING:
                raise
        else:
            schedules[name] = monitor_requests.watched(found) == (endpoint, monitor)
    return schedules, alarms


def _monitors(
    clients: Clients, endpoint: str, monitors: Sequence[str]
) -> tuple[dict[str, bool], dict[str, Tags]]:
    """The recorded monitors' schedules and alarms (:func:`observe_monitor`)."""
    schedules: dict[str, bool] = {}
    alarms: dict[str, Tags] = {}
    for monitor in monitors:
        found = observe_monitor(clients.scheduler, clients.monitor_cloudwatch, endpoint, monitor)
        schedules.update(found[0])
        alarms.update(found[1])
    return schedules, alarms


def _target_text(endpoint: str) -> str:
    return f"scalable target {names.scalable_resource_id(endpoint)}"


def _scaling(clients: Clients, endpoint: str) -> tuple[bool, tuple[str, ...]]:
    """Whether the variant is registered, and the names of the policies on it."""
    if clients.autoscaling is None:
        return False, ()
    registered, policies = autoscaling.observe(clients.autoscaling, endpoint)
    return registered, tuple(policies)


def describe_endpoint(sagemaker: Any, endpoint: str) -> dict[str, Any] | None:
    """DescribeEndpoint's answer; None when there is no such endpoint."""
    try:
        return dict(sagemaker.describe_endpoint(EndpointName=endpoint))
    except Exception as exc:
        if error_code(exc) in _MISSING:
            return None
        raise


def observe(clients: Clients, endpoint: str) -> Observed:
    """Everything :func:`plan` needs, read and never written."""
    sm = clients.sagemaker
    described = describe_endpoint(sm, endpoint)
    if described is None:
        return Observed(endpoint, exists=False)
    current = str(described["EndpointConfigName"])
    configs = []
    seen = _describe_config(sm, current)
    if seen:
        configs.append(Config(current, seen[1], resource_tags(sm, seen[0])))
    configs += _kit_configs(sm, endpoint, current)
    model_tags = _kit_models(sm, endpoint)
    for config in configs:
        for model in config.models:
            if model not in model_tags:
                tags = _model_tags(sm, model)
                if tags is not None:
                    model_tags[model] = tags
    recorded = [a for c in configs for a in c.tags.get(ALARMS, "").split()]
    recorded.append(async_requests.wake_alarm_name(endpoint))
    alarms = _alarms(clients.cloudwatch, recorded) if clients.cloudwatch is not None else {}
    tags = resource_tags(sm, described["EndpointArn"])
    configs_used_by, models_used_by = _in_use(sm, endpoint)
    scalable_target, scaling_policies = _scaling(clients, endpoint)
    schedules, monitor_alarms = _monitors(clients, endpoint, tags.get(MONITORS, "").split())
    return Observed(
        endpoint,
        exists=True,
        tags=tags,
        current=current,
        configs=tuple(configs),
        model_tags=model_tags,
        configs_used_by=configs_used_by,
        models_used_by=models_used_by,
        alarms=alarms,
        scalable_target=scalable_target,
        scaling_policies=scaling_policies,
        schedules=schedules,
        monitor_alarms=monitor_alarms,
    )


def _users(others: tuple[str, ...]) -> str:
    if len(others) == 1:
        return f"endpoint {others[0]} uses it"
    return f"endpoints {', '.join(others)} use it"


def scaling_ownership(
    endpoint: str,
    registered: bool,
    policies: Sequence[str],
    recorded: Sequence[str],
    whole: bool = False,
) -> tuple[tuple[str, ...], bool, list[str]]:
    """(the policies to remove, whether to deregister the target, what is kept and why) of
    the variant's registration (``registered``, with ``policies`` on it): the kit's are the
    policies its serving config ``recorded``, and the target with them when no other policy
    is on it (deregistering a target deletes its policies); ``whole`` takes everything (a
    forced delete of an endpoint the kit did not create). Delete and deploy's update both
    remove only what this accepts."""
    kept: list[str] = []
    mine, others = [], []
    for policy in policies:
        if policy in recorded or whole:
            mine.append(policy)
        else:
            others.append(policy)
            kept.append(f"scaling policy {policy}: not created by mpg-launch for {endpoint}")
    target = registered and (bool(recorded) or whole)
    if registered and not target:
        kept.append(f"{_target_text(endpoint)}: not registered by mpg-launch for {endpoint}")
    elif target and others:
        target = False  # deregistering it would delete those policies too
        kept.append(
            f"{_target_text(endpoint)}: scaling policies not mpg-launch's are on it "
            f"({', '.join(others)})"
        )
    return tuple(mine), target, kept


def recorded_policies(config_tags: Mapping[str, str], endpoint: str) -> list[str]:
    """The scaling policies an endpoint config records, when its tags say it is the kit's."""
    return config_tags.get(SCALING, "").split() if is_ours(config_tags, endpoint) else []


def _plan_scaling(seen: Observed, ours: bool) -> tuple[tuple[str, ...], bool, list[str]]:
    """:func:`scaling_ownership` of the variant, by what the serving config records; a
    forced delete of an endpoint the kit did not create takes the variant's whole
    registration, as it takes that config."""
    serving = next((c for c in seen.configs if c.name == seen.current), None)
    recorded = recorded_policies(serving.tags, seen.endpoint) if serving else []
    return scaling_ownership(
        seen.endpoint, seen.scalable_target, seen.scaling_policies, recorded, whole=not ours
    )


def _owned_alarms(endpoint: str, found: Mapping[str, Tags], kept: list[str]) -> list[str]:
    """The alarms whose own tags say the kit made them for ``endpoint``; the rest go to
    ``kept``, with the reason."""
    ours = []
    for alarm, tags in sorted(found.items()):
        if is_ours(tags, endpoint):
            ours.append(alarm)
        else:
            kept.append(f"CloudWatch alarm {alarm}: its tags do not say mpg-launch made it here")
    return ours


def plan_monitors(
    endpoint: str, schedules: Mapping[str, bool], alarms: Mapping[str, Tags]
) -> tuple[list[str], list[str], list[str]]:
    """(the schedules to delete, the alarms to delete, what is kept and why) of monitors
    (:func:`observe_monitor`): a schedule goes when it starts the kit's monitoring job of
    ``endpoint``, an alarm when its tags say the kit made it for ``endpoint`` (pure)."""
    kept: list[str] = []
    ours = _owned_alarms(endpoint, alarms, kept)
    doomed = []
    for schedule, watches in sorted(schedules.items()):
        if watches:
            doomed.append(schedule)
        else:
            kept.append(
                f"EventBridge schedule {schedule}: it does not start mpg-launch's monitoring "
                f"job of {endpoint}"
            )
    return doomed, ours, kept


def plan(seen: Observed, force: bool = False) -> Plan:
    """What delete does with what :func:`observe` saw (pure)."""
    endpoint = seen.endpoint
    if not seen.exists:
        return Plan(endpoint)
    ours = is_ours(seen.tags, endpoint)
    if not ours and not force:
        why = (
            f"its tags name endpoint {seen.tags[ENDPOINT]!r}"
            if seen.tags.get(MANAGED) == "true" and ENDPOINT in seen.tags
            else f"it has no {MANAGED} tag"
        )
        return Plan(
            endpoint,
            refused=(
                f"endpoint {endpoint} was not created by mpg-launch ({why}); nothing was "
                "deleted. To delete it anyway with its config and models (those no other "
                "endpoint uses): --force, and type its name (or --yes in scripts)"
            ),
        )
    policies, target, kept = _plan_scaling(seen, ours)
    configs, models = [], []
    for config in seen.configs:
        mine = is_ours(config.tags, endpoint) or (force and config.name == seen.current)
        if config.name in seen.configs_used_by:
            users = _users(seen.configs_used_by[config.name])
            kept.append(f"endpoint config {config.name}: {users}")
        elif not mine:
            kept.append(f"endpoint config {config.name}: not created by mpg-launch for {endpoint}")
        else:
            configs.append(config.name)
    current_models = next((c.models for c in seen.configs if c.name == seen.current), ())
    for model in sorted({*seen.model_tags, *current_models}):
        mine = is_ours(seen.model_tags.get(model, {}), endpoint) or (
            force and model in current_models
        )
        if model in seen.models_used_by:
            kept.append(f"model {model}: {_users(seen.models_used_by[model])}")
        elif not mine:
            kept.append(f"model {model}: not created by mpg-launch for {endpoint}")
        else:
            models.append(model)
    alarms = _owned_alarms(endpoint, seen.alarms, kept)
    schedules, monitor_alarms, monitor_kept = plan_monitors(
        endpoint, seen.schedules, seen.monitor_alarms
    )
    kept += monitor_kept
    return Plan(
        endpoint,
        delete_endpoint=True,
        scaling_policies=policies,
        scalable_target=target,
        configs=tuple(configs),
        models=tuple(models),
        alarms=tuple(alarms),
        schedules=tuple(schedules),
        monitor_alarms=tuple(monitor_alarms),
        kept=tuple(kept),
        forced=not ours,
    )


def apply(
    clients: Clients,
    planned: Plan,
    out: Out = print,
    wait: Callable[[Any, str], None] | None = None,
) -> list[str]:
    """Send the plan's deletes: the monitors' schedules (no more jobs started), the kit's
    autoscaling (as the docs ask), then the endpoint (waited for: a config in use cannot go),
    its configs, models and alarms, and the monitors' alarms."""
    sm = clients.sagemaker
    deleted: list[str] = []

    def done(item: str) -> None:
        deleted.append(item)
        out(f"deleted {item}")

    if planned.schedules and clients.scheduler is not None:
        for schedule in planned.schedules:
            clients.scheduler.delete_schedule(Name=schedule)
            done(f"EventBridge schedule {schedule}")
    if (planned.scaling_policies or planned.scalable_target) and clients.autoscaling is not None:
        for item in autoscaling.remove(
            clients.autoscaling, planned.endpoint, planned.scaling_policies, planned.scalable_target
        ):
            done(item)
    if planned.delete_endpoint:
        sm.delete_endpoint(EndpointName=planned.endpoint)
        (wait or wait_for_endpoint_deleted)(sm, planned.endpoint)
        done(f"endpoint {planned.endpoint}")
    for config in planned.configs:
        sm.delete_endpoint_config(EndpointConfigName=config)
        done(f"endpoint config {config}")
    for model in planned.models:
        sm.delete_model(ModelName=model)
        done(f"model {model}")
    for cloudwatch, alarms in (
        (clients.cloudwatch, planned.alarms),
        (clients.monitor_cloudwatch, planned.monitor_alarms),
    ):
        if cloudwatch is None:  # then none were observed there
            continue
        for batch in alarm_batches(alarms):
            cloudwatch.delete_alarms(AlarmNames=batch)
            for alarm in batch:
                done(f"CloudWatch alarm {alarm}")
    for item in planned.kept:
        out(f"kept {item}")
    return deleted


def delete(
    clients: Clients,
    endpoint: str,
    out: Out = print,
    wait: Callable[[Any, str], None] | None = None,
    force: bool = False,
    confirm: Callable[[Plan], bool] | None = None,
) -> list[str]:
    """Observe, plan, apply. Returns what was deleted; a missing endpoint is not an error
    (delete is idempotent). A forced delete of an endpoint the kit did not create runs only
    when ``confirm`` (the CLI's typed confirmation, or ``--yes``) accepts the plan."""
    planned = plan(observe(clients, endpoint), force)
    if planned.refused:
        raise ConfigError(planned.refused)
    if not planned.delete_endpoint:
        out(f"endpoint {endpoint} does not exist; nothing to delete")
        return []
    if planned.forced:
        for line in planned.lines():
            out(line)
        if confirm is None or not confirm(planned):
            raise ConfigError(f"delete --force of endpoint {endpoint} not confirmed; nothing sent")
    return apply(clients, planned, out, wait)
