"""The local pipeline with docker-compose.yml, as `make pipeline` runs it: compose v1 here, and
v2 too where the plugin is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.common import REPO, free_port, wait_until

pytestmark = pytest.mark.docker


def compose_commands() -> list[list[str]]:
    found = []
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        found.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    return found


@pytest.mark.parametrize("compose", compose_commands(), ids=" ".join)
def test_local_pipeline_end_to_end(images, tmp_path: Path, compose: list[str]) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MPG_WORK_DIR": str(tmp_path / "work"),
        "MPG_SERVING_PORT": str(port),
        "COMPOSE_PROJECT_NAME": f"mpgtest{port}",
    }
    try:
        result = subprocess.run(
            [str(REPO / "containers/local-pipeline.sh"), " ".join(compose)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert "validation" in out and "RMSE" in out
        assert out.count("predicted") == 5
        assert (tmp_path / "work/training/model/artifact.json").is_file()

        def serving_healthy() -> bool:  # compose's own healthcheck on /ping (every 2 s)
            ps = subprocess.run(
                [*compose, "ps", "serving"], cwd=REPO, env=env, capture_output=True, text=True
            ).stdout
            return "(healthy)" in ps

        wait_until(serving_healthy, 60, "the serving healthcheck")
    finally:
        subprocess.run(
            [*compose, "down", "--remove-orphans"],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=120,
        )


def test_compose_file_is_valid_for_every_installed_compose() -> None:
    commands = compose_commands()
    assert commands, "no compose CLI installed"
    for compose in commands:
        result = subprocess.run(
            [*compose, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (compose, result.stderr)
