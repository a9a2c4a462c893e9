"""The monitor commands: observe (the endpoint's model, its capture), plan (the requests,
pure, checked) and apply. ``--dry-run`` prints the plan (:meth:`Runner.apply`): its clients
refuse every call.

``--local`` runs the same job request on the local engine over the local endpoint's capture
(written by the local endpoint when deployed with data capture). Metrics and alarms stay
with the CloudWatch the AWS settings reach (a moto server in the tests): the job's container
cannot reach a server on this machine's loopback, so with ``--local`` the job writes its
metrics to ``metrics.json`` and this command sends them, then evaluates the alarms once
(CloudWatch evaluates them itself; a local double does not).

What ``run`` and ``schedule`` create belongs to the endpoint, as deploy's resources do
(:mod:`mpg_launch.endpoint.delete`): the alarms carry the kit's tags for the endpoint, and
the endpoint records the monitor's name (``mpg-launch:monitors``), so ``mpg-launch delete``
removes the schedule and the alarms with it. The processing jobs end by themselves; their
reports stay in S3.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mpg_core.monitoring.names import METRICS_FILE, VIOLATIONS_FILE
from mpg_core.table_schema import default_schema, load_schema
from mpg_launch.aws import names
from mpg_launch.aws.clients import Clients
from mpg_launch.aws.plan import Step, do, send
from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.endpoint import delete as ownership
from mpg_launch.errors import ConfigError
from mpg_launch.monitor import checks, requests
from mpg_launch.monitor.settings import MonitorSettings, with_flags
from mpg_launch.settings.config import LaunchConfig

Connect = Callable[[], Clients]
Out = Callable[[str], None]


def _settings(args: argparse.Namespace, config: LaunchConfig) -> MonitorSettings:
    return with_flags(getattr(config, "monitor", None), args)


def _runner(
    args: argparse.Namespace, config: LaunchConfig, out: Out, clients: Clients | None = None
) -> Runner:
    """The command's Runner: the one place a dry run parts from a real one."""
    return Runner(config, clients, out, args.dry_run, args.poll_seconds)


def _endpoint(args: argparse.Namespace, config: LaunchConfig) -> str:
    return names.checked_name(args.endpoint or config.endpoint_name)


def model_data(sagemaker: Any, endpoint: str) -> str:
    """The model.tar.gz the endpoint serves (its last container's: the model, after any
    preprocessor), which holds the baseline."""
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    model = sagemaker.describe_model(ModelName=variants["ProductionVariants"][0]["ModelName"])
    containers = model.get("Containers") or [model.get("PrimaryContainer", {})]
    uri = containers[-1].get("ModelDataUrl")
    if not uri:
        raise ConfigError(f"endpoint {endpoint}'s model has no ModelDataUrl; pass --model-data")
    return str(uri)


def monitored_columns(config: LaunchConfig) -> tuple[str, ...]:
    schema = load_schema(Path(config.schema)) if config.schema else default_schema()
    return schema.feature_columns


def _alarm_requests(
    config: LaunchConfig, settings: MonitorSettings, endpoint: str
) -> list[dict[str, Any]]:
    """The alarms, tagged as the kit's for ``endpoint`` (delete removes them with it)."""
    columns = monitored_columns(config)
    return [
        ownership.owned(alarm, endpoint)
        for alarm in requests.alarm_requests(settings, endpoint, columns)
    ]


def _endpoint_tags(sagemaker: Any, endpoint: str) -> tuple[str, dict[str, str]] | None:
    """(ARN, tags) of the endpoint; None when it does not exist."""
    described = ownership.describe_endpoint(sagemaker, endpoint)
    if described is None:
        return None
    arn = str(described["EndpointArn"])
    return arn, ownership.resource_tags(sagemaker, arn)


def _record_steps(runner: Runner, settings: MonitorSettings, endpoint: str) -> list[Step]:
    """The AddTags that records the monitor on the endpoint, sent before anything is created,
    so nothing the monitor makes is unknown to delete ([] when it is recorded already, or
    when the endpoint does not exist, which is said). A dry run shows the first record."""
    config = runner.config

    def dry() -> tuple[str, dict[str, str]]:  # the ARN SageMaker gives the endpoint
        region, account = config.region, config.account
        return f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}", {}

    seen = runner.observe(lambda c: _endpoint_tags(c.sagemaker, endpoint), dry=dry)
    if seen is None:
        runner.out(
            f"note: endpoint {endpoint} does not exist, so it cannot record this monitor: "
            "`mpg-launch delete` will not remove its schedule and alarms; "
            "`mpg-launch monitor delete` does"
        )
        return []
    tags = ownership.record_tags(seen[1], ownership.MONITORS, settings.monitor_name)
    if tags is None:
        return []
    return [send(Submission("AddTags", {"ResourceArn": seen[0], "Tags": tags}))]


def _alarms_step(runner: Runner, alarms: list[dict[str, Any]]) -> Step:
    """The alarms, put on the CloudWatch the settings reach (also under ``--local``)."""

    def put() -> None:
        cloudwatch = runner.aws_client("cloudwatch")
        for alarm in alarms:
            cloudwatch.put_metric_alarm(**alarm)
        runner.out(f"alarms: {len(alarms)} on {requests.NAMESPACE}, e.g. {alarms[0]['AlarmName']}")

    return do(put, *(Submission("PutMetricAlarm", a, "cloudwatch") for a in alarms))


def _read_report(s3: Any, uri: str, name: str) -> dict[str, Any] | None:
    bucket, prefix = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{name}")["Body"].read()
    except Exception:  # a job that failed early wrote nothing
        return None
    found: dict[str, Any] = json.loads(body)
    return found


def evaluate_alarms(cloudwatch: Any, alarms: list[dict[str, Any]], now: datetime) -> dict[str, str]:
    """Each alarm's state from the metric's latest period, set on ``cloudwatch``: what
    CloudWatch does by itself, done once for a server that does not (moto)."""
    states = {}
    for alarm in alarms:
        found = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm["Dimensions"],
            StartTime=now - timedelta(seconds=alarm["Period"]),
            EndTime=now + timedelta(minutes=5),
            Period=alarm["Period"],
            Statistics=[alarm["Statistic"]],
        )["Datapoints"]
        if not found:
            state = "OK"  # TreatMissingData notBreaching
        else:
            value = max(p[alarm["Statistic"]] for p in found)
            above = value > alarm["Threshold"]
            breach = above if alarm["ComparisonOperator"] == "GreaterThanThreshold" else not above
            state = "ALARM" if breach else "OK"
        cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"],
            StateValue=state,
            StateReason=f"evaluated by mpg-launch monitor run --local at {now.isoformat()}",
        )
        states[alarm["AlarmName"]] = state
    return states


def run(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    settings = _settings(args, config)
    endpoint = _endpoint(args, config)
    runner = _runner(args, config, out, connect())
    uri = settings.model_data or model_data(connect().sagemaker, endpoint)
    job_name = args.job_name or names.job_name("monitor")
    # Local: the container cannot reach the caller's CloudWatch; this command sends for it.
    job = requests.processing_request(
        config, settings, job_name, endpoint, uri, emit_metrics=not config.local
    )
    alarms = _alarm_requests(config, settings, endpoint)
    checks.check_job(job)
    checks.check_alarms(alarms)
    started = f"monitoring job {job_name} started over "
    started += requests.capture_uri(config, settings, endpoint)
    runner.apply(
        [
            *_record_steps(runner, settings, endpoint),
            send(Submission("CreateProcessingJob", job)),
            _alarms_step(runner, alarms),  # while the job starts, minutes before it ends
            do(lambda: out(started)),
        ]
    )
    runner.wait_job("processing", job_name)  # JobFailed (exit 1) when the job fails
    report = requests.report_uri(config, settings, job_name)
    assert runner.clients is not None
    s3 = runner.clients.s3
    violations = _read_report(s3, report, VIOLATIONS_FILE) or {"violations": []}
    if config.local:
        cloudwatch = runner.aws_client("cloudwatch")
        metrics = _read_report(s3, report, METRICS_FILE) or {}
        for request in requests.put_metric_data_requests(metrics):
            cloudwatch.put_metric_data(**request)
        states = evaluate_alarms(cloudwatch, alarms, datetime.now(UTC))
        firing = sorted(n for n, s in states.items() if s == "ALARM")
        out(f"alarms in ALARM: {', '.join(firing) or 'none'}")
    found = violations["violations"]
    out(f"report: {report}report.html ({len(found)} violation(s))")
    for v in found:
        out(
            f"  {v.get('feature_name') or v.get('metric_name')}: {v['constraint_check_type']}: "
            f"{v['description']}"
        )
    return 0


def schedule(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    settings = _settings(args, config)
    if config.local:
        raise ConfigError("monitor schedule takes no --local: EventBridge Scheduler is AWS's")
    endpoint = _endpoint(args, config)
    role = checks.schedule_role(settings.schedule_role)
    clients = connect()
    runner = _runner(args, config, out, clients)
    uri = settings.model_data or model_data(clients.sagemaker, endpoint)
    request = requests.schedule_request(config, settings, endpoint, uri, role)
    alarms = _alarm_requests(config, settings, endpoint)
    checks.check_schedule(request)
    checks.check_alarms(alarms)

    def create_schedule() -> None:
        arn = runner.aws_client("scheduler").create_schedule(**request)["ScheduleArn"]
        out(f"schedule {request['Name']} ({settings.schedule}): {arn}")

    runner.apply(
        [
            *_record_steps(runner, settings, endpoint),
            do(create_schedule, Submission("CreateSchedule", request, "scheduler")),
            _alarms_step(runner, alarms),
        ]
    )
    return 0


def list_monitors(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    settings = _settings(args, config)
    runner = _runner(args, config, out)
    scheduler = runner.aws_client("scheduler")
    cloudwatch = runner.aws_client("cloudwatch")
    schedules = scheduler.list_schedules(NamePrefix=settings.monitor_name).get("Schedules", [])
    for s in schedules:
        out(f"schedule {s['Name']}: {s.get('State', '?')}")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=settings.monitor_name)["MetricAlarms"]
    for a in alarms:
        out(
            f"alarm {a['AlarmName']}: {a['StateValue']} ({a['MetricName']} "
            f"{a['ComparisonOperator']} {a['Threshold']})"
        )
    if not schedules and not alarms:
        out(f"no schedules or alarms named {settings.monitor_name}-*")
    return 0


def delete(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    """Delete the monitor's schedule and alarms that delete's ownership rules accept
    (:func:`ownership.plan_monitors`: the schedule when it starts the kit's monitoring job of
    this endpoint and monitor, an alarm when its tags say the kit made it for this endpoint),
    keep and name anything else under the monitor's names, then take it off the endpoint's
    ``mpg-launch:monitors`` record when the endpoint exists. ``--local`` has no schedule."""
    settings = _settings(args, config)
    endpoint = _endpoint(args, config)
    monitor = settings.monitor_name
    runner = _runner(args, config, out, connect())
    # The CloudWatch and Scheduler the AWS settings reach, where run and schedule put them.
    cloudwatch = runner.aws_client("cloudwatch")
    scheduler = None if config.local else runner.aws_client("scheduler")
    found, alarms = ownership.observe_monitor(scheduler, cloudwatch, endpoint, monitor)
    seen = runner.observe(lambda c: _endpoint_tags(c.sagemaker, endpoint), dry=lambda: None)
    schedules, doomed, kept = ownership.plan_monitors(endpoint, found, alarms)
    name = requests.schedule_name(settings, endpoint)

    def delete_schedules() -> None:
        if scheduler is None:
            return
        for schedule in schedules:
            scheduler.delete_schedule(Name=schedule)
            out(f"deleted schedule {schedule}")
        if name not in found:
            out(f"no schedule {name}")

    def say_kept() -> None:
        for item in kept:
            out(f"kept {item}")

    batches = ownership.alarm_batches(doomed)

    def delete_alarms() -> None:
        for batch in batches:
            cloudwatch.delete_alarms(AlarmNames=batch)
        out(f"deleted {len(doomed)} alarm(s)")

    plan = [
        do(
            delete_schedules,
            *(Submission("DeleteSchedule", {"Name": n}, "scheduler") for n in schedules),
        ),
        do(
            delete_alarms,
            *(Submission("DeleteAlarms", {"AlarmNames": b}, "cloudwatch") for b in batches),
        ),
        *_forget_steps(runner, seen, endpoint, monitor),
        do(say_kept),
    ]
    runner.apply(plan)
    return 0


def _forget_steps(
    runner: Runner, seen: tuple[str, dict[str, str]] | None, endpoint: str, monitor: str
) -> list[Step]:
    """The tag update that takes ``monitor`` off the endpoint's record, last, once what it
    made is gone (so a delete that fails midway leaves it for ``mpg-launch delete``); a
    record left empty is removed. [] when the endpoint is gone or does not record it."""
    if seen is None:
        return []
    arn, tags = seen
    left = ownership.forget_tags(tags, ownership.MONITORS, monitor)
    if left is None:
        return []
    if left:
        request = Submission(
            "AddTags", {"ResourceArn": arn, "Tags": [{"Key": ownership.MONITORS, "Value": left}]}
        )
    else:
        request = Submission("DeleteTags", {"ResourceArn": arn, "TagKeys": [ownership.MONITORS]})
    said = f"removed monitor {monitor} from endpoint {endpoint}'s {ownership.MONITORS} record"
    return [send(request), do(lambda: runner.out(said))]
