"""``mpg-launch``: the command line over :mod:`mpg_launch.cli.verbs`.

Every subcommand takes the common settings (``--config``, ``--region``, ``--role``,
``--bucket``, ...), ``--dry-run`` (print the validated request JSON, call nothing) and
``--local`` (run the same requests on the local Docker engine).

This module only parses and dispatches: each subcommand is one function in
:mod:`mpg_launch.cli.verbs`, looked up in :func:`subcommand_table`. It imports only the standard
library and the light settings modules; boto3, botocore and the subcommands load once a
subcommand runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mpg_launch.cli.clients import default_clients
from mpg_launch.endpoint.rollout_settings import add_flags as add_rollout_flags
from mpg_launch.endpoint.settings import FLAGS as ENDPOINT_FLAGS
from mpg_launch.endpoint.settings import SWITCH_HELP, option, table
from mpg_launch.errors import LaunchError
from mpg_launch.settings.config import IMAGES, LaunchConfig, load_config
from mpg_launch.settings.declared import BY_KEY, SETTINGS

if TYPE_CHECKING:
    from mpg_launch.aws.clients import Clients
    from mpg_launch.cli.verbs import Subcommand

# Commands that submit jobs or models, so need the execution role.
_SUBMITS: tuple[str, ...] = ("preprocess", "train", "tune", "deploy", "transform")
_SUBMITS += ("pipeline definition", "pipeline upsert", "registry deploy")
_SUBMITS += ("monitor run", "monitor schedule")  # mpg_launch.monitor
ClientsFactory = Callable[[LaunchConfig, Callable[[str], None]], "Clients"]
# --help's text: plain words (the module docstring is for readers of the code).
DESCRIPTION = (
    "Run the Auto MPG stages on Amazon SageMaker, print their requests (--dry-run) or run "
    "them on the local Docker engine (--local)."
)
EXIT_CODES_HELP = (
    "exit codes: 0 done; 1 a job, execution or endpoint failed or was stopped, or AWS said no; "
    "2 a usage or validation error, nothing sent; 130 interrupted"
)
# The flags that map onto LaunchConfig fields (argparse dest -> key), from their declarations.
_SETTINGS = {dest: s.key for s in SETTINGS if not s.switch and (dest := s.dest)}


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings (flags > MPG_* env > config file)")
    group.add_argument("--config", type=Path, help="TOML or JSON settings file (MPG_CONFIG)")
    for setting in SETTINGS:
        if setting.flag and setting.help and not setting.switch:
            group.add_argument(setting.flag, *setting.aliases, help=setting.help)
    isolation = BY_KEY["network_isolation"]
    assert isolation.flag is not None
    group.add_argument(isolation.flag, action="store_true", help=isolation.help)
    common.add_argument(
        "--local",
        action="store_true",
        help="run on the local Docker engine with the project's images",
    )
    common.add_argument(
        "--dry-run", action="store_true", help="print the validated request JSON and call nothing"
    )
    common.add_argument(
        "--verbose",
        action="store_true",
        help="with --local pipelines: print the containers' log lines under their step",
    )
    # How often waiters ask (tests pass 0): hidden, but checked like every other flag.
    common.add_argument("--poll-seconds", type=_poll_seconds, default=10.0, help=argparse.SUPPRESS)
    return common


def _poll_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= 3600:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds from 0 to 3600")
    return seconds


class OneLineParser(argparse.ArgumentParser):
    """argparse with the launcher's error contract: a usage error is one ``mpg-launch:
    error:`` line naming the command (and where its help is), exit 2, like every other error.
    Subcommands' parsers are of this class too (add_subparsers uses the parent's class)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("mpg-launch").strip()
        where = f"{command}: " if command else ""
        self.exit(
            2, f"mpg-launch: error: {where}{' '.join(message.split())} (see {self.prog} --help)\n"
        )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = OneLineParser(prog="mpg-launch", description=DESCRIPTION, epilog=EXIT_CODES_HELP)
    sub: Any = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help_text, description=help_text)

    from mpg_launch.table.init_schema import TASK_CHOICES, add_init_command

    add_init_command(sub)

    help_text = (
        "a headered CSV and its target column to a local endpoint in one command: schema, "
        "splits, preprocess, train, evaluate, deploy (steps whose inputs are unchanged are reused)"
    )
    p = command("quickstart", help_text)
    # --table FILE.csv (required here) is the common setting every command on a table takes.
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--task", choices=TASK_CHOICES, help="default: inferred from the target column")
    p.add_argument("--seed", type=int, default=42, help="the splits' seed (default 42)")

    p = command("push", "create the ECR repositories if missing, log in, tag and push")
    p.add_argument("--tag", help="tag to push (default: git-<sha> of this checkout)")
    p.add_argument("--source-tag", default="latest", help="local tag of mpg-<image>")
    p.add_argument("--images", nargs="+", choices=IMAGES, default=list(IMAGES))

    p = command("data", "upload the seeded train/validation/test splits to S3")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--source", help="'uci', a file or a URL (default: the bundled copy)")
    p.add_argument(
        "--shards",
        type=int,
        default=1,
        metavar="K",
        help="write each split (and the batch input) as K files, rows dealt among them, "
        "for ShardedByS3Key over several instances",
    )

    p = command("preprocess", "run the preprocessing job")
    p.add_argument("--job-name")

    p = command("train", "run a training job on a preprocessing job's features")
    p.add_argument("--job-name")
    p.add_argument("--preprocessing-job", required=True)
    p.add_argument(
        "--no-preprocessor",
        action="store_true",
        help="train a features->mpg model (for deploy --pipeline)",
    )
    p.add_argument("--hyperparameter", "-H", action="append", default=[], metavar="KEY=VALUE")

    p = command("tune", "run a hyperparameter tuning job minimising validation:rmse")
    p.add_argument("--job-name", help="at most 32 characters")
    p.add_argument("--preprocessing-job", required=True)
    p.add_argument("--max-jobs", type=int, default=8)
    p.add_argument("--max-parallel", type=int, default=2)

    p = command("deploy", "create a model, an endpoint config and the endpoint (or update it)")
    p.add_argument("--endpoint", help="endpoint name (default: 'endpoint_name' setting)")
    p.add_argument("--training-job", help="training job whose model.tar.gz to serve")
    p.add_argument("--model-data", help="s3://.../model.tar.gz instead of --training-job")
    p.add_argument(
        "--pipeline",
        action="store_true",
        help="two containers: the preprocessor, then a model trained with --no-preprocessor",
    )
    p.add_argument("--preprocessing-job", help="with --pipeline: the preprocessor's job")
    _endpoint_flags(p)
    add_rollout_flags(p)

    p = command("predict", "send CSV or JSON rows (file or stdin) to an endpoint")
    p.add_argument("--endpoint")
    p.add_argument("--file", type=Path, help="rows to send (default: stdin)")
    p.add_argument(
        "--content-type",
        default="text/csv",
        choices=["text/csv", "application/json", "application/jsonlines"],
    )
    p.add_argument("--accept", default="text/csv")
    group = p.add_argument_group("asynchronous endpoints")
    group.add_argument(
        "--async", dest="async_call", action="store_true", help="InvokeEndpointAsync"
    )
    group.add_argument(
        "--input",
        help="s3:// URI of the body, or a file (inline up to 128,000 bytes, else uploaded)",
    )
    group.add_argument("--wait", action="store_true", help="wait for the answer and print it")
    group.add_argument("--output", type=Path, help="with --wait: save the answer to this file")
    group.add_argument("--inference-id", help="your id for the request (default: SageMaker's)")

    p = command("transform", "batch transform headerless CSV rows (Line split, MultiRecord)")
    p.add_argument("--job-name")
    p.add_argument("--model", help="model name (default: the model of --endpoint)")
    p.add_argument("--endpoint")
    p.add_argument("--input", help="s3:// prefix of the rows (default: <prefix>/data/batch/)")
    _transform_options(p)

    p = command("status", "describe a job or an endpoint")
    p.add_argument("kind", choices=["processing", "training", "transform", "tuning", "endpoint"])
    p.add_argument("name")

    p = command("logs", "print a job's or an endpoint's logs so far")
    p.add_argument("kind", choices=["processing", "training", "transform", "endpoint"])
    p.add_argument("name")

    p = command(
        "delete",
        "delete an endpoint mpg-launch created, with its configs, models, alarms and monitor "
        "schedules (none that another endpoint uses)",
    )
    p.add_argument("--endpoint")
    p.add_argument(
        "--force",
        action="store_true",
        help="delete an endpoint mpg-launch did not create (asks for its name on a terminal)",
    )
    p.add_argument("--yes", action="store_true", help="with --force: no question (scripts)")
    _pipeline_commands(sub, common)
    from mpg_launch.monitor.commands import add_commands as add_monitor_commands

    add_monitor_commands(sub, common)
    return parser


def _endpoint_flags(p: argparse.ArgumentParser) -> None:
    """deploy's --[no-]autoscaling, --[no-]serverless, --[no-]data-capture and their values
    (over the config file's tables of the same names)."""
    for section, flags in ENDPOINT_FLAGS.items():
        group = p.add_argument_group(f"{option(section)} (config file: [{table(section)}])")
        group.add_argument(
            f"--{option(section)}",
            dest=section,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=SWITCH_HELP[section],
        )
        for flag in flags:
            group.add_argument(
                flag.flag, dest=flag.field, type=flag.type, metavar=flag.metavar, help=flag.help
            )


def _pipeline_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``pipeline ACTION`` and ``registry ACTION``: each action is a subcommand of its own."""

    def group(name: str, help_text: str) -> Callable[[str, str], argparse.ArgumentParser]:
        actions = sub.add_parser(name, help=help_text, description=help_text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )

        def action(action_name: str, action_help: str) -> argparse.ArgumentParser:
            p = actions.add_parser(
                action_name, parents=[common], help=action_help, description=action_help
            )
            if name == "pipeline":
                p.add_argument("--pipeline-name", help="default: 'pipeline_name' (mpg-pipeline)")
            p.add_argument(
                "--model-package-group", help="default: 'model_package_group' (mpg-models)"
            )
            return p

        return action

    action = group("pipeline", "SageMaker Pipeline: preprocess, train, evaluate, gate, register")
    action("definition", "print the pipeline definition JSON (checked; nothing is sent)")
    p = action("upsert", "create the pipeline or update it (and its model package group)")
    p.add_argument("--description")
    p = action("start", "start an execution, with parameter overrides")
    p.add_argument("--parameter", "-P", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--display-name")
    p.add_argument("--follow", action="store_true", help="then follow it (as `follow`)")
    p = action("follow", "print each step's status until the execution ends")
    p.add_argument("execution", nargs="?", help="execution ARN (default: the latest)")
    p = action("list", "list the pipeline's executions, newest first")
    p.add_argument("--max-results", type=int, default=20)

    action = group("registry", "Model Registry: list, approve, reject, deploy model packages")
    action("list", "the group's model packages: version, approval status, metrics")
    for verb in ("approve", "reject"):
        p = action(verb, f"{verb} a model package (ARN or version number)")
        p.add_argument("package")
        p.add_argument("--description", help="ApprovalDescription")
    p = action("deploy", "deploy an Approved model package to an endpoint")
    p.add_argument("package", help="ARN or version number")
    p.add_argument("--endpoint", help="endpoint name (default: 'endpoint_name' setting)")


def command_key(args: argparse.Namespace) -> str:
    """``train``, or ``pipeline start`` for the commands with actions."""
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if action else str(args.command)


def _transform_options(p: argparse.ArgumentParser) -> None:
    """Batch settings and DataProcessing (launch/README.md: "Scaling batch transform")."""
    batch = p.add_argument_group("batch settings")
    batch.add_argument(
        "--max-payload-mb", type=int, default=6, help="MaxPayloadInMB, 1-100 (default 6)"
    )
    batch.add_argument(
        "--max-concurrent-transforms",
        type=int,
        help="requests in flight per instance (default: the container's /execution-parameters)",
    )
    batch.add_argument(
        "--batch-strategy", choices=["MultiRecord", "SingleRecord"], default="MultiRecord"
    )
    batch.add_argument(
        "--content-type",
        choices=["text/csv", "application/jsonlines"],
        default="text/csv",
        help="the records' format, and the answers' (default text/csv)",
    )
    joining = p.add_argument_group("DataProcessing (SageMaker's JSONPath subset)")
    joining.add_argument("--input-filter", help="the part of each record the model gets: $[2:]")
    joining.add_argument(
        "--join-input", action="store_true", help="JoinSource=Input: output = record + prediction"
    )
    joining.add_argument("--output-filter", help="the part of the joined record kept: $[0,1,-1]")


def config_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> LaunchConfig:
    overrides: dict[str, Any] = {
        field: getattr(args, flag, None) for flag, field in _SETTINGS.items()
    }
    # quickstart always runs locally: it deploys a local endpoint.
    overrides["local"] = args.local or args.command == "quickstart" or None
    overrides["verbose"] = args.verbose or None
    if args.no_network_isolation:
        overrides["network_isolation"] = False
    return load_config(
        args.config,
        env,
        overrides,
        need_role=command_key(args) in _SUBMITS,
        need_bucket=args.command != "push",
    )


def subcommand_table() -> dict[str, Subcommand]:
    """The function each subcommand runs."""
    # Imported here, not at the top: it loads boto3 and botocore, which --help does not need.
    from mpg_launch.cli import verbs as run
    from mpg_launch.monitor.commands import table as monitor_table

    return {
        "quickstart": run.quickstart,
        "push": run.push,
        "data": run.data,
        "preprocess": run.preprocess,
        "train": run.train,
        "tune": run.tune,
        "deploy": run.deploy,
        "predict": run.predict,
        "transform": run.transform,
        "status": run.status,
        "logs": run.logs,
        "delete": run.delete,
        "pipeline definition": run.pipeline_definition,
        "pipeline upsert": run.pipeline_upsert,
        "pipeline start": run.pipeline_start,
        "pipeline follow": run.pipeline_follow,
        "pipeline list": run.pipeline_list,
        "registry list": run.registry_list,
        "registry approve": run.registry_approve,
        "registry reject": run.registry_reject,
        "registry deploy": run.registry_deploy,
        **monitor_table(),
    }


def run(
    args: argparse.Namespace,
    config: LaunchConfig,
    factory: ClientsFactory,
    out: Callable[[str], None],
) -> int:
    from mpg_launch.cli.verbs import with_table

    config = with_table(args, config, out)  # a table's schema, prefix and endpoint, found once
    # Clients are made on first use, once. A dry run gets clients that refuse every call
    # (mpg_launch.aws.dry_run), so no code path can reach AWS or the Docker engine.
    if args.dry_run:
        from mpg_launch.aws.dry_run import refusing_clients

        connect = functools.cache(refusing_clients)
    else:
        connect = functools.cache(lambda: factory(config, out))
    return subcommand_table()[command_key(args)](args, config, connect, out)


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    factory: ClientsFactory = default_clients,
    out: Callable[[str], None] = print,
) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if env is None else env
    previous = _handle_termination()
    try:
        return _run_and_report(args, env, factory, out)
    except Terminated as stop:  # SIGTERM/SIGHUP, cleaned up as Ctrl-C is: 128 + the signal
        print(f"mpg-launch: interrupted ({stop.name})", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:  # here, so Ctrl-C while an error is reported is 130 too
        print("mpg-launch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mpg-launch ... | head`): stop, without a traceback, and point
        # stdout at /dev/null so the interpreter's last flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("mpg-launch: stopped: the output's reader closed the pipe", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI runners, ``timeout`` and systemd send) or SIGHUP (a closed terminal),
    raised where Ctrl-C's KeyboardInterrupt is, so every cleanup Ctrl-C runs (containers
    stopped, records Stopped) runs for them too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _handle_termination() -> dict[int, Any]:
    """SIGTERM and SIGHUP handled like Ctrl-C for the command's run; the previous handlers
    returned, to be put back (only the main thread may set them: else nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {
        signum: signal.signal(signum, _raise_terminated)
        for signum in (signal.SIGTERM, signal.SIGHUP)
    }


def _init_state_root(env: Mapping[str, str]) -> Path:
    """Where init remembers its schema: init reads no config file, so the state folder is
    ``local_state_dir``'s variable (MPG_LOCAL_STATE_DIR), else the local double's default."""
    from mpg_launch.cli.clients import state_folder

    return state_folder(next((env[v] for v in BY_KEY["local_state_dir"].env if env.get(v)), None))


def _run_and_report(
    args: argparse.Namespace,
    env: Mapping[str, str],
    factory: ClientsFactory,
    out: Callable[[str], None],
) -> int:
    """Run the subcommand; each error a user can meet is one line and its exit code."""
    if args.command == "init":  # reads a local table: no settings, no AWS
        from mpg_launch.table.init_schema import run_init

        return run_init(args, _init_state_root(env), out)
    # Not at the top: --help and usage errors exit above without loading botocore.
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        ParamValidationError,
    )

    from mpg_launch.aws.dry_run import DryRunRefused, DryRunStop
    from mpg_launch.aws.plan import PlanShown

    try:
        config = config_from_args(args, env)
        return run(args, config, factory, out)
    except PlanShown:  # a dry run printed the command's plan
        return 0
    except DryRunStop as stop:
        out(stop.text)
        print(
            f"mpg-launch: dry run: stopped at {stop.submission.operation}: what follows needs "
            "its answer; nothing was sent",
            file=sys.stderr,
        )
        return 0
    except DryRunRefused as exc:
        print(f"mpg-launch: error: {exc}", file=sys.stderr)
        return 1
    except LaunchError as exc:
        print(f"mpg-launch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except NoCredentialsError:
        print(
            "mpg-launch: error: no AWS credentials; configure them (aws configure, "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID) or use --dry-run/--local",
            file=sys.stderr,
        )
        return 2
    except ClientError as exc:
        print(
            f"mpg-launch: error: AWS refused {exc.operation_name}: {' '.join(str(exc).split())}",
            file=sys.stderr,
        )
        return 1
    except ParamValidationError as exc:  # botocore checks before sending: nothing was sent
        print(f"mpg-launch: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except S3UploadFailedError as exc:  # S3 said no to an upload
        print(f"mpg-launch: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"mpg-launch: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
