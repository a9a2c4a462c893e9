"""Issue 23: a local endpoint whose container dies is Failed, with the container's exit code,
as soon as anything looks: ``status`` (DescribeEndpoint) or ``predict`` (InvokeEndpoint).
Real containers on the local engine: one that exits with code 3, one that keeps running."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mpg_launch.cli.main import main
from mpg_launch.local.engine import containers
from mpg_launch.local.engine.containers import ContainerSpec
from mpg_launch.local.state import LocalState, state_label
from tests.helpers.common import IMAGE_TAG

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def endpoint_on(env: dict[str, str], endpoint: str, command: str) -> str:
    """An InService endpoint record whose one container runs ``command`` (labelled as the
    state folder's, so the ``env`` fixture removes it)."""
    state = Path(env["MPG_LOCAL_STATE_DIR"])
    name = containers.create(
        ContainerSpec(
            name=f"{endpoint}-{state_label(state)}-algo-1",
            image=f"mpg-serving:{IMAGE_TAG}",
            hostname="algo-1",
            resource=endpoint,
            state=state_label(state),
            entrypoint=["sh", "-c", command],
        )
    )
    containers.start(name)
    LocalState(state).put(
        "endpoints",
        endpoint,
        {
            "EndpointName": endpoint,
            "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}",
            "EndpointConfigName": f"{endpoint}-c",
            "EndpointStatus": "InService",
            "Instances": [[{"name": name, "port": 1}]],
        },
    )
    return name


def exited(name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while containers.exit_code(name) is None:
        assert time.monotonic() < deadline, f"{name} did not exit"
        time.sleep(0.1)


def status(env: dict[str, str], endpoint: str) -> dict[str, str]:
    lines: list[str] = []
    assert main(["status", "endpoint", endpoint, "--local"], env=env, out=lines.append) == 0
    return dict(json.loads(lines[0]))


def test_a_dead_container_is_seen_by_describe(env: dict[str, str]) -> None:
    name = endpoint_on(env, "dies", "exit 3")
    exited(name)
    described = status(env, "dies")
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == f"container {name} exited with code 3"
    # Recorded: another command sees it too, without looking at the container again.
    record = LocalState(Path(env["MPG_LOCAL_STATE_DIR"])).get("endpoints", "dies", "test")
    assert record["EndpointStatus"] == "Failed"


def test_a_dead_container_is_seen_by_invoke(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = endpoint_on(env, "dies-too", "exit 7")
    exited(name)
    rows = tmp_path / "rows.csv"
    rows.write_text("8,307,130,3504,12,70,1\n")
    argv = ["predict", "--local", "--endpoint", "dies-too", "--file", str(rows)]
    assert main(argv, env=env, out=lambda s: None) == 1
    err = capsys.readouterr().err
    assert f"not InService (Failed: container {name} exited with code 7)" in err
    assert status(env, "dies-too")["EndpointStatus"] == "Failed"


def test_a_running_container_leaves_the_endpoint_in_service(env: dict[str, str]) -> None:
    endpoint_on(env, "lives", "sleep 300")
    assert status(env, "lives")["EndpointStatus"] == "InService"
