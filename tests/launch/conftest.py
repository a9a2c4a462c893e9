"""Real parts for the launcher tests: a moto server (S3, ECR, SageMaker, Logs, STS) and a
registry process with htpasswd auth, both on 127.0.0.1 with free ports, started here.

Docker tests (``@pytest.mark.docker``) use the suite's engine and image fixtures, which never
silently skip in CI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from mpg_launch.local.state import state_label
from mpg_launch.settings.config import LaunchConfig, load_config
from tests.conftest import IMAGE_TAG, free_port

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
# moto's GetAuthorizationToken password is "<account>-auth-token"; the test registry accepts
# exactly that, so the launcher's real login flow (ECR token -> docker login) is exercised.
REGISTRY_USER = "AWS"
REGISTRY_PASSWORD = f"{ACCOUNT}-auth-token"
# The role in configs of tests that only build or stub requests.
STUB_ROLE = "arn:aws:iam::111122223333:role/SageMakerExecution"


def wait_http(url: str, deadline_s: float, ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {deadline_s} s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = Path(sys.executable).parent / "moto_server"
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/moto-api/", 30)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every boto3 client in this process (and the CLI) talks to the moto server; state is
    reset so tests do not see each other's resources."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MPG_REGION": REGION,
        "MPG_ROLE_ARN": ROLE_ARN,
        # --local runs the images this test session built (tests/conftest.py IMAGE_TAG).
        "MPG_LOCAL_IMAGE_TAG": IMAGE_TAG,
    }
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "MPG_CONFIG",
        "MPG_BUCKET",
        "MPG_REGISTRY",
        "MPG_IMAGE_TAG",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def bucket(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"mpg-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
    monkeypatch.setenv("MPG_BUCKET", name)
    return name


@pytest.fixture(autouse=True)
def _require_docker(request: pytest.FixtureRequest) -> None:
    """Docker tests need the engine and the three images: tests/conftest.py's ``images``
    fails under CI=true without an engine and builds missing images with `make images`."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("images")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Iterator[str]:
    """Debian's docker-registry with htpasswd (bcrypt) auth on 127.0.0.1:<free port>
    (the engine treats 127.0.0.0/8 registries as insecure-allowed, so plain HTTP works)."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
    root = tmp_path_factory.mktemp("registry")
    htpasswd = root / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), REGISTRY_USER, REGISTRY_PASSWORD],
        check=True,
        capture_output=True,
    )
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: mpg-test\n    path: {htpasswd}\n"
    )
    log = (root / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", 30, ok=(200, 401))
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private docker client config, so logins never touch the user's ~/.docker."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


@pytest.fixture
def config() -> LaunchConfig:
    """A complete launcher config for request-building tests (nothing is sent)."""
    return load_config(
        env={
            "MPG_REGION": "eu-west-1",
            "MPG_ROLE_ARN": STUB_ROLE,
            "MPG_BUCKET": "my-bucket",
            "MPG_IMAGE_TAG": "git-abc",
        }
    )


def containers_of(state: Path) -> list[str]:
    """Names of the containers ``--local`` started for the state folder ``state`` (running or
    not): the only ones a test may remove, and the ones that must be gone when it ends."""
    done = subprocess.run(
        [
            "docker",
            "ps",
            "--all",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=mpg-launch.state={state_label(state)}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()
