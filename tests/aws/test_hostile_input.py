"""Hostile input, over every subcommand and the config file: each case is refused with its exit
code and one line naming the field, the value, what is allowed and where it came from, and
without a traceback. Nothing is sent: the clients factory fails the test if it is called
(``--dry-run`` is used where a check runs as a request is built, which a dry run does too).
Cases where AWS must say no run against the moto server (a bucket that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mpg_launch.cli.main import main, subcommand_table

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mpg-models/1"


@dataclass(frozen=True)
class Case:
    argv: list[str]
    message: str
    code: int = 2
    config: str | bytes | None = None  # mpg.toml's text (bytes: written as they are)
    env: dict[str, str | None] = field(default_factory=dict)  # None removes a variable
    aws: bool = False  # needs the moto server to say no


def toml(argv: list[str], text: str | bytes, message: str) -> Case:
    return Case(argv, message, config=text)


PREP = ["preprocess", "--dry-run"]
TRAIN = ["train", "--preprocessing-job", "p1", "--dry-run"]
DEPLOY = ["deploy", "--training-job", "t1", "--dry-run"]
START = ["pipeline", "start", "--dry-run"]
CASES: dict[str, Case] = {
    # The config file: types, values, encodings.
    "count-float": toml(
        PREP,
        "[instances.processing]\ncount = 2.7\n",
        "config file {config}: instances.processing count = 2.7 is not allowed; "
        "give a whole number >= 1",
    ),
    "count-bool": toml(
        PREP,
        "[instances.processing]\ncount = true\n",
        "instances.processing count = true is not allowed; give a whole number >= 1",
    ),
    "count-zero": toml(
        PREP, "[instances.transform]\ncount = 0\n", "instances.transform count = 0 is not allowed"
    ),
    "instance-type": toml(
        PREP,
        '[instances.training]\ntype = "m5.large"\n',
        "instances.training type = 'm5.large' is not an instance type; give one like",
    ),
    "unknown-stage": toml(PREP, "[instances.gpu]\ncount = 1\n", "unknown stage 'instances.gpu'"),
    "isolation-fraction": toml(
        PREP,
        "network_isolation = 0.5\n",
        "network_isolation = 0.5 is not allowed; give true or false",
    ),
    "isolation-word": toml(
        PREP, 'network_isolation = "maybe"\n', "network_isolation = 'maybe' is not allowed"
    ),
    "spot-int": toml(TRAIN, "spot = 1\n", "spot = 1 is not allowed; give true or false"),
    "image-uri": toml(
        PREP,
        '[images]\npreprocessing = "not a uri at all"\n',
        "[images] preprocessing: image 'not a uri at all' is not an image reference",
    ),
    "image-unknown": toml(PREP, '[images]\ngpu = "a/b:1"\n', "unknown image(s) ['gpu']"),
    "account-letters": toml(
        PREP, 'account_id = "abc"\n', "account_id 'abc' is not an AWS account id (12 digits)"
    ),
    "account-number": toml(
        PREP,
        "account_id = 123456789012\n",
        "account_id = 123456789012 is not allowed; give a string",
    ),
    "region-number": toml(
        ["preprocess", "--dry-run"],
        "region = 5\n",
        "config file {config}: region = 5 is not allowed; give a string",
    ),
    "region-name": Case(
        PREP,
        "region 'Ireland' is not an AWS region name (like us-east-1); fix config file {config}",
        config='region = "Ireland"\n',
        env={"MPG_REGION": None},
    ),
    "tag-aws": toml(PREP, '[tags]\n"aws:owner" = "me"\n', "tag key 'aws:owner': keys starting"),
    "tag-key-long": toml(PREP, f'[tags]\n{"k" * 129} = "v"\n', "tag key 'kkkk"),
    "tag-value-chars": toml(PREP, '[tags]\nteam = "a#b"\n', "tag team = 'a#b': give 0-256"),
    "tag-value-number": toml(PREP, "[tags]\nteam = 1\n", "every value in [tags] must be a string"),
    "unknown-key": toml(PREP, 'regoin = "us-east-1"\n', "unknown key(s) ['regoin'] in"),
    "not-utf8": toml(PREP, b'region = "\xff\xfe"\n', "is not UTF-8 text (byte 10"),
    "malformed": toml(PREP, "region = \n", "is malformed"),
    "hyperparameter": toml(
        TRAIN,
        '[hyperparameters]\nn_estimators = "many"\n',
        "[hyperparameters]: hyperparameter n_estimators='many' must be an integer",
    ),
    "volume-zero": toml(PREP, "volume_size_gb = 0\n", "volume_size_gb = 0 is not allowed"),
    "runtime-words": toml(PREP, 'max_runtime_seconds = "1h"\n', "max_runtime_seconds = '1h'"),
    "wait-below-runtime": toml(
        TRAIN,
        "max_runtime_seconds = 3600\nmax_wait_seconds = 60\n",
        "max_wait_seconds=60 must be at least max_runtime_seconds=3600",
    ),
    "vpc-half": toml(PREP, 'subnets = ["subnet-0123abcd"]\n', "a VPC needs both 'subnets'"),
    "endpoint-name-file": toml(
        ["predict", "--file", "{rows}", "--dry-run"],
        'endpoint_name = "my_endpoint"\n',
        "endpoint_name 'my_endpoint' is not a SageMaker name (1-63 letters, digits and inner "
        "hyphens); fix config file {config}",
    ),
    "serverless-memory-file": toml(
        DEPLOY,
        "[serverless]\nmemory_mb = 1000\n",
        "serverless memory_mb=1000 must be one of [1024, 2048",
    ),
    "training-count": toml(
        TRAIN, "[instances.training]\ncount = 2\n", "instances.training count = 2: a random forest"
    ),
    # Environment and settings flags: blamed on where they came from.
    "env-region": Case(PREP, "fix MPG_REGION", env={"MPG_REGION": "Ireland"}),
    "flag-region": Case([*PREP, "--region", "5"], "region '5' is not an AWS region name"),
    "env-role": Case(PREP, "is not an IAM role ARN", env={"MPG_ROLE_ARN": "SageMakerRole"}),
    "flag-bucket": Case([*PREP, "--bucket", "Bad_Bucket"], "fix --bucket"),
    "env-image-tag": Case(PREP, "MPG_IMAGE_TAG 'bad tag'", env={"MPG_IMAGE_TAG": "bad tag"}),
    "poll-negative": Case(
        [*PREP, "--poll-seconds=-1"], "--poll-seconds: '-1': give seconds from 0 to 3600"
    ),
    "poll-nan": Case([*PREP, "--poll-seconds", "nan"], "--poll-seconds: 'nan': give seconds"),
    "registry-scheme": Case(
        ["push", "--image-registry", "http://127.0.0.1:5000", "--dry-run"],
        "--image-registry: registry 'http://127.0.0.1:5000' is not a registry host; give "
        "host[:port][/path] without a scheme",
    ),
    "registry-trailing-slash": Case(
        PREP,
        "MPG_IMAGE_REGISTRY: registry 'host:5000/' is not",
        env={"MPG_IMAGE_REGISTRY": "host:5000/"},
    ),
    "registry-space": toml(
        ["push", "--dry-run"],
        'image_registry = "my registry"\n',
        "config file {config}: registry 'my registry' is not",
    ),
    "registry-old-key": toml(
        ["push", "--dry-run"],
        'registry_override = "127.0.0.1:5000"\n',
        "config file {config}: key registry_override is now image_registry: rename it",
    ),
    "registry-old-env": Case(
        PREP,
        "environment variable MPG_REGISTRY is now MPG_IMAGE_REGISTRY: rename it",
        env={"MPG_REGISTRY": "127.0.0.1:5000"},
    ),
    "no-region": Case(PREP, "no AWS region: pass --region", env={"MPG_REGION": None}),
    "config-missing": Case(
        [*PREP, "--config", "/no/such/mpg.toml"], "cannot read config file /no/such/mpg.toml"
    ),
    "config-folder": Case([*PREP, "--config", "/tmp"], "config file /tmp is a folder"),
    # push
    "push-local": Case(["push", "--local"], "push takes no --local"),
    "push-tag": Case(
        ["push", "--tag", "has space", "--dry-run"], "--tag 'has space': an image tag"
    ),
    "push-source-tag": Case(["push", "--source-tag", "a:b", "--dry-run"], "--source-tag 'a:b'"),
    # data
    "data-shards-zero": Case(
        ["data", "--dry-run", "--shards", "0"],
        "--shards 0: give 1 to 60 (the test split has 60 rows",
    ),
    "data-shards-many": Case(
        ["data", "--dry-run", "--shards", "1000"], "--shards 1000: give 1 to 60"
    ),
    "data-seed-negative": Case(["data", "--seed", "-1"], "--seed -1: give 0 to 4294967295"),
    "data-seed-huge": Case(["data", "--seed", str(2**32)], "--seed 4294967296: give 0 to"),
    "data-source-missing": Case(["data", "--source", "/no/such.data"], "no such file"),
    "data-source-folder": Case(["data", "--source", "/tmp"], "--source '/tmp' is a folder"),
    "data-source-ftp": Case(
        ["data", "--source", "ftp://example.com/auto-mpg.data"], "ftp:// is not supported"
    ),
    "data-source-garbage": Case(
        ["data", "--dry-run", "--source", "{garbage}"], "is not auto-mpg.data: line 1 has 3 fields"
    ),
    "data-source-binary": Case(["data", "--dry-run", "--source", "{binary}"], "is not UTF-8 text"),
    "data-table-without-schema": Case(
        ["data", "--dry-run", "--source", "{table}"],
        "schema.toml; run `mpg-launch quickstart --table",
        env={"MPG_LOCAL_STATE_DIR": "/no/such/state"},
    ),
    # quickstart (a headered table and its target)
    "quickstart-no-table": Case(
        ["quickstart", "--table", "/no/such.csv", "--target", "y"],
        "--table '/no/such.csv': no such file",
    ),
    "quickstart-no-target": Case(
        ["quickstart", "--dry-run", "--table", "{table}", "--target", "nope"],
        "quickstart --table ",
    ),
    "data-local": Case(["data", "--local"], "data takes no --local", env={"MPG_LOCAL_S3": "aws"}),
    "data-no-bucket": Case(
        ["data", "--bucket", "no-such-bucket-here"],
        "bucket no-such-bucket-here does not exist; create it",
        code=1,
        aws=True,
    ),
    # preprocess
    "prep-job-long": Case(["preprocess", "--job-name", "j" * 64], "--job-name 'jjjj", env={}),
    "prep-job-chars": Case(["preprocess", "--job-name", "job_1"], "--job-name 'job_1'"),
    # train
    "train-h-syntax": Case([*TRAIN, "-H", "oops"], "--hyperparameter 'oops': write KEY=VALUE"),
    "train-h-fraction": Case(
        [*TRAIN, "-H", "max_features=2"], "max_features=2 must be a number in (0, 1]"
    ),
    "train-h-unknown": Case([*TRAIN, "-H", "learnin_rate=0.1"], "unknown hyperparameter(s)"),
    "train-h-other-family": Case(
        [*TRAIN, "-H", "algorithm=random_forest", "-H", "learning_rate=0.1"],
        "learning_rate does not apply to algorithm=random_forest",
    ),
    "train-h-unknown-family": Case(
        [*TRAIN, "-H", "algorithm=xgboost"],
        "algorithm",
    ),
    "train-h-float": Case(
        [*TRAIN, "-H", "n_estimators=2.5"], "hyperparameter n_estimators=2.5 must be an integer"
    ),
    "train-job-long": Case([*TRAIN, "--job-name", "t" * 64], "--job-name 'tttt"),
    # tune
    "tune-max-jobs": Case(
        ["tune", "--preprocessing-job", "p1", "--max-jobs", "0"], "--max-jobs 0: give 1 or more"
    ),
    "tune-parallel": Case(
        ["tune", "--preprocessing-job", "p1", "--max-jobs", "2", "--max-parallel", "4"],
        "--max-parallel 4 is above --max-jobs 2",
    ),
    "tune-name-33": Case(
        ["tune", "--preprocessing-job", "p1", "--job-name", "t" * 33], "give 1 to 32 letters"
    ),
    # deploy
    "deploy-both-models": Case(
        ["deploy", "--training-job", "t1", "--model-data", "s3://b/m.tar.gz"],
        "--training-job and --model-data both given",
    ),
    "deploy-no-model": Case(["deploy"], "deploy needs --training-job NAME or --model-data"),
    "deploy-memory-orphan": Case(
        ["deploy", "--training-job", "t1", "--memory-mb", "3072"],
        "--memory-mb needs --serverless; add --serverless or drop --memory-mb",
    ),
    "deploy-endpoint-64": Case(
        ["deploy", "--training-job", "t1", "--endpoint", "e" * 64],
        "is not a SageMaker name (1-63 letters, digits and inner hyphens); fix --endpoint",
    ),
    "deploy-endpoint-file-64": Case(
        ["deploy", "--training-job", "t1"],
        "is not a SageMaker name (1-63 letters, digits and inner hyphens); fix config file "
        "{config}",
        config=f'endpoint_name = "{"e" * 64}"\n',
    ),
    "deploy-model-data-http": Case(
        ["deploy", "--model-data", "https://b/m.tar.gz"], "--model-data 'https://b/m.tar.gz'"
    ),
    "deploy-prep-orphan": Case(
        ["deploy", "--training-job", "t1", "--preprocessing-job", "p1"],
        "--preprocessing-job needs --pipeline",
    ),
    "deploy-pipeline-alone": Case(
        ["deploy", "--training-job", "t1", "--pipeline"], "--pipeline needs --preprocessing-job"
    ),
    "deploy-serverless-pipeline": Case(
        [
            "deploy",
            "--training-job",
            "t1",
            "--serverless",
            "--pipeline",
            "--preprocessing-job",
            "p",
        ],
        "serverless endpoints do not support inference pipelines",
    ),
    "deploy-scaling-zero": Case(
        ["deploy", "--training-job", "t1", "--max-instances", "0", "--target-invocations", "5"],
        "autoscaling max_instances=0 must be at least min_instances=1",
    ),
    "deploy-no-autoscaling": Case(
        ["deploy", "--training-job", "t1", "--no-autoscaling", "--max-instances", "2"],
        "--no-autoscaling contradicts --max-instances",
    ),
    # predict
    "predict-file-missing": Case(
        ["predict", "--file", "/no/such/rows.csv"], "--file '/no/such/rows.csv': no such file"
    ),
    "predict-file-folder": Case(["predict", "--file", "/tmp"], "--file '/tmp' is a folder"),
    "predict-file-empty": Case(["predict", "--file", "{empty}"], "nothing to predict in"),
    "predict-endpoint": Case(
        ["predict", "--file", "{rows}", "--endpoint", "my_endpoint"],
        "endpoint_name 'my_endpoint' is not a SageMaker name (1-63 letters, digits and inner "
        "hyphens); fix --endpoint",
    ),
    # transform
    "transform-both": Case(
        ["transform", "--model", "m1", "--endpoint", "e1"], "--model and --endpoint both given"
    ),
    "transform-neither": Case(["transform"], "transform needs --model NAME or --endpoint NAME"),
    "transform-payload-zero": Case(
        ["transform", "--model", "m1", "--max-payload-mb", "0"], "--max-payload-mb 0: give 1 to 100"
    ),
    "transform-payload-big": Case(
        ["transform", "--model", "m1", "--max-payload-mb", "101"], "--max-payload-mb 101"
    ),
    "transform-input": Case(
        ["transform", "--model", "m1", "--input", "/data/batch"],
        "--input '/data/batch': give an s3",
    ),
    "transform-concurrency": Case(
        ["transform", "--model", "m1", "--max-concurrent-transforms", "0"],
        "--max-concurrent-transforms: give 1 or more",
    ),
    "transform-filter": Case(
        ["transform", "--model", "m1", "--input-filter", "$[", "--dry-run"], "InputFilter"
    ),
    # status, logs, delete
    "status-name": Case(["status", "training", "job_1"], "training name 'job_1'"),
    "status-kind": Case(["status", "model", "m1"], "invalid choice: 'model'"),
    "logs-name": Case(["logs", "endpoint", "e" * 64], "endpoint name 'eeee"),
    "delete-name": Case(
        ["delete", "--endpoint", "my endpoint"], "endpoint_name 'my endpoint' is not a SageMaker"
    ),
    # pipeline
    "start-n-estimators": Case(
        [*START, "-P", "NEstimators=many"],
        "-P NEstimators: hyperparameter n_estimators='many' must be an integer",
    ),
    "start-accuracy-threshold-above-one": Case(
        [*START, "-P", "BalancedAccuracyThreshold=1.5"],
        "give a threshold in (0, 1]",
    ),
    "start-max-depth": Case(
        [*START, "-P", "MaxDepth=0"],
        "-P MaxDepth: hyperparameter max_depth=0 must be an integer in [1, 1000]",
    ),
    "start-threshold-negative": Case(
        [*START, "-P", "RmseThreshold=-1"], "give a threshold above 0"
    ),
    "start-threshold-zero": Case(["pipeline", "start", "-P", "RmseThreshold=0"], "above 0"),
    "start-threshold-nan": Case([*START, "-P", "RmseThreshold=nan"], "above 0"),
    "start-threshold-word": Case(
        [*START, "-P", "RmseThreshold=low"], "RmseThreshold is Float; give a number"
    ),
    "start-unknown": Case([*START, "-P", "Nope=1"], "the pipeline declares no such parameter"),
    "start-count-word": Case(
        [*START, "-P", "ProcessingInstanceCount=two"], "ProcessingInstanceCount is Integer"
    ),
    "start-syntax": Case([*START, "-P", "MaxDepth"], "write NAME=VALUE"),
    "upsert-name": Case(
        ["pipeline", "upsert", "--pipeline-name", "bad_name"], "pipeline_name 'bad_name'"
    ),
    "list-max-results": Case(
        ["pipeline", "list", "--max-results", "0"], "--max-results 0: give 1 to 100"
    ),
    "list-max-results-big": Case(["pipeline", "list", "--max-results", "101"], "give 1 to 100"),
    "follow-name": Case(
        ["pipeline", "follow", "--pipeline-name", "p" * 257], "pipeline_name 'pppp"
    ),
    "definition-group": Case(
        ["pipeline", "definition", "--model-package-group", "g_1"],
        "model_package_group 'g_1' is not a SageMaker name",
    ),
    # registry
    "approve-word": Case(["registry", "approve", "latest"], "give its ARN or its version number"),
    "reject-version-word": Case(["registry", "reject", "v1"], "model package 'v1'"),
    "deploy-package-endpoint": Case(
        ["registry", "deploy", PACKAGE, "--endpoint", "e" * 64],
        "not a SageMaker name (1-63 letters",
    ),
    "registry-list-group": Case(
        ["registry", "list", "--model-package-group", "g" * 64], "model_package_group 'gggg"
    ),
    "approve-description": Case(
        ["registry", "approve", PACKAGE, "--description", "d" * 1025, "--dry-run"],
        "ApprovalDescription is 1025 characters, at most 1024",
    ),
    "no-subcommand-action": Case(["registry"], "the following arguments are required: ACTION"),
    # Upper bounds (mpg_core.hyperparameters): refused here, not by scikit-learn in the
    # container after the job was paid for.
    "train-h-huge-count": Case([*TRAIN, "-H", "n_estimators=1e9"], "n_estimators"),
    "train-h-huge-seed": Case(
        [*TRAIN, "-H", "random_state=99999999999999999999999"], "random_state"
    ),
    "start-n-estimators-huge": Case([*START, "-P", "NEstimators=1000000000"], "n_estimators"),
    # The monitor (issue 26): its flags and [monitor] table, refused before anything is sent.
    "monitor-run-model-data": Case(
        ["monitor", "run", "--model-data", "http://x/model.tar.gz", "--dry-run"],
        "model_data 'http://x/model.tar.gz' must be an s3:// URI",
    ),
    "monitor-run-threshold-text": Case(
        ["monitor", "run", "--psi-threshold", "high", "--dry-run"],
        "--psi-threshold: psi_threshold = 'high' is not a number",
    ),
    "monitor-schedule-expression": Case(
        ["monitor", "schedule", "--schedule", "every hour", "--dry-run"],
        "is not an EventBridge Scheduler expression",
    ),
    "monitor-schedule-role": Case(
        ["monitor", "schedule", "--schedule-role", "admin", "--dry-run"],
        "schedule_role 'admin' is not an IAM role ARN",
    ),
    "monitor-list-name": Case(["monitor", "list", "--monitor-name", "m" * 41], "monitor_name"),
    "monitor-delete-endpoint": Case(
        ["monitor", "delete", "--endpoint", "e" * 64], "is not a SageMaker name (1-63 letters"
    ),
    "monitor-window-negative": toml(
        ["monitor", "run", "--dry-run"],
        "[monitor]\nwindow_hours = -1\n",
        "window_hours = -1.0 must be from 0.0 to 720.0",
    ),
    "monitor-unknown-key": toml(
        ["monitor", "list"], "[monitor]\nwindow = 1\n", "unknown key(s) ['window'] in [monitor]"
    ),
}
PARAMS = [pytest.param(case, id=name) for name, case in CASES.items()]


def no_clients(config: object, out: object) -> object:
    raise AssertionError("a refused input must not set up clients")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    made = {
        "rows": b"8,307,130,3504,12,70,1\n",
        "empty": b"\n",
        "garbage": b"not the data\n",
        "binary": b"\x89PNG\r\n\x1a\n\xff\xfe",
    }
    paths = {}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = str(tmp_path / name)
    table = tmp_path / "table.csv"  # headered: a table of the user's
    table.write_text("a,b\n1,2\n3,4\n")
    paths["table"] = str(table)
    return paths


def test_the_cases_cover_every_subcommand_and_the_config_file() -> None:
    covered = set()
    for case in CASES.values():
        words = [a for a in case.argv if not a.startswith("-")][:2]
        covered.add(" ".join(words) if " ".join(words) in subcommand_table() else words[0])
    assert set(subcommand_table()) <= covered
    assert sum(case.config is not None for case in CASES.values()) >= 20
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", PARAMS)
def test_hostile_input_is_refused_in_one_line(
    case: Case,
    files: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = dict(ENV)
    if case.aws:
        env = {**request.getfixturevalue("aws_env"), "MPG_BUCKET": "my-bucket"}
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    argv = [a.format(**files) if a.startswith("{") else a for a in case.argv]
    config = tmp_path / "mpg.toml"
    if case.config is not None:
        text = case.config.encode() if isinstance(case.config, str) else case.config
        config.write_bytes(text)
        argv += ["--config", str(config)]
    lines: list[str] = []
    factory = {} if case.aws else {"factory": no_clients}
    try:
        code = main(argv, env=env, out=lines.append, **factory)  # type: ignore[arg-type]
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == case.code, err
    assert case.message.format(config=config) in err
    assert "Traceback" not in err
    if err.startswith("usage: "):  # argparse: its usage, then one error line
        assert err.strip().splitlines()[-1].startswith("mpg-launch")
    else:
        assert err.startswith("mpg-launch: error: ") and len(err.strip().splitlines()) == 1
    assert not any(line.startswith("{") for line in lines)  # no request printed
