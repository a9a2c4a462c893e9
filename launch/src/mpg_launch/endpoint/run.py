"""What the endpoint subcommands do, as plain functions over a config and clients: deploy
(blue/green, with autoscaling and guarded rollouts) and predict (delete is
:mod:`mpg_launch.endpoint.delete`).
:mod:`mpg_launch.cli.verbs` turns the parsed flags into these calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpg_launch.aws import names
from mpg_launch.aws.clients import Clients, error_code
from mpg_launch.aws.plan import Step, do, send
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.aws.waiting import wait_for_endpoint
from mpg_launch.endpoint import checks as endpoint_checks
from mpg_launch.endpoint import delete as ownership
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint import rollout
from mpg_launch.endpoint import scaling as autoscaling
from mpg_launch.endpoint import settings as endpoint_options
from mpg_launch.errors import ConfigError, JobFailed, LaunchError
from mpg_launch.model_registry import requests as registry_requests
from mpg_launch.settings.config import LaunchConfig


def deploy(
    runner: Runner,
    endpoint: str,
    stamp: str,
    training_job: str | None = None,
    model_data: str | None = None,
    pipeline: bool = False,
    preprocessing_job: str | None = None,
    wait: bool = True,
    model_package: str | None = None,
) -> dict[str, Any] | None:
    """Create a model and an endpoint config named ``<endpoint>-<stamp>`` (shortened with a
    hash for long endpoint names: :func:`names.deploy_name`); create the endpoint,
    or move an existing one to the new config (blue/green, no downtime). The model serves a
    training job's artifact, or a registered ``model_package`` (ARN). With autoscaling the
    variant is registered once InService. Before an update, the kit's own registration (the
    policies the serving config records, and the target with them when no other policy is on
    it) is removed, and put back if the update fails; anyone else's is kept, and an update
    that changes the instance type, which SageMaker refuses on a registered variant, is
    refused when that would take someone else's policy (:func:`plan_pause`)."""
    config = runner.config
    if not (training_job or model_data or model_package):
        raise ConfigError("deploy needs --training-job NAME or --model-data s3://.../model.tar.gz")
    endpoint_checks.check_deploy(config, pipeline)
    for note in endpoint_checks.deploy_notes(config):
        runner.out(f"note: {note}")
    data_url = model_data or names.trained_model_uri(config, str(training_job))
    name = names.deploy_name(endpoint, stamp)
    if model_package:
        model = registry_requests.model_package_model_request(config, name, model_package)
    elif pipeline:
        if not preprocessing_job:
            raise ConfigError(
                "deploy --pipeline needs --preprocessing-job NAME (its "
                "preprocessor is the first container)"
            )
        model = endpoint_requests.pipeline_model_request(
            config, name, names.preprocessor_model_uri(config, preprocessing_job), data_url
        )
    else:
        model = endpoint_requests.model_request(config, name, data_url)
    # Tagged as the kit's, for this endpoint: delete removes only what they mark.
    model = ownership.owned(model, endpoint)
    made_alarms = (
        rollout.alarm_names(name) if config.rollout and config.rollout.create_alarms else []
    )
    # The config records the scaling policies put with it: delete removes only those.
    made_policies = [
        s.request["PolicyName"]
        for s in _autoscaling_submissions(config, endpoint)
        if s.operation == "PutScalingPolicy"
    ]
    endpoint_config = ownership.owned(
        endpoint_requests.endpoint_config_request(config, name, name),
        endpoint,
        made_alarms,
        made_policies,
    )
    create_endpoint = ownership.owned(
        endpoint_requests.endpoint_request(config, endpoint, name), endpoint
    )
    # Every request checked before the first is sent (a read included): a bad endpoint
    # name must not fail after the model was created.
    runner.check(
        Submission("CreateModel", model),
        Submission("CreateEndpointConfig", endpoint_config),
        Submission("CreateEndpoint", create_endpoint),
        Submission("UpdateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": name}),
        *_autoscaling_submissions(config, endpoint),
    )
    # Observe. A dry run cannot look: it shows the update of an existing endpoint when a
    # rollout is asked (a rollout moves one), else the creation of a new one.
    exists = runner.observe(
        lambda c: _endpoint_exists(c.sagemaker, endpoint), dry=lambda: bool(config.rollout)
    )
    if exists and config.serverless:
        runner.observe(
            lambda c: _refuse_move_to_serverless(c.sagemaker, endpoint), dry=lambda: None
        )
    if exists:
        last = Submission("UpdateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": name})
    else:
        last = Submission("CreateEndpoint", create_endpoint)
    scaling = _autoscaling_submissions(config, endpoint)
    pause = Pause()
    if exists:  # a dry run, which cannot look, shows no registration to remove
        pause = runner.observe(lambda c: _pause_for_update(c, endpoint, endpoint_config), dry=Pause)
    saved = list(pause.restore)
    alarms: list[Submission] = []
    if config.rollout and exists:
        alarms, last = _guarded_update(
            runner, endpoint, name, model, endpoint_config, pause.registered
        )
    elif config.rollout and config.rollout.shifts:
        # A new endpoint has no old fleet to shift traffic from: refused before anything is
        # created, rather than accepted with a note (its dry run printed an UpdateEndpoint
        # this real run would never send).
        raise ConfigError(
            f"rollout {config.rollout.mode}: endpoint {endpoint} does not exist, so there is no "
            "traffic to shift; deploy it first without --rollout, then roll out onto it"
        )
    elif config.rollout:
        runner.out(f"note: rollout: endpoint {endpoint} is new, so it starts on its one config")
    if (scaling or saved) and not wait:
        raise LaunchError("autoscaling is (re)registered once the endpoint is InService: wait")
    # Plan: model, config, (the registration UpdateEndpoint fails on, removed), alarms, the
    # endpoint, (InService), the registration and an asynchronous endpoint's wake alarm.
    paused: list[Submission] = []  # the registration removed for the update, to put back
    served: dict[str, Any] = {}
    plan = [
        send(Submission("CreateModel", model)),
        send(Submission("CreateEndpointConfig", endpoint_config)),
    ]
    if pause.registered:
        plan.append(do(lambda: paused.extend(_deregister(runner, endpoint, pause))))
    if alarms:
        plan.append(send(*alarms))
    plan.append(send(last))

    def serving() -> None:
        served.update(_wait_serving(runner, endpoint, name))
        paused.clear()  # the update took: the removed registration is not put back
        runner.out(f"endpoint {endpoint} is InService (model {name})")

    if wait:
        plan.append(do(serving))
    plan += _registration_plan(runner, endpoint, scaling)
    try:
        runner.apply(plan)
    except Exception:
        _restore(runner, endpoint, paused)
        raise
    if not wait:
        return None
    if scaling:
        runner.out(f"autoscaling: {_scaling_text(config)}")
    elif pause.target:
        runner.out(f"note: endpoint {endpoint} is no longer autoscaled (no autoscaling settings)")
    elif pause.policies:
        runner.out(
            f"note: endpoint {endpoint} keeps only the scaling policies mpg-launch did not "
            "create (no autoscaling settings)"
        )
    return served


def _wait_serving(runner: Runner, endpoint: str, config_name: str) -> dict[str, Any]:
    """Wait for InService; a failed update (rolled back to the old config) is a failure."""
    assert runner.clients is not None
    described = wait_for_endpoint(
        runner.clients.sagemaker, endpoint, out=runner.out, poll_seconds=runner.poll_seconds
    )
    _check_serves(described, config_name)
    return dict(described)


def _guarded_update(
    runner: Runner,
    endpoint: str,
    config_name: str,
    model: dict[str, Any],
    endpoint_config: dict[str, Any],
    autoscaled: bool,
) -> tuple[list[Submission], Submission]:
    """The alarms and the UpdateEndpoint of a rollout, refused (ConfigError) when SageMaker's
    deployment guardrails would not run it as asked. A dry run cannot describe the endpoint,
    so it checks only what the request itself shows."""
    guard = runner.config.rollout
    assert guard is not None
    current = runner.observe(
        lambda c: endpoint_checks.describe_current(c.sagemaker, endpoint, autoscaled),
        dry=lambda: None,
    )
    endpoint_checks.check_guardrails(runner.config, guard, model, endpoint_config, current)

    def alarms_exist(clients: Clients) -> None:
        if guard.alarms and clients.cloudwatch is None:
            raise LaunchError("no CloudWatch client here to check the rollback alarms")
        if clients.cloudwatch is not None:
            endpoint_checks.check_alarms_exist(clients.cloudwatch, guard.alarms)

    runner.observe(alarms_exist, dry=lambda: None)
    count = endpoint_options.initial_instance_count(runner.config)
    alarms = [
        Submission("PutMetricAlarm", ownership.owned(request, endpoint), "cloudwatch")
        for request in rollout.alarm_requests(guard, endpoint, config_name)
    ]
    update = rollout.update_request(guard, endpoint, config_name, count)
    shares = ", ".join(f"{s:.0%}" for s in guard.shares(count))
    runner.out(
        f"rollout {guard.mode}: traffic to the new fleet in steps of {shares}, "
        f"{guard.wait_seconds} s apart, then {guard.bake_seconds} s of bake; rolled back by "
        + ", ".join(rollout.rollback_alarms(guard, config_name))
    )
    if runner.config.local:
        runner.out(
            "note: --local: the alarms are evaluated on the local router's requests of each "
            "wait and of the bake, not on CloudWatch periods"
        )
    return alarms, Submission("UpdateEndpoint", update)


def _autoscaling_submissions(config: LaunchConfig, endpoint: str) -> list[Submission]:
    """The variant's registration ([] without autoscaling, or locally)."""
    if config.local:
        return []
    return [
        Submission(operation, request, "application-autoscaling")
        for operation, request in autoscaling.register_requests(config, endpoint)
    ]


def _registration_plan(runner: Runner, endpoint: str, scaling: list[Submission]) -> list[Step]:
    """The registration's steps: its requests, then an asynchronous endpoint's wake alarm,
    whose action is the ARN PutScalingPolicy answers (a placeholder in the printed plan)."""
    if not scaling:
        return []
    sent = [s.request for s in scaling]
    answers: list[dict[str, Any]] = []
    plan = [do(lambda: answers.extend(runner.send(*scaling)), *scaling)]
    shown = autoscaling.wake_alarm(runner.config, endpoint, sent, [])
    if shown:

        def put_alarm() -> None:
            alarm = autoscaling.wake_alarm(runner.config, endpoint, sent, answers)
            assert alarm is not None
            runner.send(
                Submission("PutMetricAlarm", ownership.owned(alarm, endpoint), "cloudwatch")
            )

        shown_owned = ownership.owned(shown, endpoint)
        plan.append(do(put_alarm, Submission("PutMetricAlarm", shown_owned, "cloudwatch")))
    return plan


def _scaling_text(config: LaunchConfig) -> str:
    if config.async_inference:
        return autoscaling.async_text(config)
    scaling = config.autoscaling
    assert scaling is not None
    return (
        f"{scaling.min_instances}..{scaling.max_instances} instances holding "
        f"{scaling.target_invocations_per_instance:g} invocations per instance per minute "
        f"(cooldowns: out {scaling.scale_out_cooldown} s, in {scaling.scale_in_cooldown} s)"
    )


@dataclass(frozen=True)
class Pause:
    """What of the variant's registration deploy removes for an update, and puts back if the
    update fails: the kit's policies, the target when it goes with them, and the requests
    that re-create them as they were."""

    registered: bool = False  # the variant is registered with Application Auto Scaling
    policies: tuple[str, ...] = ()
    target: bool = False
    restore: tuple[Submission, ...] = ()
    kept: tuple[str, ...] = ()  # what is not the kit's, and why


def _variant_type(endpoint_config: Mapping[str, Any]) -> str | None:
    """The instance type of the autoscaled variant (None: serverless, or no such variant)."""
    for variant in endpoint_config.get("ProductionVariants", []):
        if variant.get("VariantName") == names.VARIANT:
            return variant.get("InstanceType")
    return None


def plan_pause(
    endpoint: str,
    registration: autoscaling.Requests,
    config_tags: Mapping[str, str],
    instance_types: tuple[str | None, str | None],
) -> Pause:
    """What the update removes of the variant's ``registration`` (the requests that re-create
    it as it is), by the ownership rules delete uses: only the policies the serving config
    (tagged ``config_tags``) records, and the target with them when no other policy is on it.

    SageMaker refuses an update that changes a registered variant's instance type
    (``instance_types``: the current one, the new one); when the target has to stay (someone
    else's, or someone else's policy on it) that update is refused here, nothing sent, rather
    than taking their policy and putting it back: re-created, a step policy gets a new ARN
    that their alarms do not call, deregistering also deletes scheduled actions, and a stop
    between the two loses them for good."""
    if not registration:
        return Pause()
    policies = [r["PolicyName"] for op, r in registration if op == "PutScalingPolicy"]
    recorded = ownership.recorded_policies(config_tags, endpoint)
    mine, target, kept = ownership.scaling_ownership(endpoint, True, policies, recorded)
    old, new = instance_types
    if not target and old != new:
        others = [p for p in policies if p not in mine]
        resource = names.scalable_resource_id(endpoint)
        why = (
            f"scaling policies not mpg-launch's are on it ({', '.join(others)}), and "
            "deregistering it would delete them"
            if others
            else "mpg-launch did not register it"
        )
        raise ConfigError(
            f"deploy would move endpoint {endpoint} from {old or 'serverless'} to "
            f"{new or 'serverless'}, and SageMaker refuses that while the variant is "
            f"registered with Application Auto Scaling (scalable target {resource}); {why}, "
            f"so nothing was sent. Deploy on {old or 'serverless'} ([instances.serving] type), "
            "or deregister the target yourself (aws application-autoscaling "
            "deregister-scalable-target --service-namespace sagemaker --resource-id "
            f"{resource} --scalable-dimension {names.INSTANCE_COUNT_DIMENSION}), deploy, then "
            "register it and put " + (", ".join(others) if others else "its policies") + " back"
        )
    restore = tuple(
        Submission(operation, request, "application-autoscaling")
        for operation, request in registration
        if (operation == "RegisterScalableTarget" and target)
        or (operation == "PutScalingPolicy" and request["PolicyName"] in mine)
    )
    return Pause(True, mine, target, restore, tuple(kept))


def _pause_for_update(clients: Clients, endpoint: str, new_config: Mapping[str, Any]) -> Pause:
    """Read the variant's registration and the serving config (its record and instance
    type), then :func:`plan_pause`."""
    if clients.autoscaling is None:
        return Pause()
    registration = autoscaling.registration(clients.autoscaling, endpoint)
    if not registration:
        return Pause()
    sm = clients.sagemaker
    current = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    described = sm.describe_endpoint_config(EndpointConfigName=current)
    tags = ownership.resource_tags(sm, described["EndpointConfigArn"])
    types = (_variant_type(described), _variant_type(new_config))
    return plan_pause(endpoint, registration, tags, types)


def _deregister(runner: Runner, endpoint: str, pause: Pause) -> list[Submission]:
    """Remove what ``pause`` takes of the registration; returns what to put back on failure."""
    assert runner.clients is not None
    removed = autoscaling.remove(runner.clients.autoscaling, endpoint, pause.policies, pause.target)
    for item in removed:
        runner.out(f"removed {item} for the update (UpdateEndpoint fails on it)")
    for item in pause.kept:
        runner.out(f"kept {item}")
    return list(pause.restore)


def _restore(runner: Runner, endpoint: str, saved: list[Submission]) -> None:
    """Put the autoscaling back after a failed update: the endpoint still serves its old
    config, which should scale as before."""
    if not saved:
        return
    try:
        runner.send(*saved)
    except Exception as exc:
        runner.out(f"could not restore the autoscaling of {endpoint}: {exc}; deploy again")
    else:
        runner.out(f"restored the autoscaling of {endpoint} as it was before the update")


def _check_serves(described: Mapping[str, Any], config_name: str) -> None:
    """A failed update is rolled back to InService on the old config: that is a failure."""
    serving = described.get("EndpointConfigName")
    if serving != config_name:
        reason = " ".join(str(described.get("FailureReason", "no FailureReason")).split())
        raise JobFailed(
            f"endpoint {described.get('EndpointName')} was not updated and still serves "
            f"{serving}: {reason}"
        )


def _refuse_move_to_serverless(sagemaker: Any, endpoint: str) -> None:
    """SageMaker cannot update an instance endpoint to serverless (only the other way)."""
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    if not any("ServerlessConfig" in v for v in variants["ProductionVariants"]):
        raise ConfigError(
            f"endpoint {endpoint} runs on instances, and SageMaker cannot update it to "
            f"serverless; delete it first (mpg-launch delete --endpoint {endpoint}) or deploy "
            "under another --endpoint name"
        )


def _endpoint_exists(sagemaker: Any, name: str) -> bool:
    try:
        sagemaker.describe_endpoint(EndpointName=name)
    except Exception as exc:
        if error_code(exc) in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def predict(
    clients: Clients, endpoint: str, body: bytes, content_type: str, accept: str
) -> tuple[str, bytes]:
    """Invoke the endpoint; returns (content type, body)."""
    if not body.strip():
        raise ConfigError("nothing to predict: give rows in a file or on stdin")
    try:
        answer = clients.runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept=accept, Body=body
        )
    except Exception as exc:
        if error_code(exc) in ("ModelError", "ValidationError", "ValidationException"):
            raise LaunchError(
                f"endpoint {endpoint} refused the request: {' '.join(str(exc).split())}"
            ) from None
        raise
    return str(answer.get("ContentType", "")), answer["Body"].read()


def endpoint_models(sagemaker: Any, endpoint: str) -> tuple[str, list[str]]:
    """(endpoint config name, model names) of an endpoint."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config_name = described["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    return config_name, [v["ModelName"] for v in variants["ProductionVariants"]]
