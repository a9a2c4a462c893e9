"""SageMaker's model registry on the local state folder: model package groups, and versioned
model packages numbered 1, 2, ... in each group, one JSON file each, read and written with the
``sagemaker`` client's request and response shapes (CreateModelPackage, DescribeModelPackage,
ListModelPackages, UpdateModelPackage...).

A versioned package's ARN is ``arn:aws:sagemaker:<region>:<account>:model-package/<group>/<n>``
and its ModelPackageName is its group's name, as on SageMaker. A CreateModel container that
names a ``ModelPackageName`` gets that package's image, model data and environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.local.state import LocalState, not_found, with_datetimes

GROUPS = "model-package-groups"
PACKAGES = "model-packages"
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[^:]*:\d{12}:model-package/([^/]+)/(\d+)$")
_GROUP_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[^:]*:\d{12}:model-package-group/(.+)$")
# DescribeModelPackage's fields that ListModelPackages summarises.
_SUMMARY = (
    "ModelPackageName",
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "ModelPackageStatus",
    "ModelApprovalStatus",
    "ModelLifeCycle",
    "ModelPackageRegistrationType",
)
# What UpdateModelPackage may change (the rest of its request is not kept locally).
_UPDATABLE = (
    "ModelApprovalStatus",
    "ApprovalDescription",
    "ModelPackageRegistrationType",
    "InferenceSpecification",
    "SourceUri",
    "ModelCard",
    "ModelLifeCycle",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _rejected(operation: str, message: str) -> ClientError:
    """SageMaker answers ValidationException for a missing or conflicting registry entry."""
    return not_found(operation, message)


class LocalRegistry:
    def __init__(self, state: LocalState, region: str, account: str) -> None:
        self.state = state
        self.prefix = f"arn:aws:sagemaker:{region}:{account}"

    # Groups.
    def _group_name(self, name_or_arn: str) -> str:
        match = _GROUP_ARN.match(name_or_arn)
        return match.group(1) if match else name_or_arn

    def create_group(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["ModelPackageGroupName"]
        if self.state.exists(GROUPS, name):
            raise _rejected(
                "CreateModelPackageGroup", f"Model Package Group already exists: {name} (local)."
            )
        record = {
            "ModelPackageGroupName": name,
            "ModelPackageGroupArn": f"{self.prefix}:model-package-group/{name}",
            "ModelPackageGroupDescription": request.get("ModelPackageGroupDescription", ""),
            "CreationTime": _now(),
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        }
        self.state.put(GROUPS, name, record)
        return with_datetimes(record)

    def describe_group(self, name_or_arn: str) -> dict[str, Any]:
        name = self._group_name(name_or_arn)
        if not self.state.exists(GROUPS, name):
            raise _rejected(
                "DescribeModelPackageGroup",
                f"ModelPackageGroup {self.prefix}:model-package-group/{name} does not exist "
                "(local); create it first",
            )
        return with_datetimes(self.state.get(GROUPS, name, "DescribeModelPackageGroup"))

    def groups(self) -> list[dict[str, Any]]:
        return [self.describe_group(n) for n in self.state.names(GROUPS)]

    # Packages.
    def create_package(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if not request.get("ModelPackageGroupName") or request.get("ModelPackageName"):
            raise _rejected(
                "CreateModelPackage",
                "the local registry keeps versioned model packages: give ModelPackageGroupName "
                "and no ModelPackageName",
            )
        group = self.describe_group(request["ModelPackageGroupName"])["ModelPackageGroupName"]
        version = len(self.state.names(f"{PACKAGES}/{group}")) + 1
        now = _now()

        def versioned(version: int) -> dict[str, Any]:
            return {
                **{k: v for k, v in request.items() if k not in ("ClientToken", "Tags")},
                "ModelPackageName": group,
                "ModelPackageGroupName": group,
                "ModelPackageVersion": version,
                "ModelPackageArn": f"{self.prefix}:model-package/{group}/{version}",
                "ModelPackageRegistrationType": request.get(
                    "ModelPackageRegistrationType", "Registered"
                ),
                "ModelApprovalStatus": request.get("ModelApprovalStatus", "PendingManualApproval"),
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "CreationTime": now,
                "LastModifiedTime": now,
            }

        # The next free version, claimed under its record's lock: two registrations at once
        # get two versions, never one overwriting the other.
        while not self.state.create(f"{PACKAGES}/{group}", str(version), versioned(version)):
            version += 1
        return with_datetimes(versioned(version))

    def _locate(self, name_or_arn: str, operation: str) -> tuple[str, str]:
        """(group, version) of a versioned package ARN (or ``group/version``)."""
        match = _PACKAGE_ARN.match(name_or_arn) or re.match(r"^([^/:]+)/(\d+)$", name_or_arn)
        if not match or not self.state.exists(f"{PACKAGES}/{match.group(1)}", match.group(2)):
            raise _rejected(operation, f"Model package {name_or_arn} not found (local)")
        return match.group(1), match.group(2)

    def describe_package(self, name_or_arn: str) -> dict[str, Any]:
        group, version = self._locate(name_or_arn, "DescribeModelPackage")
        return with_datetimes(
            self.state.get(f"{PACKAGES}/{group}", version, "DescribeModelPackage")
        )

    def update_package(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arn = request["ModelPackageArn"]
        group, version = self._locate(arn, "UpdateModelPackage")

        def change(record: dict[str, Any]) -> None:
            record.update({k: request[k] for k in _UPDATABLE if k in request})
            metadata = {
                **record.get("CustomerMetadataProperties", {}),
                **request.get("CustomerMetadataProperties", {}),
            }
            for key in request.get("CustomerMetadataPropertiesToRemove", []):
                metadata.pop(key, None)
            if metadata:
                record["CustomerMetadataProperties"] = metadata
            record["LastModifiedTime"] = _now()

        # Under the record's lock: an approval and a metadata change at once both stay.
        record = self.state.update(f"{PACKAGES}/{group}", version, change, "UpdateModelPackage")
        return with_datetimes(record)

    def packages(self, group: str | None = None) -> list[dict[str, Any]]:
        groups = [self._group_name(group)] if group else self.state.names(GROUPS)
        found = []
        for name in groups:
            for version in self.state.names(f"{PACKAGES}/{name}"):
                found.append(self.describe_package(f"{name}/{version}"))
        return found

    def containers(self, name_or_arn: str) -> list[dict[str, Any]]:
        """A package's inference containers as CreateModel takes them."""
        spec = self.describe_package(name_or_arn).get("InferenceSpecification") or {}
        keep = ("ContainerHostname", "Image", "ModelDataUrl", "Environment")
        return [{k: c[k] for k in keep if k in c} for c in spec.get("Containers", [])]


def summary(package: Mapping[str, Any]) -> dict[str, Any]:
    """A ListModelPackages entry of a DescribeModelPackage record."""
    return {k: package[k] for k in _SUMMARY if k in package}


def expand_packages(request: Mapping[str, Any], registry: LocalRegistry) -> dict[str, Any]:
    """A CreateModel request whose containers name model packages, with each such container
    replaced by the package's own (what SageMaker does when it creates the model)."""
    containers = list(request.get("Containers") or [])
    primary = request.get("PrimaryContainer")
    if not any("ModelPackageName" in c for c in [*containers, *([primary] if primary else [])]):
        return dict(request)
    out = dict(request)
    expanded: list[dict[str, Any]] = []
    for container in containers or [primary]:
        if "ModelPackageName" in container:
            extra = {k: v for k, v in container.items() if k != "ModelPackageName"}
            expanded += [{**c, **extra} for c in registry.containers(container["ModelPackageName"])]
        else:
            expanded.append(dict(container))
    out.pop("PrimaryContainer", None)
    if len(expanded) == 1:
        out.pop("Containers", None)
        out["PrimaryContainer"] = expanded[0]
    else:
        out["Containers"] = expanded
    return out
