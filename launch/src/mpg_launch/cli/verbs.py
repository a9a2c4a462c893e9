"""One function per ``mpg-launch`` subcommand: the parsed flags, the config and the clients in,
the exit code out. Each checks its flags, calls its package's commands
(:mod:`mpg_launch.jobs.run`, :mod:`mpg_launch.endpoint.run`, :mod:`mpg_launch.pipeline.runs`,
:mod:`mpg_launch.model_registry.run`, or the push, data and log helpers) and prints what the
user reads; :mod:`mpg_launch.cli.main` only parses the command line and picks one of these
from its table.

Clients come as ``connect``, called only by the subcommands that talk to a service; under
``--dry-run`` it gives clients that refuse every call (:mod:`mpg_launch.aws.dry_run`). Flags are
checked (:mod:`mpg_launch.settings.preflight`) before the clients (and, with ``--local``, the Docker
engine) are set up, the same with and without ``--dry-run``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mpg_launch.aws import names
from mpg_launch.aws.clients import Clients
from mpg_launch.aws.submit import Runner
from mpg_launch.aws.waiting import JOB_KINDS, LogTailer, Out
from mpg_launch.cli.clients import state_root
from mpg_launch.endpoint import async_invoke
from mpg_launch.endpoint import checks as endpoint_checks
from mpg_launch.endpoint import delete as endpoint_delete
from mpg_launch.endpoint import rollout_settings as rollout_options
from mpg_launch.endpoint import run as endpoint_run
from mpg_launch.endpoint import settings as endpoint_options
from mpg_launch.errors import ConfigError
from mpg_launch.images import push as image_push
from mpg_launch.images.ecr import content_tag
from mpg_launch.jobs import requests as build
from mpg_launch.jobs import run as jobs_run
from mpg_launch.model_registry import run as registry
from mpg_launch.pipeline import runs
from mpg_launch.pipeline.checks import check_definition
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.pipeline.outcome import execution_outcome
from mpg_launch.settings import preflight
from mpg_launch.settings.config import LaunchConfig, checked_hyperparameters, training_instances
from mpg_launch.table import remembered
from mpg_launch.table import schema as table

Connect = Callable[[], Clients]
Subcommand = Callable[[argparse.Namespace, LaunchConfig, Connect, Out], int]


# SageMaker's documented quotas for one tuning job ("Amazon SageMaker endpoints and quotas"):
# 750 training jobs in all, 100 at once; the service model states only the minimum of 1.
MAX_TUNING_JOBS = 750
MAX_PARALLEL_TUNING_JOBS = 100


def _runner(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> Runner:
    return Runner(config, connect(), out, args.dry_run, args.poll_seconds)


def _no_local(args: argparse.Namespace, why: str) -> None:
    """Refuse --local where it would change nothing, instead of ignoring it."""
    if args.local:
        raise ConfigError(f"{_command_name(args)} takes no --local: {why}; drop --local")


def _command_name(args: argparse.Namespace) -> str:
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if action else str(args.command)


_last_stamp = ""


def _stamp() -> str:
    """The UTC second that names a deploy's model and endpoint config. Two deploys in one
    process within a second (a script, a test) would get the same names, so the second waits
    for the clock's next second (at most one)."""
    global _last_stamp
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    while stamp == _last_stamp:
        time.sleep(0.05)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    _last_stamp = stamp
    return stamp


def hyperparameter_flags(pairs: Sequence[str]) -> dict[str, str]:
    """``-H KEY=VALUE`` flags as a map, checked with the training image's own parser."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--hyperparameter {pair!r}: write KEY=VALUE")
        values[key] = value
    return checked_hyperparameters(values, "--hyperparameter/-H")


def push(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    _no_local(args, "it pushes to ECR, and --local runs the images you built")
    preflight.image_tag(args.source_tag, "--source-tag")
    tag = preflight.image_tag(args.tag, "--tag") if args.tag else content_tag(Path.cwd())
    image_push.push(_runner(args, config, connect, out), tag, args.source_tag, args.images)
    out(f'image tag: {tag}  (set image_tag = "{tag}" in the config or MPG_IMAGE_TAG={tag})')
    return 0


def with_table(args: argparse.Namespace, config: LaunchConfig, out: Out) -> LaunchConfig:
    """The one lookup of the user's table, for every command but quickstart (which writes
    the schema) and push: the table given (``--table``, ``MPG_TABLE``, ``table``; for
    ``data``, a ``--source FILE.csv`` given without a schema is the table) narrows the config
    to its schema, prefix and endpoint (:func:`mpg_launch.table.remembered.for_table`)."""
    if args.command in ("quickstart", "push"):
        return config
    name = config.table
    if name is None and args.command == "data" and not config.schema:
        name = _csv_source(getattr(args, "source", None))
    if name is None:
        return config
    return remembered.for_table(config, state_root(config), name, out)


def _csv_source(source: str | None) -> str | None:
    """``data --source FILE.csv``: a headered table of the user's (auto-mpg.data is not)."""
    if source and source.lower().endswith(".csv") and Path(source).is_file():
        return source
    return None


def data(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    if config.local_s3 == "aws":  # with a folder for S3, --local writes the splits there
        _no_local(args, "S3 (or the moto server AWS_ENDPOINT_URL names) is the same either way")
    preflight.seed(args.seed)
    # --table FILE.csv is the data too, unless --source gives other rows for that table.
    source = args.source or config.table
    if not args.source and config.table and not Path(config.table).is_file():
        raise ConfigError(
            f"data --table {config.table}: no such file; give the table's CSV (--table "
            "FILE.csv), or its rows with --source FILE.csv"
        )
    preflight.data_source(source)
    schema = table.config_schema(config)  # checked before any client
    # pandas loads only here: no other subcommand needs it.
    from mpg_launch.table.data import apply_uploads, checked_splits

    splits = checked_splits(source, args.seed, args.shards, schema)  # before any client
    then = table.schema_steps(config, lambda: connect().s3, out)
    uploaded = apply_uploads(_runner(args, config, connect, out), splits, args.shards, then)
    for split, uris in uploaded.items():
        out(f"{split}: {', '.join(uris)}")
    return 0


def quickstart(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    """A CSV and its target to a local endpoint (:mod:`mpg_launch.quickstart.run`)."""
    preflight.seed(args.seed)
    if not config.table:
        raise ConfigError("quickstart needs --table FILE.csv (a headered CSV) and --target COLUMN")
    table_path = preflight.readable_file(Path(config.table), "--table")
    from mpg_launch.quickstart import run as quick
    from mpg_launch.quickstart.steps import metric_lines

    started = time.monotonic()
    runner = _runner(args, config, connect, out)
    done = quick.quickstart(
        runner, state_root(config), table_path, args.target, args.task, args.seed
    )
    out("")
    # The same summary on a first run and a rerun: read from what the run kept.
    for line in [*done.leaderboard, *metric_lines(done.metrics)]:
        out(line)
    out(f"report: {done.report}")
    out(f"endpoint {done.endpoint} answers {done.answer} for the table's row {done.row}")
    out(f"predict: {quick.predict_command(done)}")
    out(f"quickstart: done in {time.monotonic() - started:.0f} s")
    return 0


def preprocess(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    if args.job_name is not None:
        preflight.name(args.job_name, "--job-name")
    table.config_schema(config)  # checked before any client (uploaded by the command)
    runner = _runner(args, config, connect, out)
    jobs_run.preprocess(runner, args.job_name or names.job_name("prep"))
    return 0


def train(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    hyperparameters = hyperparameter_flags(args.hyperparameter)
    if args.job_name is not None:
        preflight.name(args.job_name, "--job-name")
    training_instances(config)  # before any client or engine is set up
    jobs_run.train(
        _runner(args, config, connect, out),
        args.job_name or names.job_name("train"),
        args.preprocessing_job,
        not args.no_preprocessor,
        hyperparameters,
    )
    return 0


def tune(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    # --local: random search, one job at a time (mpg_launch.local.engine.tuning).
    training_instances(config)  # before any client is set up
    if args.job_name is not None:
        preflight.name(args.job_name, "--job-name", names.TUNING_NAME_LIMIT)
    for flag, value, limit in (
        ("--max-jobs", args.max_jobs, MAX_TUNING_JOBS),
        ("--max-parallel", args.max_parallel, MAX_PARALLEL_TUNING_JOBS),
    ):
        if value < 1:
            raise ConfigError(f"{flag} {value}: give 1 or more")
        if value > limit:
            raise ConfigError(f"{flag} {value}: give at most {limit} (SageMaker's tuning quota)")
    if args.max_parallel > args.max_jobs:
        raise ConfigError(
            f"--max-parallel {args.max_parallel} is above --max-jobs {args.max_jobs}; "
            "give at most as many parallel jobs as jobs"
        )
    jobs_run.tune(
        _runner(args, config, connect, out),
        args.job_name or names.job_name("tune", limit=names.TUNING_NAME_LIMIT),
        args.preprocessing_job,
        args.max_jobs,
        args.max_parallel,
    )
    return 0


def deploy(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    preflight.conflicting(
        {"--training-job": args.training_job, "--model-data": args.model_data},
        "give the training job whose model to serve, or the model's s3:// URI, not both",
    )
    if not (args.training_job or args.model_data):
        raise ConfigError("deploy needs --training-job NAME or --model-data s3://.../model.tar.gz")
    if args.model_data:
        preflight.s3_uri(args.model_data, "--model-data")
    preflight.needs("--preprocessing-job", args.preprocessing_job, "--pipeline", args.pipeline)
    preflight.needs("--pipeline", args.pipeline, "--preprocessing-job", args.preprocessing_job)
    _values_need_their_switch(args, config)
    endpoint = _endpoint(args, config)
    # Flags over the config file's tables, checked before any client is made.
    config = endpoint_options.with_flags(config, vars(args))
    config = rollout_options.with_flags(config, vars(args))
    endpoint_checks.check_deploy(config, args.pipeline)
    endpoint_run.deploy(
        _runner(args, config, connect, out),
        endpoint,
        _stamp(),
        args.training_job,
        args.model_data,
        args.pipeline,
        args.preprocessing_job,
    )
    return 0


# Sections whose values alone would silently switch them on: each value needs its switch.
_SWITCHED_SECTIONS = ("serverless", "data_capture", "async_inference")


def _values_need_their_switch(args: argparse.Namespace, config: LaunchConfig) -> None:
    """--memory-mb would silently make an endpoint serverless, --invocation-timeout
    asynchronous, --capture-percent capturing: each needs its switch (--serverless, --async,
    --data-capture) or its config table. Autoscaling's values turn autoscaling on, as
    documented: they cannot be meant otherwise."""
    for section in _SWITCHED_SECTIONS:
        if getattr(args, section, None) is not None or getattr(config, section):
            continue  # on: values apply; --no-<switch> with values: with_flags names the clash
        for flag in endpoint_options.FLAGS[section]:
            if getattr(args, flag.field, None) is not None:
                preflight.needs(flag.flag, True, f"--{endpoint_options.option(section)}", False)


def _endpoint_source(args: argparse.Namespace, config: LaunchConfig) -> str:
    if args.endpoint:
        return "--endpoint"
    return f"endpoint_name (from {config.source('endpoint_name')})"


def _endpoint(args: argparse.Namespace, config: LaunchConfig) -> str:
    """The endpoint deploy creates: any SageMaker name (its model and config names fit)."""
    name = args.endpoint or config.endpoint_name
    return preflight.endpoint_name(name, _endpoint_source(args, config))


def _existing_endpoint(args: argparse.Namespace, config: LaunchConfig) -> str:
    name = args.endpoint or config.endpoint_name
    return preflight.name(name, _endpoint_source(args, config))


def predict(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    if args.async_call or args.input:
        return _predict_async(args, config, connect, out)
    endpoint = _existing_endpoint(args, config)
    if args.file:
        body = preflight.readable_file(args.file, "--file").read_bytes()
    else:
        body = sys.stdin.buffer.read()
    if not body.strip():
        raise ConfigError(f"nothing to predict in {args.file or 'stdin'}: give CSV or JSON rows")
    _, answer = endpoint_run.predict(connect(), endpoint, body, args.content_type, args.accept)
    out(answer.decode("utf-8").rstrip("\n"))
    return 0


def _predict_async(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    if not (args.async_call and args.input):
        raise ConfigError(
            "predict --async needs --input s3://... or --input FILE (and the reverse)"
        )
    if args.file:
        raise ConfigError("predict --async reads --input, not --file; drop --file")
    if args.output and not args.wait:
        raise ConfigError("--output saves the answer --wait waits for; add --wait")
    async_invoke.check_input(args.input)
    if args.inference_id is not None:
        async_invoke.check_inference_id(args.inference_id)
    async_invoke.run(
        _runner(args, config, connect, out),
        args.endpoint or config.endpoint_name,
        args.input,
        args.content_type,
        args.accept,
        inference_id=args.inference_id,
        wait_answer=args.wait,
        save_to=args.output,
        poll_seconds=min(args.poll_seconds, 5.0),
    )
    return 0


def transform(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    preflight.conflicting(
        {"--model": args.model, "--endpoint": args.endpoint},
        "give the model to run, or the endpoint whose model to run, not both",
    )
    if not (args.model or args.endpoint):
        raise ConfigError("transform needs --model NAME or --endpoint NAME (its model)")
    if args.job_name is not None:
        preflight.name(args.job_name, "--job-name")
    if args.input:
        preflight.s3_uri(args.input, "--input")
    if not 1 <= args.max_payload_mb <= 100:
        raise ConfigError(f"--max-payload-mb {args.max_payload_mb}: give 1 to 100 (MB)")
    if args.max_concurrent_transforms is not None and args.max_concurrent_transforms < 1:
        raise ConfigError("--max-concurrent-transforms: give 1 or more (or leave it out)")
    jobs_run.transform(
        _runner(args, config, connect, out),
        args.job_name or names.job_name("transform"),
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
    preflight.name(args.name, f"{args.kind} name")
    out(json.dumps(jobs_run.status(connect(), args.kind, args.name), indent=2, default=str))
    return 0


def logs(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    preflight.name(args.name, f"{args.kind} name")
    runner = _runner(args, config, connect, out)
    clients = connect()
    if config.local:
        from mpg_launch.cli.clients import print_local_logs

        runner.observe(
            lambda c: print_local_logs(args.name, out),
            dry=lambda: out(
                f"dry run: would print the local containers' logs of {args.name}; nothing read"
            ),
        )
        return 0
    if clients.logs is None:
        raise ConfigError("no CloudWatch Logs client here")
    if args.kind == "endpoint":
        group, prefix = f"/aws/sagemaker/Endpoints/{args.name}", "AllTraffic/"
    else:
        group, prefix = str(JOB_KINDS[args.kind].log_group), f"{args.name}/"
    if not LogTailer(clients.logs, group, prefix, out).poll():
        out(f"no log events in {group} for {prefix}")
    return 0


def delete(args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out) -> int:
    endpoint = _existing_endpoint(args, config)
    if args.yes and not args.force:
        raise ConfigError("--yes needs --force; add --force or drop --yes")

    def confirm(plan: endpoint_delete.Plan) -> bool:
        """--yes, or the endpoint's name typed on a terminal."""
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError(
                f"delete --force of endpoint {endpoint}, which mpg-launch did not create, needs "
                "its name typed on a terminal, or --yes in scripts; nothing sent"
            )
        print(f"type the endpoint's name ({endpoint}) to delete it: ", end="", file=sys.stderr)
        sys.stderr.flush()
        return sys.stdin.readline().strip() == endpoint

    endpoint_delete.delete(connect(), endpoint, out, force=args.force, confirm=confirm)
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
    table.config_schema(config)  # checked before any client (uploaded by the command)
    runs.upsert(_runner(args, config, connect, out), build_definition(config), args.description)
    return 0


def pipeline_start(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    preflight.pipeline_overrides(args.parameter)
    table.config_schema(config)  # checked before any client (uploaded by the command)
    arn = runs.start(_runner(args, config, connect, out), args.parameter, args.display_name)
    if arn and args.follow:
        runs.follow(connect().sagemaker, arn, out, args.poll_seconds)
    elif arn:
        # A local execution runs to its end before start returns: exit 1 if it failed.
        execution_outcome(connect().sagemaker, arn)
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
    if not 1 <= args.max_results <= runs.MAX_RESULTS:
        raise ConfigError(f"--max-results {args.max_results}: give 1 to {runs.MAX_RESULTS}")
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
        registry.check_package(args.package, config)
        runner = _runner(args, config, connect, out)
        registry.set_approval(runner, args.package, status, args.description)
        return 0

    return approval


registry_approve = _registry_approval(registry.APPROVED)
registry_reject = _registry_approval(registry.REJECTED)


def registry_deploy(
    args: argparse.Namespace, config: LaunchConfig, connect: Connect, out: Out
) -> int:
    registry.check_package(args.package, config)
    endpoint = _endpoint(args, config)
    registry.deploy(_runner(args, config, connect, out), args.package, endpoint, _stamp())
    return 0
