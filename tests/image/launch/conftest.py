"""The launcher on the real Docker engine: a registry process with htpasswd auth on 127.0.0.1
(the push is really made and pulled back), a private docker client config, and ``env``, whose
``--local`` state folder's containers are removed after each test (only those)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.common import free_port
from tests.helpers.launch import REGISTRY_PASSWORD, REGISTRY_USER, containers_of, wait_http


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
def env(bucket: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    state = tmp_path / "state"
    values = {**os.environ, "MPG_LOCAL_STATE_DIR": str(state)}
    yield values
    for name in containers_of(state):  # only what this test started
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
