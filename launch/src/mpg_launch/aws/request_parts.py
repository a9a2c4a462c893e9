"""Pieces every request builder shares: the request type, the tags and the VPC config."""

from __future__ import annotations

from typing import Any

from mpg_launch.settings.config import LaunchConfig

Request = dict[str, Any]
CSV = "text/csv"


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
