"""push: ECR API calls to moto, docker login/push to a real registry process, pull back."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from mpg_launch.cli.main import main
from mpg_launch.images import docker as docker_module

REGION = "us-east-1"
PASSWORD = "123456789012-auth-token"  # moto's ECR token password (see conftest)
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.timeout(600)]


def test_push_creates_repos_logs_in_through_stdin_and_pushes(
    aws_env: dict[str, str], registry: str, docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], Any]] = []
    real_run = subprocess.run

    def recording_run(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append((list(argv), kwargs.get("input")))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(docker_module.subprocess, "run", recording_run)
    lines: list[str] = []
    code = main(
        ["push", "--tag", "git-test1", "--registry", registry, "--images", "serving"],
        out=lines.append,
    )
    assert code == 0, lines
    target = f"{registry}/mpg-serving:git-test1"
    assert f"serving: pushed {target}" in lines

    # The password went through stdin only, never argv, never the output.
    login = [c for c in calls if c[0][1:2] == ["login"]]
    assert login and login[0][1] == PASSWORD
    assert all(PASSWORD not in " ".join(argv) for argv, _ in calls)
    assert all(PASSWORD not in line for line in lines)

    repo = boto3.client("ecr", region_name=REGION).describe_repositories(
        repositoryNames=["mpg-serving"]
    )["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}

    # Pull it back, and check the manifest is Docker v2 schema 2 (SageMaker rejects OCI).
    subprocess.run(["docker", "rmi", target], check=True, capture_output=True)
    subprocess.run(["docker", "pull", target], check=True, capture_output=True)
    auth = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"http://{registry}/v2/mpg-serving/manifests/git-test1",
        headers={
            "Authorization": f"Basic {auth}",
            "Accept": "application/vnd.docker.distribution.manifest.v2+json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        manifest = json.loads(response.read())
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    subprocess.run(["docker", "rmi", target], check=False, capture_output=True)


def test_unknown_local_image_tag_is_a_clear_error(
    aws_env: dict[str, str], registry: str, docker_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["push", "--tag", "x", "--source-tag", "no-such-tag", "--registry", registry],
        out=lambda s: None,
    )
    assert code == 2
    assert "no local image mpg-preprocessing:no-such-tag" in capsys.readouterr().err
