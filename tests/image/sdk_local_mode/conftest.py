"""The SageMaker Python SDK v2 in local mode against our images: a moto server for the one S3
call ``Processor`` makes, an environment pointing the SDK at it (overriding the suite's
``aws_env`` in this folder), and one local-mode session per test module."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.common import free_port, wait_until
from tests.helpers.sdk_local_mode import REGION, LocalMode


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on 127.0.0.1 with a free port; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def answers() -> bool:
        assert server.poll() is None, f"moto_server exited with {server.returncode}"
        try:
            return requests.get(f"{url}/moto-api/", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, 30, f"moto server on {url}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def aws_env(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Fake credentials, a region and moto as every AWS endpoint; nothing from the user's own
    AWS or SageMaker configuration. Yields the moto URL."""
    home = tmp_path_factory.mktemp("aws-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        mp.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        yield moto_endpoint


@pytest.fixture(scope="module")
def local_mode(
    aws_env: str, images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalMode]:
    """Local mode for this module; afterwards, every container it started is removed, also
    those the SDK leaves behind (local transform stops its container only on success)."""
    mode = LocalMode(
        run_id=uuid.uuid4().hex[:12],
        container_root=tmp_path_factory.mktemp("sdk-root"),
        s3_endpoint=aws_env,
    )
    try:
        yield mode
    finally:
        mode.remove_containers()
