"""Processing and training jobs on the local engine, from the very same request dicts.

Inputs are staged from S3 (or ``file://``) into a per-host /opt/ml tree, the config JSONs
SageMaker writes are written, ``algo-1..N`` run on a private network (internal when network
isolation is on), and outputs / ``model.tar.gz`` go back to S3 afterwards. The failure reason
is read from ``/opt/ml/output/failure`` (processing: also ``message``), as SageMaker does.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mpg_core.artifact.files import pack_model_tarball
from mpg_launch.local.engine import containers
from mpg_launch.local.engine.containers import ContainerSpec, Mount
from mpg_launch.local.engine.staging import download_prefix, upload, upload_dir

Out = Callable[[str], None]
FAILURE_LIMIT = 1024


@dataclass
class HostRun:
    """Outcome of running one job's containers."""

    status: str = "Completed"
    failure: str | None = None
    lines: list[str] = field(default_factory=list)


def _read_reason(output_dir: Path, names: tuple[str, ...]) -> str | None:
    for name in names:
        path = output_dir / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                return text[:FAILURE_LIMIT]
    return None


def run_hosts(
    specs: list[ContainerSpec],
    output_dirs: dict[str, Path],
    max_runtime: int,
    out: Out,
    grace: int = containers.JOB_STOP_GRACE,
    reason_files: tuple[str, ...] = ("failure",),
    logs: Out | None = None,
) -> HostRun:
    """Start every host, stream its logs to ``logs`` (default ``out``), wait to
    MaxRuntimeInSeconds (then SIGTERM and SIGKILL after ``grace``); Ctrl-C stops the
    containers at once and goes on. Containers are removed."""
    show = logs or out
    run = HostRun()
    lock = threading.Lock()
    multi = len(specs) > 1

    def sink(prefix: str, line: str) -> None:
        with lock:
            run.lines.append(line)
            show(f"[{prefix}] {line}" if multi else line)

    names = [containers.create(s) for s in specs]
    followers = []
    try:
        for spec in specs:
            containers.start(spec.name)
            followers.append(containers.LogFollower(spec.name, spec.hostname, sink))
        try:
            codes = containers.wait_all(names, time.monotonic() + max_runtime)
        except KeyboardInterrupt:
            # Stopped, not failed: the containers go (removed below) and the interrupt goes
            # on, so the job's record says Stopped and the CLI exits 130.
            out(
                f"Ctrl-C: stopping {', '.join(names)} (SIGTERM, SIGKILL after "
                f"{containers.USER_STOP_GRACE} s)"
            )
            containers.stop(names, containers.USER_STOP_GRACE)
            raise
        if codes is None:
            containers.stop(names, grace)
            # SageMaker ends such a job as Stopped (secondary status MaxRuntimeExceeded).
            run.status = "Stopped"
            run.failure = f"MaxRuntimeExceeded: the job ran longer than {max_runtime} s"
        for follower in followers:
            follower.close()
        failed = {n: c for n, c in (codes or {}).items() if c != 0}
        if failed:
            name, code = sorted(failed.items())[0]
            host = next(s.hostname for s in specs if s.name == name)
            reason = _read_reason(output_dirs[host], reason_files)
            run.status = "Failed"
            run.failure = (
                f"AlgorithmError: {reason}"
                if reason
                else f"AlgorithmError: See job logs for more information, exit code: {code}"
            )
    finally:
        containers.remove(names)
    return run


def _resource_config(host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    return {
        "current_host": host,
        "hosts": hosts,
        "current_instance_type": instance_type,
        "network_interface_name": "eth0",
    }


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


def _shard(distribution: str, index: int, count: int) -> tuple[int, int] | None:
    return (index, count) if distribution == "ShardedByS3Key" and count > 1 else None


@dataclass(frozen=True)
class LocalContext:
    s3: Any
    state: str  # the state folder (a container label)
    region: str
    account: str
    out: Out = print
    logs: Out | None = None  # the containers' log lines; None: to ``out``

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name}"


def run_processing(ctx: LocalContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["ProcessingJobName"]
    cluster = request["ProcessingResources"]["ClusterConfig"]
    count = int(cluster["InstanceCount"])
    hosts = [f"algo-{i}" for i in range(1, count + 1)]
    app = request["AppSpecification"]
    isolated = bool(request.get("NetworkConfig", {}).get("EnableNetworkIsolation"))
    job_config = {**request, "ProcessingJobArn": ctx.arn("processing-job", name)}
    result: dict[str, Any] = {**job_config, "CreationTime": datetime.now(UTC)}
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        root = Path(tmp)
        specs, output_dirs = [], {}
        for index, host in enumerate(hosts):
            base = root / host
            mounts = [
                Mount(base / "config", "/opt/ml/config"),
                Mount(base / "output", "/opt/ml/output"),
            ]
            _write_json(base / "config/processingjobconfig.json", job_config)
            _write_json(
                base / "config/resourceconfig.json",
                _resource_config(host, hosts, cluster["InstanceType"]),
            )
            (base / "output").mkdir(parents=True, exist_ok=True)
            for item in request.get("ProcessingInputs", []):
                s3_input = item["S3Input"]
                local = base / "inputs" / item["InputName"]
                download_prefix(
                    ctx.s3,
                    s3_input["S3Uri"],
                    local,
                    _shard(s3_input.get("S3DataDistributionType", ""), index, count),
                )
                mounts.append(Mount(local, s3_input["LocalPath"]))
            for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
                local = base / "outputs" / item["OutputName"]
                local.mkdir(parents=True, exist_ok=True)
                mounts.append(Mount(local, item["S3Output"]["LocalPath"]))
            output_dirs[host] = base / "output"
            specs.append(
                ContainerSpec(
                    name=f"{name}-{host}",
                    image=app["ImageUri"],
                    hostname=host,
                    resource=name,
                    state=ctx.state,
                    mounts=mounts,
                    env=dict(request.get("Environment", {})),
                    entrypoint=app.get("ContainerEntrypoint"),
                    args=app.get("ContainerArguments", []),
                    network=f"{name}-net",
                )
            )
        containers.create_network(f"{name}-net", internal=isolated)
        try:
            run = run_hosts(
                specs,
                output_dirs,
                request["StoppingCondition"]["MaxRuntimeInSeconds"],
                ctx.out,
                reason_files=("failure", "message"),
                logs=ctx.logs,
            )
        finally:
            containers.remove_network(f"{name}-net")
        # EndOfJob upload: every host's files land in the same prefix, as on SageMaker.
        if run.status == "Completed":
            for host in hosts:
                for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
                    upload_dir(
                        ctx.s3,
                        root / host / "outputs" / item["OutputName"],
                        item["S3Output"]["S3Uri"],
                    )
        message = _read_reason(output_dirs[hosts[0]], ("message",))
    result.update(ProcessingJobStatus=run.status, ProcessingEndTime=datetime.now(UTC))
    if run.failure:
        result["FailureReason"] = run.failure
    if message:
        result["ExitMessage"] = message
    return result


def final_metrics(definitions: list[dict[str, str]], lines: list[str]) -> list[dict[str, Any]]:
    """The last value each MetricDefinitions regex found in the job's output."""
    found: dict[str, float] = {}
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        for line in lines:
            for match in pattern.finditer(line):
                try:
                    found[definition["Name"]] = float(match.group(1))
                except (IndexError, ValueError):
                    continue
    return [{"MetricName": k, "Value": v} for k, v in found.items()]


def _input_data_config(request: dict[str, Any]) -> dict[str, Any]:
    config = {}
    for channel in request.get("InputDataConfig", []):
        entry = {
            "TrainingInputMode": channel.get("InputMode")
            or request["AlgorithmSpecification"]["TrainingInputMode"],
            "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                "S3DataDistributionType", "FullyReplicated"
            ),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        config[channel["ChannelName"]] = entry
    return config


def run_training(ctx: LocalContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TrainingJobName"]
    resources = request["ResourceConfig"]
    count = int(resources["InstanceCount"])
    hosts = [f"algo-{i}" for i in range(1, count + 1)]
    algorithm = request["AlgorithmSpecification"]
    checkpoint = request.get("CheckpointConfig")
    result: dict[str, Any] = {
        **request,
        "TrainingJobArn": ctx.arn("training-job", name),
        "CreationTime": datetime.now(UTC),
    }
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        root = Path(tmp)
        specs, output_dirs = [], {}
        for index, host in enumerate(hosts):
            base = root / host
            config_dir = base / "input/config"
            _write_json(config_dir / "hyperparameters.json", request.get("HyperParameters", {}))
            _write_json(config_dir / "inputdataconfig.json", _input_data_config(request))
            _write_json(
                config_dir / "resourceconfig.json",
                _resource_config(host, hosts, resources["InstanceType"]),
            )
            for channel in request.get("InputDataConfig", []):
                source = channel["DataSource"]["S3DataSource"]
                download_prefix(
                    ctx.s3,
                    source["S3Uri"],
                    base / "input/data" / channel["ChannelName"],
                    _shard(source.get("S3DataDistributionType", ""), index, count),
                )
            for folder in ("model", "output/data", "checkpoints"):
                (base / folder).mkdir(parents=True, exist_ok=True)
            mounts = [
                Mount(base / "input", "/opt/ml/input"),
                Mount(base / "model", "/opt/ml/model"),
                Mount(base / "output", "/opt/ml/output"),
            ]
            if checkpoint:
                download_prefix(ctx.s3, checkpoint["S3Uri"], base / "checkpoints", required=False)
                mounts.append(
                    Mount(base / "checkpoints", checkpoint.get("LocalPath", "/opt/ml/checkpoints"))
                )
            output_dirs[host] = base / "output"
            env = {
                **request.get("Environment", {}),
                "TRAINING_JOB_NAME": name,
                "TRAINING_JOB_ARN": result["TrainingJobArn"],
                "AWS_REGION": ctx.region,
            }
            entrypoint = algorithm.get("ContainerEntrypoint")
            args = algorithm.get("ContainerArguments") or ([] if entrypoint else ["train"])
            specs.append(
                ContainerSpec(
                    name=f"{name}-{host}",
                    image=algorithm["TrainingImage"],
                    hostname=host,
                    resource=name,
                    state=ctx.state,
                    mounts=mounts,
                    env=env,
                    entrypoint=entrypoint,
                    args=args,
                    network=f"{name}-net",
                )
            )
        containers.create_network(
            f"{name}-net", internal=bool(request.get("EnableNetworkIsolation"))
        )
        try:
            run = run_hosts(
                specs,
                output_dirs,
                request["StoppingCondition"]["MaxRuntimeInSeconds"],
                ctx.out,
                logs=ctx.logs,
            )
        finally:
            containers.remove_network(f"{name}-net")
        result["FinalMetricDataList"] = final_metrics(
            algorithm.get("MetricDefinitions", []), run.lines
        )
        # SageMaker uploads the model even when the job was stopped; merge every host's
        # /opt/ml/model, the leader (algo-1) last so its files win.
        if run.status in ("Completed", "Stopped"):
            result["ModelArtifacts"] = {
                "S3ModelArtifacts": _upload_model(ctx, request, root, hosts)
            }
        if checkpoint:
            upload_dir(ctx.s3, root / hosts[0] / "checkpoints", checkpoint["S3Uri"])
    result.update(
        TrainingJobStatus=run.status,
        SecondaryStatus=(run.failure or "").split(":")[0]
        if run.failure and run.failure.startswith("MaxRuntime")
        else run.status,
        TrainingEndTime=datetime.now(UTC),
    )
    if run.failure:
        result["FailureReason"] = run.failure
    return result


def _upload_model(ctx: LocalContext, request: dict[str, Any], root: Path, hosts: list[str]) -> str:
    merged = root / "merged"
    data = root / "merged-output"
    for host in [*hosts[1:], hosts[0]]:
        shutil.copytree(root / host / "model", merged, dirs_exist_ok=True)
        shutil.copytree(root / host / "output/data", data, dirs_exist_ok=True)
    base = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    name = request["TrainingJobName"]
    uri = upload(
        ctx.s3,
        pack_model_tarball(merged, root / "model.tar.gz"),
        f"{base}/{name}/output/model.tar.gz",
    )
    upload(
        ctx.s3,
        pack_model_tarball(data, root / "output.tar.gz"),
        f"{base}/{name}/output/output.tar.gz",
    )
    return uri
