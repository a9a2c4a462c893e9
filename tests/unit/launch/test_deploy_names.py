"""Issue 23: every endpoint name SageMaker allows (1-63 characters) can be deployed: deploy
derives its model and endpoint config names to fit, unique per deploy and per endpoint."""

from __future__ import annotations

import pytest

from mpg_launch.aws import names
from mpg_launch.cli.main import main
from tests.helpers.launch import printed_requests

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}
STAMP, LATER = "20260101-000000", "20260101-000001"


def no_clients(config: object, out: object) -> object:
    raise AssertionError("a dry run must not create clients")


def test_a_short_endpoint_keeps_the_readable_name() -> None:
    assert names.deploy_name("mpg", STAMP) == f"mpg-{STAMP}"
    assert names.deploy_name("e" * 47, STAMP) == f"{'e' * 47}-{STAMP}"


@pytest.mark.parametrize("length", [48, 55, 63])
def test_a_long_endpoint_gets_names_that_fit_and_differ(length: int) -> None:
    endpoint = "e" * length
    name = names.deploy_name(endpoint, STAMP)
    assert len(name) <= 63
    assert name.startswith(names.resource_name_prefix(endpoint)) and name.endswith(STAMP)
    assert names.deploy_name(endpoint, LATER) != name  # a new one per deploy
    assert names.deploy_name(endpoint, STAMP) == name  # stable: derived, not random
    # Two endpoints that share the first 38 characters still get different names.
    assert names.deploy_name(endpoint[:-1] + "f", STAMP) != name


def test_deploy_of_a_63_character_endpoint_is_accepted() -> None:
    endpoint = "a" + "-b" * 31  # 63 characters, hyphens included
    lines: list[str] = []
    argv = ["deploy", "--training-job", "t1", "--endpoint", endpoint, "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    printed = {p["operation"]: p["request"] for p in printed_requests(lines)}
    model = printed["CreateModel"]["ModelName"]
    assert len(endpoint) == 63 and len(model) <= 63
    assert printed["CreateEndpointConfig"]["EndpointConfigName"] == model


def test_a_64_character_endpoint_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["deploy", "--training-job", "t1", "--endpoint", "e" * 64, "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lambda s: None) == 2
    err = capsys.readouterr().err
    assert "is not a SageMaker name (1-63 letters" in err and len(err.splitlines()) == 1
