"""Helpers the launcher tests share (not fixtures: those live in the conftest.py files): the
moto account, the stub role, polling an HTTP URL, the containers ``--local`` started, the dry
run's printed requests."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from mpg_launch.cli.main import main
from mpg_launch.local.state import state_label

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


# What ECR stores for an image: the launchers only check that the tag exists.
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "0" * 64,
        },
        "layers": [],
    }
)


def push_to_moto_ecr(images: tuple[str, ...] = ("preprocessing", "training", "serving")) -> None:
    """'Push' the images to moto's ECR as :latest (the launchers check image tags before
    submitting)."""
    ecr = boto3.client("ecr", region_name=REGION)
    for image in images:
        ecr.create_repository(repositoryName=f"mpg-{image}")
        ecr.put_image(repositoryName=f"mpg-{image}", imageManifest=MANIFEST, imageTag="latest")


# Settings and dry runs without clients.
ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("a dry run (or a refused deploy) must not create clients")


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mpg.toml"
    path.write_text(text)
    return path


def dry_run(argv: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The printed requests (a stream of JSON documents) and the note lines."""
    lines: list[str] = []
    assert main(["deploy", "--dry-run", *argv], env=ENV, factory=no_clients, out=lines.append) == 0
    notes = [line for line in lines if line.startswith("note: ")]
    text = "\n".join(line for line in lines if line not in notes)
    decoder, printed, at = json.JSONDecoder(), [], 0
    while at < len(text):
        document, at = decoder.raw_decode(text, at)
        printed.append(document)
        at += len(text[at:]) - len(text[at:].lstrip())
    return printed, notes


def printed_requests(lines: list[str]) -> list[dict[str, Any]]:
    """The requests among the printed chunks: JSON documents with an operation (a chunk may
    hold several; notes are plain lines, and `pipeline definition` prints a definition)."""
    decoder = json.JSONDecoder()
    found = []
    for chunk in lines:
        position = 0
        while chunk.startswith("{", position):
            document, end = decoder.raw_decode(chunk, position)
            if "operation" in document:
                found.append(document)
            position = end + 1  # documents are joined by one newline
    return found
