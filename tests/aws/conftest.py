"""The launcher against AWS's shapes without AWS: botocore's Stubber where the exact request
matters, a moto server (tests/conftest.py) for flows. Every test here is marked ``aws``."""

from __future__ import annotations

import pytest

from mpg_launch.settings.config import LaunchConfig, load_config
from tests.helpers.launch import push_to_moto_ecr


@pytest.fixture
def moto_config(bucket: str, aws_env: dict[str, str]) -> LaunchConfig:
    """Settings for moto, with the three images 'pushed' to moto's ECR as :latest (the
    launchers check image tags before submitting)."""
    push_to_moto_ecr()
    return load_config(env=aws_env | {"MPG_BUCKET": bucket})
