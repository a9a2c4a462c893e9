"""Issue 23's hostile inputs, each refused with one ``mpg-launch: error:`` line and exit 2,
before any client is set up (so nothing is sent), in a dry run and a real run alike. Cases are
grouped by class (names, URIs, numbers, environment, files...); the counts per class are
asserted and printed, so a closing note can quote them (``pytest -s``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mpg_launch.aws.dry_run import refusing_clients
from mpg_launch.cli.main import main

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}
PREP = ["preprocess", "--dry-run"]
DEPLOY = ["deploy", "--training-job", "t1", "--dry-run"]
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mpg-models/1"


@dataclass(frozen=True)
class Case:
    kind: str  # names, uris, numbers, environment, files
    argv: list[str]
    message: str
    config: str | None = None  # mpg.toml's (or mpg.json's, with json=True) text
    env: dict[str, str] = field(default_factory=dict)
    json: bool = False


def bucket(name: str, message: str) -> Case:
    return Case("names", [*PREP, "--bucket", name], message)


def s3_input(uri: str, message: str) -> Case:
    return Case("uris", ["transform", "--model", "m1", "--input", uri, "--dry-run"], message)


CASES: dict[str, Case] = {
    # S3 bucket names S3 refuses
    "bucket-ip": bucket("192.168.5.4", "shaped like an IP address"),
    "bucket-dots": bucket("a..b", "two adjacent dots"),
    "bucket-xn": bucket("xn--bucket", "begins with 'xn--'"),
    "bucket-s3alias": bucket("my-bucket-s3alias", "ends with '-s3alias'"),
    "bucket-ol-s3": bucket("my-bucket--ol-s3", "ends with '--ol-s3'"),
    "bucket-short": bucket("ab", "is not an S3 bucket name"),
    "bucket-upper": bucket("MyBucket", "is not an S3 bucket name"),
    # ARNs, ids and keys
    "role-partition-cn": Case(
        "names", PREP, "partition 'aws', but region cn-north-1", env={"MPG_REGION": "cn-north-1"}
    ),
    "role-partition-gov": Case(
        "names",
        PREP,
        "partition 'aws-cn', but region us-east-1",
        env={"MPG_ROLE_ARN": "arn:aws-cn:iam::123456789012:role/R"},
    ),
    "kms-garbage": Case(
        "names", PREP, "KMS key 'garbage' is not a key id", 'kms_key_id = "garbage"\n'
    ),
    "kms-s3-arn": Case("names", PREP, "is not a key id", 'kms_key_id = "arn:aws:s3:::my-bucket"\n'),
    "kms-other-region": Case(
        "names",
        PREP,
        "is in region eu-west-1, not us-east-1",
        'kms_key_id = "arn:aws:kms:eu-west-1:123456789012:alias/mpg"\n',
    ),
    "subnets-numbers": Case(
        "names",
        PREP,
        "subnets: '1' is not a subnet- id",
        'subnets = [1, 2]\nsecurity_group_ids = ["sg-0123abcd"]\n',
    ),
    "security-group-garbage": Case(
        "names",
        PREP,
        "security_group_ids: 'garbage-group' is not a sg- id",
        'subnets = ["subnet-0123abcd"]\nsecurity_group_ids = ["garbage-group"]\n',
    ),
    "job-name-dots": Case("names", ["preprocess", "--job-name", "../../x"], "--job-name '../../x'"),
    "job-name-bang": Case("names", ["preprocess", "--job-name", "bad name!"], "--job-name 'bad"),
    "job-name-empty": Case("names", ["preprocess", "--job-name", ""], "--job-name ''"),
    "approve-other-account": Case(
        "names",
        ["registry", "approve", PACKAGE.replace("123456789012", "999999999999")],
        "belongs to account 999999999999, not 123456789012",
    ),
    "approve-other-region": Case(
        "names",
        ["registry", "approve", PACKAGE.replace("us-east-1", "eu-west-1")],
        "is in region eu-west-1, not us-east-1",
    ),
    "approve-other-partition": Case(
        "names",
        ["registry", "approve", PACKAGE.replace("arn:aws:", "arn:aws-cn:")],
        "partition 'aws-cn'",
    ),
    "approve-zero": Case("names", ["registry", "approve", "0"], "its version number, 1 or more"),
    "inference-id-newline": Case(
        "names",
        [
            "predict",
            "--async",
            "--input",
            "s3://my-bucket/in.csv",
            "--inference-id",
            "a\nb",
            "--dry-run",
        ],
        "--inference-id='a\\nb' does not match",
    ),
    "rollout-alarm-empty": Case(
        "names", [*DEPLOY, "--rollout", "canary", "--rollback-alarm", ""], "empty or non-text name"
    ),
    "rollout-alarm-empty-table": Case(
        "names",
        DEPLOY,
        "empty or non-text name",
        '[rollout]\nmode = "canary"\nalarms = ["", "mine"]\n',
    ),
    # S3 URIs and keys
    "uri-dotdot": s3_input("s3://my-bucket/a/../b/", "has a '.' or '..' segment"),
    "uri-dot": s3_input("s3://my-bucket/./b/", "has a '.' or '..' segment"),
    "uri-space": s3_input("s3://my-bucket/a b/", "whitespace or a control character"),
    "uri-bucket-ip": s3_input("s3://10.0.0.1/a/", "shaped like an IP address"),
    "uri-double-slash": s3_input("s3://my-bucket/a//b/", "empty segment"),
    "async-input-dotdot": Case(
        "uris",
        ["predict", "--async", "--input", "s3://my-bucket/../in.csv", "--dry-run"],
        "'.' or '..' segment",
    ),
    "prefix-dotdot": Case("uris", [*PREP, "--prefix", "../up"], "prefix '../up' has a '.'"),
    "prefix-control": Case(
        "uris", PREP, "prefix 'a\\x07b' holds whitespace", env={"MPG_PREFIX": "a\x07b"}
    ),
    "raw-prefix-newline": Case(
        "uris", PREP, "raw_prefix 'a\\nb' holds whitespace", 'raw_prefix = "a\\nb"\n'
    ),
    # numbers
    "tune-max-jobs-huge": Case(
        "numbers",
        ["tune", "--preprocessing-job", "p1", "--max-jobs", "1000000", "--dry-run"],
        "--max-jobs 1000000: give at most 750",
    ),
    "tune-parallel-huge": Case(
        "numbers",
        ["tune", "--preprocessing-job", "p1", "--max-jobs", "700", "--max-parallel", "101"],
        "--max-parallel 101: give at most 100",
    ),
    "latency-inf-flag": Case(
        "numbers", [*DEPLOY, "--rollout", "canary", "--max-latency-ms", "inf"], "max_latency_p99_ms"
    ),
    "latency-inf-table": Case(
        "numbers",
        DEPLOY,
        "max_latency_p99_ms=inf",
        '[rollout]\nmode = "canary"\nmax_latency_p99_ms = inf\n',
    ),
    "latency-nan-table": Case(
        "numbers",
        DEPLOY,
        "max_latency_p99_ms=nan",
        '[rollout]\nmode = "canary"\nmax_latency_p99_ms = nan\n',
    ),
    # environment: one rule for MPG_* variables, and flags that need their switch
    "env-dry-run": Case(
        "environment",
        ["preprocess"],
        "unknown environment variable(s) MPG_DRY_RUN",
        env={"MPG_DRY_RUN": "1"},
    ),
    "env-typo": Case(
        "environment", PREP, "unknown environment variable(s) MPG_BUCKETT", env={"MPG_BUCKETT": "b"}
    ),
    "env-invocation-timeout-alone": Case(
        "environment", [*DEPLOY, "--invocation-timeout", "60"], "--invocation-timeout needs --async"
    ),
    "env-capture-percent-alone": Case(
        "environment", [*DEPLOY, "--capture-percent", "5"], "--capture-percent needs --data-capture"
    ),
    "env-capture-uri-alone": Case(
        "environment",
        [*DEPLOY, "--capture-uri", "s3://my-bucket/c/"],
        "--capture-uri needs --data-capture",
    ),
    "argparse-unknown-flag": Case(
        "environment", ["deploy", "--bogus"], "unrecognized arguments: --bogus"
    ),
    "argparse-no-command": Case("environment", [], "the following arguments are required"),
    "argparse-bad-int": Case(
        "environment", ["tune", "--max-jobs", "x"], "tune: argument --max-jobs"
    ),
    "argparse-bad-choice": Case("environment", ["status", "foo", "x"], "status: argument kind"),
    "argparse-missing-arg": Case(
        "environment", ["registry", "approve"], "the following arguments are required"
    ),
    "argparse-nested": Case(
        "environment", ["pipeline", "start", "--nope"], "unrecognized arguments: --nope"
    ),
    # files
    "config-dev-zero": Case("files", [*PREP, "--config", "/dev/zero"], "is not a regular file"),
    "config-env-dev-zero": Case(
        "files",
        PREP,
        "config file /dev/zero is not a regular file",
        env={"MPG_CONFIG": "/dev/zero"},
    ),
    "init-table-dev-zero": Case(
        "files",
        ["init", "--table", "/dev/zero", "--target", "mpg", "--out", "{tmp}/schema.toml"],
        "--table /dev/zero is not a regular file",
    ),
    "data-csv-without-schema": Case(
        "files",
        ["data", "--dry-run", "--source", "{tmp}/cars.csv"],
        # The schema remembered by quickstart is looked for first; the message names the file.
        "none remembered at",
    ),
    "json-duplicate-key": Case(
        "files",
        PREP,
        "key 'bucket' is given twice",
        '{"bucket": "my-bucket", "bucket": "other-bucket"}',
        json=True,
    ),
    "json-duplicate-nested": Case(
        "files",
        PREP,
        "key 'count' is given twice",
        '{"instances": {"processing": {"count": 1, "count": 2}}}',
        json=True,
    ),
}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("a refused input must not set up clients")


def uncallable(config: object, out: object) -> object:
    """Clients whose every call stops the run (exit 0, the request printed): a refused input
    must exit 2 before reaching one."""
    return refusing_clients()


@pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in CASES.items()])
def test_round_two_input_is_refused_in_one_line(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cars.csv").write_text("a,b,c,d,mpg\n1,2,3,4,5\n6,7,8,9,10\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv]
    if case.config is not None:
        config = tmp_path / ("mpg.json" if case.json else "mpg.toml")
        config.write_text(case.config, encoding="utf-8")
        argv += ["--config", str(config)]
    lines: list[str] = []
    try:
        code = main(argv, env={**ENV, **case.env}, out=lines.append, factory=no_clients)  # type: ignore[arg-type]
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert case.message in err
    assert err.startswith("mpg-launch: error: ") and len(err.strip().splitlines()) == 1, err
    assert not any(line.startswith("{") for line in lines)  # no request printed
    if "--dry-run" in argv:  # the real run refuses the same input before any call is made
        real = [a for a in argv if a != "--dry-run"]
        try:
            code = main(real, env={**ENV, **case.env}, out=lines.append, factory=uncallable)  # type: ignore[arg-type]
        except SystemExit as exc:
            code = int(exc.code or 0)
        assert code == 2, capsys.readouterr().err


def test_round_two_counts_per_class() -> None:
    counts = Counter(case.kind for case in CASES.values())
    print("hostile input, round two:", dict(sorted(counts.items())))
    assert counts["names"] >= 20 and counts["uris"] >= 8
    assert counts["numbers"] >= 5 and counts["files"] >= 5 and counts["environment"] >= 10
