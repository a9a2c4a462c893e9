"""AWS's own rules for the names, ARNs, URIs and ids the kit sends, where botocore's service
model is looser than the service (its S3Uri pattern takes ``..``, its KmsKeyId pattern takes
``garbage``, its RoleArn pattern takes any partition).

Each check returns the problems it finds (empty when the value is valid), so the validator can
report them all at once with the member's path. Sources: S3's "General purpose bucket naming
rules", its object key guidance (no ``.``/``..`` segments, which SDKs normalise away), KMS's
"Key identifiers", EC2's resource id forms, and the ARN partitions per region.
"""

from __future__ import annotations

import math
import re

# S3 general purpose bucket names: 3-63 lower-case letters, digits, dots and hyphens,
# beginning and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_SHAPED = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# KMS: a key id (UUID), a multi-Region key id (mrk-...), an alias, or the ARN of either.
_KEY_ID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_ALIAS = r"alias/[a-zA-Z0-9/_-]{1,250}"
_KMS_ARN = re.compile(rf"arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{{12}}):(?:key/{_KEY_ID}|{_ALIAS})")
_KMS_LOCAL = re.compile(rf"{_KEY_ID}|{_ALIAS}")
# EC2 ids: 8 or 17 hex digits after the resource prefix.
_EC2_ID = {
    "subnet": re.compile(r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})"),
    "sg": re.compile(r"sg-(?:[0-9a-f]{8}|[0-9a-f]{17})"),
}
_ARN = re.compile(r"arn:([^:]*):([^:]*):([^:]*):([^:]*):(.+)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\s]")


def partition(region: str) -> str:
    """The ARN partition of ``region``: aws-cn in China, aws-us-gov in GovCloud, else aws."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


def bucket_problems(bucket: str) -> list[str]:
    if not _BUCKET.fullmatch(bucket):
        return [
            f"bucket {bucket!r} is not an S3 bucket name (3-63 lower-case letters, digits, "
            "'.' and '-', beginning and ending with a letter or digit)"
        ]
    problems = []
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        problems.append(f"bucket {bucket!r} has two adjacent dots or a dot beside a hyphen")
    if _IP_SHAPED.fullmatch(bucket):
        problems.append(f"bucket {bucket!r} is shaped like an IP address")
    problems += [
        f"bucket {bucket!r} begins with {p!r}, which S3 reserves"
        for p in _BUCKET_PREFIXES
        if bucket.startswith(p)
    ]
    problems += [
        f"bucket {bucket!r} ends with {s!r}, which S3 reserves"
        for s in _BUCKET_SUFFIXES
        if bucket.endswith(s)
    ]
    return problems


def key_problems(key: str, what: str = "S3 key") -> list[str]:
    """A key or prefix the kit reads or writes: no whitespace or control characters, no
    ``.``/``..`` segments, no empty segment (``a//b``)."""
    problems = []
    if _CONTROL.search(key):
        problems.append(f"{what} {key!r} holds whitespace or a control character")
    segments = key.strip("/").split("/") if key.strip("/") else []
    if any(s in (".", "..") for s in segments):
        problems.append(f"{what} {key!r} has a '.' or '..' segment")
    if any(s == "" for s in segments):
        problems.append(f"{what} {key!r} has an empty segment ('//')")
    return problems


def s3_uri_problems(uri: str) -> list[str]:
    """An ``s3://bucket/key`` URI by S3's rules (https:// and file:// URIs are not checked)."""
    if not uri.startswith("s3://"):
        return []
    bucket, _, key = uri[5:].partition("/")
    return bucket_problems(bucket) + key_problems(key, f"key of {uri!r}")


def arn_partition_problems(arn: str, region: str) -> list[str]:
    match = _ARN.fullmatch(arn)
    if match is None:
        return [f"{arn!r} is not an ARN"]
    expected = partition(region)
    if match.group(1) != expected:
        return [
            f"ARN {arn!r} is in partition {match.group(1)!r}, but region {region} is in "
            f"{expected!r}"
        ]
    return []


def arn_scope_problems(arn: str, region: str, account: str | None) -> list[str]:
    """The ARN belongs to this partition, region and (when known) account."""
    problems = arn_partition_problems(arn, region)
    match = _ARN.fullmatch(arn)
    if match is None:
        return problems
    if match.group(3) and match.group(3) != region:
        problems.append(f"ARN {arn!r} is in region {match.group(3)}, not {region}")
    if account and match.group(4) and match.group(4) != account:
        problems.append(f"ARN {arn!r} belongs to account {match.group(4)}, not {account}")
    return problems


def kms_key_problems(key: str, region: str | None = None) -> list[str]:
    """A KMS key id, multi-Region key id, alias, or the ARN of a key or alias."""
    match = _KMS_ARN.fullmatch(key)
    if match is None and not _KMS_LOCAL.fullmatch(key):
        return [
            f"KMS key {key!r} is not a key id, alias/<name>, or a KMS key or alias ARN "
            "(arn:aws:kms:<region>:<account>:key/<id>)"
        ]
    if match is not None and region is not None:
        return arn_scope_problems(key, region, None)
    return []


def ec2_id_problems(value: object, kind: str) -> list[str]:
    """``subnet-`` and ``sg-`` ids (``kind`` is ``subnet`` or ``sg``)."""
    if not isinstance(value, str) or not _EC2_ID[kind].fullmatch(value):
        return [f"{value!r} is not a {kind}- id ({kind}- and 8 or 17 hex digits)"]
    return []


def finite_problems(value: float, what: str) -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{what}={value} is not a finite number"]
    return []
