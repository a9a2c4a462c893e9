"""The CLI: --dry-run prints validated request JSON and calls nothing; errors are one line
with a non-zero exit."""

from __future__ import annotations

import json

import pytest

from mpg_launch.cli import main

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("a dry run must not create AWS clients")


@pytest.mark.parametrize(
    ("argv", "operations"),
    [
        (["preprocess"], ["CreateProcessingJob"]),
        (["train", "--preprocessing-job", "p1", "-H", "n_estimators=10"], ["CreateTrainingJob"]),
        (["tune", "--preprocessing-job", "p1"], ["CreateHyperParameterTuningJob"]),
        (
            ["deploy", "--training-job", "t1"],
            ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"],
        ),
        (
            ["deploy", "--pipeline", "--training-job", "t1", "--preprocessing-job", "p1"],
            ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"],
        ),
        (["transform", "--model", "m1"], ["CreateTransformJob"]),
    ],
)
def test_dry_run_prints_each_request(argv: list[str], operations: list[str]) -> None:
    lines: list[str] = []
    assert main([*argv, "--dry-run"], env=ENV, factory=no_clients, out=lines.append) == 0
    printed = [json.loads(chunk) for chunk in lines]
    assert [p["operation"] for p in printed] == operations


def test_dry_run_push_shows_targets() -> None:
    lines: list[str] = []
    assert (
        main(
            ["push", "--tag", "git-1", "--dry-run"],
            env=ENV,
            factory=no_clients,
            out=lines.append,
        )
        == 0
    )
    assert "123456789012.dkr.ecr.us-east-1.amazonaws.com/mpg-serving:git-1" in "\n".join(lines)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["preprocess", "--dry-run"],
            {k: v for k, v in ENV.items() if k != "MPG_ROLE_ARN"},
            "no SageMaker execution role",
        ),
        (
            ["preprocess", "--dry-run"],
            {k: v for k, v in ENV.items() if k != "MPG_REGION"},
            "no AWS region",
        ),
        (["preprocess", "--dry-run", "--job-name", "bad_name"], ENV, "service model"),
        (["train", "--dry-run", "--preprocessing-job", "p", "-H", "oops"], ENV, "KEY=VALUE"),
        (["deploy", "--dry-run"], ENV, "--training-job"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, env=env, factory=no_clients, out=lambda s: None) != 0
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert err.startswith("mpg-launch: error: ")
