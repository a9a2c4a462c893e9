"""AWS's rules for names, ARNs, URIs and ids, where botocore's model is looser."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpg_launch.aws import identifiers
from mpg_launch.aws.validation import _python_regex, request_errors
from mpg_launch.settings.files import NotRegularFile, load_json, regular_file


@pytest.mark.parametrize(
    "name", ["my-bucket", "a.b.c", "abc", "a" * 63, "bucket-1.logs", "xnbucket"]
)
def test_bucket_names_s3_takes(name: str) -> None:
    assert identifiers.bucket_problems(name) == []


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Bucket",
        "a_b",
        "-ab",
        "ab-",
        "a..b",
        "a.-b",
        "192.168.1.1",
        "xn--ab",
        "sthree-ab",
        "ab-s3alias",
        "ab--ol-s3",
        "ab.mrap",
        "ab--x-s3",
    ],
)
def test_bucket_names_s3_refuses(name: str) -> None:
    assert identifiers.bucket_problems(name)


@pytest.mark.parametrize("key", ["a/b/c.csv", "a/b/", "", "model.tar.gz", "a.b/..c"])
def test_keys_kept(key: str) -> None:
    assert identifiers.key_problems(key) == []


@pytest.mark.parametrize("key", ["a/../b", "./a", "a/.", "a b", "a\tb", "a\x00b", "a//b"])
def test_keys_refused(key: str) -> None:
    assert identifiers.key_problems(key)


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_partition_of_region(region: str, partition: str) -> None:
    assert identifiers.partition(region) == partition
    arn = f"arn:{partition}:iam::123456789012:role/R"
    assert identifiers.arn_partition_problems(arn, region) == []
    assert identifiers.arn_partition_problems(
        arn, "eu-west-1" if partition != "aws" else "cn-north-1"
    )


@pytest.mark.parametrize(
    "key",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/mpg",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:alias/mpg",
    ],
)
def test_kms_forms(key: str) -> None:
    assert identifiers.kms_key_problems(key, "us-east-1") == []


@pytest.mark.parametrize(
    "key",
    [
        "garbage",
        "arn:aws:s3:::b",
        "alias/",
        "arn:aws:kms:us-east-1:123:key/x",
        "arn:aws-cn:kms:us-east-1:123456789012:alias/mpg",
    ],
)
def test_kms_refused(key: str) -> None:
    assert identifiers.kms_key_problems(key, "us-east-1")


def test_ec2_ids() -> None:
    assert identifiers.ec2_id_problems("subnet-0123abcd", "subnet") == []
    assert identifiers.ec2_id_problems("sg-0123456789abcdef0", "sg") == []
    for bad in ("1", 1, "sg-xyz", "subnet-0123abcd", "garbage-group"):
        assert identifiers.ec2_id_problems(bad, "sg")


def test_java_regexes_read_as_python() -> None:
    assert _python_regex(r"\A\S[\p{Print}]*\z") == r"\A\S[\x20-\x7e]*\Z"
    assert _python_regex(r"\p{ASCII}*") == r"[\x00-\x7f]*"
    assert _python_regex(r"arn:[\p{Alnum}\-]+") == r"arn:[a-zA-Z0-9\-]+"


def test_validator_checks_uris_kms_and_finite_numbers() -> None:
    request = {"EndpointName": "e", "InputLocation": "s3://my-bucket/a/../b", "InferenceId": "x"}
    assert any(
        "'..'" in e for e in request_errors("sagemaker-runtime", "InvokeEndpointAsync", request)
    )
    alarm = {
        "AlarmName": "a",
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": float("inf"),
    }
    assert any(
        "not a finite number" in e for e in request_errors("cloudwatch", "PutMetricAlarm", alarm)
    )


def test_only_regular_files_and_unique_json_keys(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFile, match="not a regular file"):
        regular_file("/dev/zero", "config file")
    with pytest.raises(NotRegularFile, match="is a folder"):
        regular_file(tmp_path, "config file")
    (tmp_path / "f").write_text("x")
    assert regular_file(tmp_path / "f", "x") == tmp_path / "f"
    with pytest.raises(ValueError, match="'a' is given twice"):
        load_json('{"b": {"a": 1, "a": 2}}')
    assert load_json('{"a": {"a": 1}}') == {"a": {"a": 1}}
