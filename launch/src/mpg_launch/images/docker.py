"""The docker CLI, called with argument lists (never a shell string)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

from mpg_launch.errors import DockerError

log = logging.getLogger(__name__)


def docker_binary() -> str:
    found = shutil.which("docker")
    if not found:
        raise DockerError("the docker CLI is not on PATH; install Docker to push or run --local")
    return found


def docker(
    args: Sequence[str],
    *,
    input_text: str | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``docker <args>``; on failure raise DockerError with docker's last error line.
    ``input_text`` goes to stdin (how passwords are passed: never in argv)."""
    argv = [docker_binary(), *args]
    log.debug("docker %s", args[0] if args else "")
    try:
        done = subprocess.run(
            argv, input=input_text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DockerError(f"docker {args[0]} did not finish within {timeout} s") from None
    if check and done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise DockerError(f"docker {args[0]} failed: {lines[-1] if lines else done.returncode}")
    return done


def ensure_engine() -> None:
    done = docker(["info", "--format", "{{.ServerVersion}}"], check=False, timeout=30)
    if done.returncode != 0:
        raise DockerError(
            "the Docker engine is not reachable; start it (e.g. `sudo systemctl "
            "start docker`) or point DOCKER_HOST at one"
        )


def image_exists(ref: str) -> bool:
    return docker(["image", "inspect", ref], check=False).returncode == 0


def image_architecture(ref: str) -> str:
    return docker(["image", "inspect", "--format", "{{.Architecture}}", ref]).stdout.strip()


def image_id(ref: str) -> str:
    """The image's content ID (``sha256:...``): a rebuilt image has a new one under the same
    name. DockerError naming the image when the engine does not have it."""
    done = docker(["image", "inspect", "--format", "{{.Id}}", ref], check=False, timeout=60)
    if done.returncode != 0:
        raise DockerError(
            f"image {ref} is not on the Docker engine; build it (`make images`, or `make images "
            "IMAGE_TAG=...` with MPG_LOCAL_IMAGE_TAG set to that tag)"
        )
    return done.stdout.strip()
