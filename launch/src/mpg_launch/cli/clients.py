"""Which clients a command gets: AWS's, or the local double's with ``--local``. The one place
outside :mod:`mpg_launch.local` that imports it, so the rest of the launcher cannot tell the
double from AWS.

Light at import (``--help`` loads this module): boto3 and the double load inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mpg_launch.settings.config import LaunchConfig

if TYPE_CHECKING:
    from mpg_launch.aws.clients import Clients

Out = Callable[[str], None]


def default_clients(config: LaunchConfig, out: Out = print) -> Clients:
    if config.local:
        return local_clients(config, out)  # local jobs stream container output to ``out``
    from mpg_launch.aws.clients import aws_clients

    return aws_clients(config)


def state_root(config: LaunchConfig) -> Path:
    """The local state folder: ``local_state_dir``, else the double's default."""
    return state_folder(config.local_state_dir)


def state_folder(local_state_dir: str | None) -> Path:
    from mpg_launch.local.state import DEFAULT_STATE_DIR

    return Path(local_state_dir) if local_state_dir else DEFAULT_STATE_DIR


def local_clients(config: LaunchConfig, out: Out = print) -> Clients:
    """The local double's clients. S3 is a folder under the state folder (``local_s3 =
    "folder"``, the default: nothing outside this machine is reached), or S3 itself (``aws``:
    AWS, or the moto server the tests of the AWS path run)."""
    from mpg_launch.aws.clients import Clients, session
    from mpg_launch.images.docker import ensure_engine
    from mpg_launch.local.clients.cloudwatch import LocalCloudWatch
    from mpg_launch.local.clients.s3 import LocalS3
    from mpg_launch.local.clients.sagemaker import LocalRuntime, LocalSageMaker
    from mpg_launch.local.state import LocalState

    ensure_engine()
    root = state_root(config)
    state = LocalState(root)
    s3 = session(config).client("s3") if config.local_s3 == "aws" else LocalS3(root / "s3")
    return Clients(
        sagemaker=LocalSageMaker(s3, state, config.region, config.account, out, config.verbose),
        runtime=LocalRuntime(state, s3),
        s3=s3,
        logs=None,
        ecr=None,
        cloudwatch=LocalCloudWatch(state, config.region, config.account),
        # `monitor run --local` puts its alarms there (by its metrics): delete finds them there.
        monitor_cloudwatch=session(config).client("cloudwatch"),
    )


def print_local_logs(name: str, out: Out) -> None:
    """Logs of a running local endpoint's containers (jobs stream theirs while they run)."""
    from mpg_launch.local.engine import containers

    found = containers.owned_any(name)
    if not found:
        out(f"no running local containers for {name} (local jobs print their logs as they run)")
    for container in found:
        out(f"== {container}")
        out(containers.logs_tail(container, 200))
