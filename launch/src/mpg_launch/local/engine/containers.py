"""Containers the way SageMaker runs them: hosts ``algo-1..N`` on a private network, SIGTERM
then SIGKILL after the platform's grace period, logs streamed line by line."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mpg_launch.errors import DockerError
from mpg_launch.images.docker import docker, docker_binary

LABEL = "mpg-launch"
# Grace periods between SIGTERM and SIGKILL: training/processing get 120 s, endpoints 30 s.
JOB_STOP_GRACE = 120
ENDPOINT_STOP_GRACE = 30
# Ctrl-C is the user's "stop now": SIGTERM, then SIGKILL after this. Our images end on SIGTERM
# from their first instant; this bounds the wait for any other image to a few seconds.
USER_STOP_GRACE = 3
USER_STOPPED = "Stopped by the user (Ctrl-C)"


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    hostname: str
    resource: str  # the job or endpoint this container belongs to (a label)
    state: str  # the state folder that owns it (a label), so cleanup finds only ours
    mounts: Sequence[Mount] = ()
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: Sequence[str] | None = None
    args: Sequence[str] = ()
    network: str | None = None  # a network name, or "container:<name>" to share one
    ports: Sequence[int] = ()  # published on 127.0.0.1, random host ports


def create(spec: ContainerSpec) -> str:
    argv = [
        "create",
        # Docker's init as PID 1 passes signals on, so a container's process reacts to SIGTERM
        # from its first instant, before its interpreter could install a handler (a PID 1
        # without one ignores SIGTERM: Ctrl-C would wait for SIGKILL). Images must still end
        # on SIGTERM by themselves on SageMaker; tests/image checks that without --init.
        "--init",
        "--name",
        spec.name,
        "--label",
        f"{LABEL}=1",
        "--label",
        f"{LABEL}.resource={spec.resource}",
        "--label",
        f"{LABEL}.state={spec.state}",
    ]
    if spec.network and spec.network.startswith("container:"):
        argv += ["--network", spec.network]
    else:
        argv += ["--hostname", spec.hostname]
        if spec.network:
            argv += ["--network", spec.network, "--network-alias", spec.hostname]
    for mount in spec.mounts:
        argv += ["-v", f"{mount.host}:{mount.container}" + (":ro" if mount.read_only else "")]
    for key, value in sorted(spec.env.items()):
        argv += ["-e", f"{key}={value}"]
    for port in spec.ports:
        argv += ["-p", f"127.0.0.1::{port}"]
    if spec.entrypoint is not None:
        # --entrypoint takes one word; the rest of the entrypoint goes before the args.
        argv += ["--entrypoint", spec.entrypoint[0]]
    argv.append(spec.image)
    argv += [*(spec.entrypoint or [])[1:], *spec.args]
    docker(argv)
    return spec.name


def start(name: str) -> None:
    docker(["start", name])


def host_port(name: str, port: int) -> int:
    text = docker(["port", name, f"{port}/tcp"]).stdout.strip().splitlines()
    if not text:
        raise DockerError(f"container {name} publishes no port {port}")
    return int(text[0].rsplit(":", 1)[1])


def is_running(name: str) -> bool:
    done = docker(["inspect", "--format", "{{.State.Running}}", name], check=False)
    return done.stdout.strip() == "true"


def exit_code(name: str) -> int | None:
    """None while ``name`` runs (or has not started); a DockerError once it is gone (a
    Ctrl-C removed it), so no one waits on it for ever."""
    done = docker(
        ["inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name], check=False
    )
    if done.returncode != 0:
        raise DockerError(f"container {name} is gone")
    running, _, code = done.stdout.strip().partition(" ")
    return None if running != "false" else int(code)


def logs_tail(name: str, lines: int = 20) -> str:
    done = docker(["logs", "--tail", str(lines), name], check=False)
    return (done.stdout + done.stderr).strip()


def stop(names: Sequence[str], grace: int) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (what SageMaker does)."""
    if names:
        docker(["stop", "--time", str(grace), *names], check=False, timeout=grace + 60)


def remove(names: Sequence[str]) -> None:
    if names:
        docker(["rm", "--force", *names], check=False)


def owned(state: str, resource: str | None = None) -> list[str]:
    """Names of containers this state folder started (optionally for one resource)."""
    argv = ["ps", "--all", "--format", "{{.Names}}", "--filter", f"label={LABEL}.state={state}"]
    if resource:
        argv += ["--filter", f"label={LABEL}.resource={resource}"]
    return sorted(docker(argv).stdout.split())


def owned_any(resource: str) -> list[str]:
    """Names of containers any launcher started for ``resource``."""
    argv = [
        "ps",
        "--all",
        "--format",
        "{{.Names}}",
        "--filter",
        f"label={LABEL}.resource={resource}",
    ]
    return sorted(docker(argv).stdout.split())


def create_network(name: str, internal: bool) -> str:
    # --internal: no route out, as with EnableNetworkIsolation; hosts still see each other.
    docker(
        ["network", "create", *(["--internal"] if internal else []), "--label", f"{LABEL}=1", name]
    )
    return name


def remove_network(name: str) -> None:
    docker(["network", "rm", name], check=False)


class LogFollower:
    """Streams a container's output, one prefixed line at a time, in a thread."""

    def __init__(self, name: str, prefix: str, sink: Callable[[str, str], None]) -> None:
        self._process = subprocess.Popen(
            [docker_binary(), "logs", "--follow", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._thread = threading.Thread(target=self._pump, args=(prefix, sink), daemon=True)
        self._thread.start()

    def _pump(self, prefix: str, sink: Callable[[str, str], None]) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            sink(prefix, line.rstrip("\n"))

    def close(self, timeout: float = 10.0) -> None:
        """Wait for the rest of the output (the container has exited), then stop."""
        self._thread.join(timeout)
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait(timeout)


def wait_all(names: Sequence[str], deadline: float, poll: float = 0.5) -> dict[str, int] | None:
    """Exit codes once every container has exited, or None at the deadline."""
    while True:
        codes = {n: exit_code(n) for n in names}
        if all(c is not None for c in codes.values()):
            return {n: int(c) for n, c in codes.items() if c is not None}
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)
