"""Pieces every request builder shares: the request type, the tags and the VPC config."""

from __future__ import annotations

from typing import Any

from mpg_launch.settings.config import LaunchConfig

Request = dict[str, Any]
CSV = "text/csv"
# Where a processing container finds its inputs and leaves its outputs.
PROCESSING_ROOT = "/opt/ml/processing"


def tag_list(config: LaunchConfig) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]


def with_tags(request: Request, config: LaunchConfig) -> Request:
    if config.tags:
        request["Tags"] = tag_list(config)
    return request


def vpc_config(config: LaunchConfig) -> dict[str, list[str]] | None:
    if not config.subnets:
        return None
    return {"Subnets": list(config.subnets), "SecurityGroupIds": list(config.security_group_ids)}


def processing_input(name: str, uri: str, distribution: str = "FullyReplicated") -> Request:
    """A ProcessingInput of the S3 prefix ``uri``, at ``<processing root>/input/<name>``."""
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": f"{PROCESSING_ROOT}/input/{name}",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": distribution,
        },
    }
