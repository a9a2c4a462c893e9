"""Push the project's images to ECR: repository (created if missing, scan on push, immutable
tags), login with GetAuthorizationToken through stdin, content tag, push.

The ECR API calls and the registry the images go to are separate on purpose: with
``image_registry`` the API calls still go to ECR (or moto) while the push goes elsewhere,
which is how the tests push to a real local registry.
"""

from __future__ import annotations

import base64
import functools
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mpg_launch.aws.clients import error_code
from mpg_launch.aws.plan import Step, do
from mpg_launch.errors import ConfigError, DockerError, LaunchError
from mpg_launch.images.docker import docker, image_architecture, image_exists
from mpg_launch.settings.config import LaunchConfig

# SageMaker's x86 instances run linux/amd64 images only.
REQUIRED_ARCHITECTURE = "amd64"


def content_tag(repo_dir: Path) -> str:
    """``git-<sha>`` of the checkout the images were built from, ``-dirty`` if it has
    uncommitted changes (then pass --tag: immutable tags cannot be pushed twice)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo_dir), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        sha = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        raise ConfigError(f"{repo_dir} is not a git checkout; pass --tag") from None
    return f"git-{sha}" + ("-dirty" if dirty else "")


def ensure_repository(ecr: Any, name: str, config: LaunchConfig) -> str:
    """The repository's URI; created with scan on push and immutable tags if missing."""
    try:
        found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        return str(found["repositoryUri"])
    except Exception as exc:
        if error_code(exc) != "RepositoryNotFoundException":
            raise
    request: dict[str, Any] = {
        "repositoryName": name,
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
    }
    if config.kms_key_id:
        request["encryptionConfiguration"] = {"encryptionType": "KMS", "kmsKey": config.kms_key_id}
    if config.tags:
        request["tags"] = [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]
    return str(ecr.create_repository(**request)["repository"]["repositoryUri"])


def tag_exists(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except Exception as exc:
        if error_code(exc) == "ImageNotFoundException":
            return False
        raise
    return True


_ECR_URI = re.compile(r"^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/([^:@]+):(.+)$")


def images_in(request: Mapping[str, Any]) -> list[str]:
    """Every image URI a SageMaker request names."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif key in ("ImageUri", "TrainingImage", "Image") and isinstance(value, str):
            found.append(value)

    walk(request)
    return found


def check_images_exist(ecr: Any, uris: Sequence[str]) -> None:
    """Fail before submitting when an ECR image tag is not there (SageMaker would only fail
    minutes later, at pull time)."""
    for uri in dict.fromkeys(uris):
        match = _ECR_URI.match(uri)
        if not match:
            continue  # not ECR (an explicit URI or another registry): nothing to ask
        registry_id, repository, tag = match.groups()
        try:
            ecr.describe_images(
                registryId=registry_id, repositoryName=repository, imageIds=[{"imageTag": tag}]
            )
        except Exception as exc:
            if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise ConfigError(
                    f"unknown image {uri}: push it with `mpg-launch push` and "
                    "set image_tag/MPG_IMAGE_TAG to the tag it prints"
                ) from None
            raise


def registry_credentials(ecr: Any, account: str) -> tuple[str, str, str]:
    """(user, password, registry host) from GetAuthorizationToken (valid 12 hours)."""
    data = ecr.get_authorization_token(registryIds=[account])["authorizationData"][0]
    decoded = base64.b64decode(data["authorizationToken"]).decode("utf-8")
    # Split on the first colon: the token is "AWS:<password>" (a prefix, not characters).
    user, _, password = decoded.partition(":")
    host = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://")
    return user, password, host


def docker_login(user: str, password: str, registry: str) -> None:
    """``docker login --password-stdin``: the password never reaches argv or the logs."""
    docker(["login", "--username", user, "--password-stdin", registry], input_text=password)


def check_local_images(sources: Sequence[str]) -> None:
    """Each ``mpg-<image>:<tag>`` to push is built here, for SageMaker's architecture."""
    for source in sources:
        if not image_exists(source):
            raise ConfigError(
                f"no local image {source}; build it with `make images` or pass --source-tag"
            )
        arch = image_architecture(source)
        if arch != REQUIRED_ARCHITECTURE:
            raise ConfigError(
                f"{source} is {arch}; SageMaker needs {REQUIRED_ARCHITECTURE} "
                "(rebuild with --platform linux/amd64)"
            )


def sources(images: Sequence[str], source_tag: str) -> dict[str, str]:
    return {image: f"mpg-{image}:{source_tag}" for image in images}


def push_steps(
    config: LaunchConfig,
    ecr: Any,
    tag: str,
    source_tag: str,
    images: Sequence[str],
    login: tuple[str, str, str],
    out: Callable[[str], None] = print,
) -> list[Step]:
    """The push's plan, given ``login`` (user, password, registry host) from
    :func:`registry_credentials`: log in to the registry (``image_registry``, else ECR's),
    then for each image its repository, tag and push, printed as ``image: source -> target``.
    The pushed URIs are each step's answer."""
    user, password, ecr_host = login
    registry = config.image_registry or ecr_host
    steps = [do(functools.partial(docker_login, user, password, registry))]
    for image, source in sources(images, source_tag).items():
        target = f"{registry}/{config.repository(image)}:{tag}"
        steps.append(
            do(
                functools.partial(_push_one, config, ecr, image, source, target, tag, out),
                text=f"{image}: {source} -> {target}",
            )
        )
    return steps


def _push_one(
    config: LaunchConfig,
    ecr: Any,
    image: str,
    source: str,
    target: str,
    tag: str,
    out: Callable[[str], None],
) -> str:
    repository = config.repository(image)
    ensure_repository(ecr, repository, config)
    if tag_exists(ecr, repository, tag) and not config.image_registry:
        out(f"{image}: {target} already in ECR (tags are immutable), not pushed again")
        return target
    docker(["tag", source, target])
    try:
        docker(["push", target])
    except DockerError as exc:
        raise LaunchError(
            f"pushing {target} failed ({exc}); check that the login "
            "succeeded and the tag is not already taken"
        ) from None
    out(f"{image}: pushed {target}")
    return target
