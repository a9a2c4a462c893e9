"""One function per ``mpg-launch`` subcommand: the parsed flags, the config and the clients in,
the exit code out. Each checks its flags, calls :mod:`mpg_launch.commands` (or the push, data
and log helpers) and prints what the user reads; :mod:`mpg_launch.cli` only parses the command
line and picks one of these from its table.

Clients come as ``connect``, called only by the subcommands that talk to a service: a dry run
creates none, and flags are checked before the clients (and, with ``--local``, the Docker
engine) are set up.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from mpg_launch import commands, endpoint_options, layout, registry, table
from mpg_launch import request_builders as build
from mpg_launch.aws import Clients, session
from mpg_launch.config import LaunchConfig, checked_hyperparameters, training_instances
from mpg_launch.ecr import content_tag, push_images
from mpg_launch.errors import ConfigError, LaunchError
from mpg_launch.pipeline import runs
from mpg_launch.pipeline.checks import check_definition
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.waiting import JOB_KINDS, LogTailer, Out

Connect = Callable[[], Clients]
Subcommand = Callable[[argparse.Namespace, LaunchConfig, Connect, Out], int]


def _runner(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> commands.Runner:
    clients = None if args.dry_run else connect()
    return commands.Runner(config, clients, out, args.dry_run, args.poll_seconds)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def hyperparameter_flags(pairs: Sequence[str]) -> dict[str, str]:
    """``-H KEY=VALUE`` flags as a map, checked with the training image's own parser."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LaunchError(f"--hyperparameter {pair!r}: write KEY=VALUE")
        values[key] = value
    return checked_hyperparameters(values, "--hyperparameter/-H")


def push(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    tag = args.tag or content_tag(Path.cwd())
    if args.dry_run:
        for image in args.images:
            out(
                f"{image}: mpg-{image}:{args.source_tag} -> "
                f"{config.registry}/{config.repository(image)}:{tag}"
            )
        return 0
    clients = connect()
    if clients.ecr is None:
        raise LaunchError("push talks to ECR; run it without --local")
    if not config.account_id:
        # The repositories belong to the caller's account (not necessarily the role's).
        account = session(config).client("sts").get_caller_identity()["Account"]
        config = replace(config, account_id=account)
    push_images(config, clients.ecr, tag, args.source_tag, args.images, out)
    out(f'image tag: {tag}  (set image_tag = "{tag}" in the config or MPG_IMAGE_TAG={tag})')
    return 0


def data(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    table.prepare_schema(config, args.dry_run, lambda: connect().s3, out)
    if args.dry_run:
        out("\n".join(layout.raw_uri(config, s) for s in layout.SPLITS))
        return 0
    # pandas loads only here: no other subcommand needs it.
    from mpg_launch.data import upload_splits

    uploaded = upload_splits(
        config, connect().s3, seed=args.seed, source=args.source, shards=args.shards, out=out
    )
    for split, uris in uploaded.items():
        out(f"{split}: {', '.join(uris)}")
    return 0


def preprocess(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    table.prepare_schema(config, args.dry_run, lambda: connect().s3, out)
    runner = _runner(args, config, connect, out)
    commands.preprocess(runner, args.job_name or layout.job_name("prep"))
    return 0


def train(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    hyperparameters = hyperparameter_flags(args.hyperparameter)
    training_instances(config)  # before any client or engine is set up
    commands.train(
        _runner(args, config, connect, out),
        args.job_name or layout.job_name("train"),
        args.preprocessing_job,
        not args.no_preprocessor,
        hyperparameters,
    )
    return 0


def tune(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    training_instances(config)  # before any client is set up
    commands.tune(
        _runner(args, config, connect, out),
        args.job_name or layout.job_name("tune", limit=layout.TUNING_NAME_LIMIT),
        args.preprocessing_job,
        args.max_jobs,
        args.max_parallel,
    )
    return 0


def deploy(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    # Flags over the config file's tables, checked before any client is made.
    config = endpoint_options.with_flags(config, vars(args))
    endpoint_options.check_deploy(config, args.pipeline)
    commands.deploy(
        _runner(args, config, connect, out),
        args.endpoint or config.endpoint_name,
        _stamp(),
        args.training_job,
        args.model_data,
        args.pipeline,
        args.preprocessing_job,
    )
    return 0


def predict(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    clients = connect()
    body = args.file.read_bytes() if args.file else sys.stdin.buffer.read()
    _, answer = commands.predict(
        clients, args.endpoint or config.endpoint_name, body, args.content_type, args.accept
    )
    out(answer.decode("utf-8").rstrip("\n"))
    return 0


def transform(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    if not 1 <= args.max_payload_mb <= 100:
        raise ConfigError(f"--max-payload-mb {args.max_payload_mb}: give 1 to 100 (MB)")
    if args.max_concurrent_transforms is not None and args.max_concurrent_transforms < 1:
        raise ConfigError("--max-concurrent-transforms: give 1 or more (or leave it out)")
    commands.transform(
        _runner(args, config, connect, out),
        args.job_name or layout.job_name("transform"),
        args.model,
        args.endpoint,
        args.input,
        max_payload_mb=args.max_payload_mb,
        max_concurrent=args.max_concurrent_transforms,
        batch_strategy=args.batch_strategy,
        content_type=args.content_type,
        data_processing=build.data_processing(
            args.input_filter, args.join_input, args.output_filter
        ),
    )
    return 0


def status(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    out(json.dumps(commands.status(connect(), args.kind, args.name), indent=2, default=str))
    return 0


def logs(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    clients = connect()
    if config.local:
        from mpg_launch.local.sagemaker import print_local_logs

        print_local_logs(args.name, out)
        return 0
    if clients.logs is None:
        raise LaunchError("no CloudWatch Logs client")
    if args.kind == "endpoint":
        group, prefix = f"/aws/sagemaker/Endpoints/{args.name}", "AllTraffic/"
    else:
        group, prefix = str(JOB_KINDS[args.kind].log_group), f"{args.name}/"
    if not LogTailer(clients.logs, group, prefix, out).poll():
        out(f"no log events in {group} for {prefix}")
    return 0


def delete(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    commands.delete(connect(), args.endpoint or config.endpoint_name, out)
    return 0


# SageMaker Pipelines and the Model Registry.
def pipeline_definition(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    definition = build_definition(config)
    check_definition(definition)
    out(json.dumps(definition, indent=2))
    return 0


def pipeline_upsert(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    table.prepare_schema(config, args.dry_run, lambda: connect().s3, out)
    runs.upsert(_runner(args, config, connect, out), build_definition(config), args.description)
    return 0


def pipeline_start(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    table.prepare_schema(config, args.dry_run, lambda: connect().s3, out)
    arn = runs.start(_runner(args, config, connect, out), args.parameter, args.display_name)
    if arn and args.follow:
        runs.follow(connect().sagemaker, arn, out, args.poll_seconds)
    return 0


def pipeline_follow(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    sagemaker = connect().sagemaker
    arn = args.execution or runs.latest_execution(sagemaker, config.pipeline_name)
    runs.follow(sagemaker, arn, out, args.poll_seconds)
    return 0


def pipeline_list(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    found = runs.executions(connect().sagemaker, config.pipeline_name, args.max_results)
    for line in runs.execution_lines(found) or [
        f"pipeline {config.pipeline_name} has no executions"
    ]:
        out(line)
    return 0


def registry_list(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    for line in registry.package_lines(connect(), config.model_package_group):
        out(line)
    return 0


def _registry_approval(status: str) -> Subcommand:
    """``registry approve`` and ``registry reject``: one call, another status."""

    def approval(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
        runner = _runner(args, config, connect, out)
        registry.set_approval(runner, args.package, status, args.description)
        return 0

    return approval


registry_approve = _registry_approval(registry.APPROVED)
registry_reject = _registry_approval(registry.REJECTED)


def registry_deploy(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    registry.deploy(
        _runner(args, config, connect, out),
        args.package,
        args.endpoint or config.endpoint_name,
        _stamp(),
    )
    return 0
