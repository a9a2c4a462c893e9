"""``push``: observe (the caller's account, the local images, ECR's login), plan (log in, then
each image's repository, tag and push: :func:`mpg_launch.images.ecr.push_steps`), apply. A dry
run looks at nothing and prints each image's ``source -> target``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mpg_launch.aws.clients import session
from mpg_launch.aws.submit import Runner
from mpg_launch.images import ecr


def push(runner: Runner, tag: str, source_tag: str, images: Sequence[str]) -> list[str]:
    """Push ``mpg-<image>:<source_tag>`` as ``<registry>/<repository>:<tag>``; returns the
    pushed URIs."""
    config = runner.config
    if not config.account_id:
        # The repositories belong to the caller's account (not necessarily the role's).
        account = runner.observe(
            lambda c: str(session(config).client("sts").get_caller_identity()["Account"]),
            dry=lambda: config.account,
        )
        config = replace(config, account_id=account)
    runner.observe(
        lambda c: ecr.check_local_images(list(ecr.sources(images, source_tag).values())),
        dry=lambda: None,
    )
    login = runner.observe(
        lambda c: ecr.registry_credentials(c.ecr, config.account),
        dry=lambda: ("", "", config.registry),  # the ECR host the login would name
    )
    assert runner.clients is not None
    steps = ecr.push_steps(config, runner.clients.ecr, tag, source_tag, images, login, runner.out)
    _, *pushed = runner.apply(steps)
    return [str(uri) for uri in pushed]
