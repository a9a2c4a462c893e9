"""The CLI: --dry-run prints validated request JSON and calls nothing; errors are one line
with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpg_launch.cli.main import build_parser, main, subcommand_table

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
        (["pipeline", "upsert"], ["PutObject", "CreateModelPackageGroup", "CreatePipeline"]),
        (["pipeline", "start", "-P", "RmseThreshold=3"], ["StartPipelineExecution"]),
        (
            ["registry", "approve", "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"],
            ["UpdateModelPackage"],
        ),
        (
            ["registry", "deploy", "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"],
            ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"],
        ),
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
        (["preprocess", "--dry-run", "--job-name", "bad_name"], ENV, "--job-name 'bad_name'"),
        (["train", "--dry-run", "--preprocessing-job", "p", "-H", "oops"], ENV, "KEY=VALUE"),
        (["deploy", "--dry-run"], ENV, "--training-job"),
        (
            ["pipeline", "upsert", "--dry-run"],
            {k: v for k, v in ENV.items() if k != "MPG_ROLE_ARN"},
            "no SageMaker execution role",
        ),
        (["pipeline", "start", "--dry-run", "-P", "MaxDepth"], ENV, "write NAME=VALUE"),
        (
            ["pipeline", "upsert", "--dry-run", "--pipeline-name", "mpg_p"],
            ENV,
            "pipeline_name 'mpg_p' is not a SageMaker name",
        ),
        (["registry", "reject", "latest", "--dry-run"], ENV, "give its ARN or its version"),
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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["-H", "n_estimators=many"],
            "--hyperparameter/-H: hyperparameter n_estimators='many' must be an integer",
        ),
        (["-H", "max_features=2"], "max_features=2 must be a number in (0, 1]"),
        (["-H", "depth=3"], "unknown hyperparameter(s) ['depth']; known: ["),
        (
            ["-H", "algorithm=random_forest", "-H", "learning_rate=0.1"],
            "learning_rate does not apply to algorithm=random_forest",
        ),
        (["-H", "n_estimators=1e9"], "n_estimators=1000000000.0 must be an integer in [1, 10000]"),
    ],
)
@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_bad_hyperparameters_fail_before_any_request_or_client(
    argv: list[str], message: str, dry_run: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    code = main(
        ["train", "--preprocessing-job", "p1", *argv, *dry_run],
        env=ENV,
        factory=no_clients,  # even without --dry-run: the flags are checked first
        out=lines.append,
    )
    assert code == 2
    assert lines == []  # no request printed
    err = capsys.readouterr().err
    assert err.startswith("mpg-launch: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_config_file_hyperparameters_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mpg.toml"
    config.write_text('[hyperparameters]\nalgorithm = "random_forest"\nmin_samples_split = "1"\n')
    code = main(
        ["tune", "--preprocessing-job", "p1", "--dry-run", "--config", str(config)],
        env=ENV,
        factory=no_clients,
        out=lambda s: None,
    )
    assert code == 2
    assert "[hyperparameters]: hyperparameter min_samples_split=1 must be an integer in [2, " in (
        capsys.readouterr().err
    )


def test_good_hyperparameters_reach_the_request_as_given() -> None:
    lines: list[str] = []
    argv = ["train", "--preprocessing-job", "p1", "--dry-run", "-H", "max_depth=None"]
    assert (
        main([*argv, "-H", "n_estimators=50"], env=ENV, factory=no_clients, out=lines.append) == 0
    )
    request = json.loads(lines[0])["request"]
    assert request["HyperParameters"] == {"max_depth": "None", "n_estimators": "50"}


def test_every_subcommand_has_exactly_one_function() -> None:
    (choices,) = [a.choices for a in build_parser()._actions if a.dest == "command"]
    names = set()
    for name, parser in choices.items():
        actions = [a.choices for a in parser._actions if a.dest == "action"]
        names |= {f"{name} {action}" for action in actions[0]} if actions else {name}
    # init reads a local table and needs no settings: main runs it before reading them.
    assert set(subcommand_table()) == names - {"init"}


def test_pipeline_definition_prints_the_checked_json() -> None:
    lines: list[str] = []
    argv = ["pipeline", "definition", "--model-package-group", "fleet-models"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    definition = json.loads(lines[0])
    assert definition["Version"] == "2020-12-01"
    (check,) = [s for s in definition["Steps"] if s["Name"] == "CheckRmse"]
    register = check["Arguments"]["IfSteps"][0]
    assert register["Arguments"]["ModelPackageGroupName"] == "fleet-models"


def test_pipeline_upsert_dry_run_sends_the_definition_and_the_names() -> None:
    lines: list[str] = []
    argv = ["pipeline", "upsert", "--dry-run", "--pipeline-name", "fleet", "--description", "v2"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    marker, group, create = (json.loads(chunk)["request"] for chunk in lines)
    assert (marker["Bucket"], marker["Key"]) == (
        "my-bucket",
        "mpg/pipeline/no-approved-model/README.txt",
    )
    assert group["ModelPackageGroupName"] == "mpg-models"
    assert create["PipelineName"] == "fleet"
    assert create["PipelineDescription"] == "v2"
    assert create["RoleArn"] == ENV["MPG_ROLE_ARN"]
    assert json.loads(create["PipelineDefinition"])["Steps"][0]["Name"] == "Preprocess"


def test_help_reads_as_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "Run the Auto MPG stages on Amazon SageMaker" in text
    for markup in (":mod:", ":func:", "``", "`"):
        assert markup not in text
    assert "exit codes: 0 done; 1 a job" in " ".join(text.split())


def test_two_deploys_in_one_second_get_different_names() -> None:
    """A deploy's model and endpoint config are named by the UTC second: a second deploy in
    the same process within that second waits for the next one, so the names never repeat
    (a canary rollout right after a deploy reused the first's container names)."""
    from mpg_launch.cli.verbs import _stamp

    stamps = [_stamp() for _ in range(3)]
    assert len(set(stamps)) == 3
