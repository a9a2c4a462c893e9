"""The Model Registry, the hand-over from the pipeline to deployment: list a model package
group's packages with their approval status and model-quality metrics, approve or reject one,
and deploy an approved one to an endpoint.

Packages are named by ARN or by version number in the group. Everything goes through
``clients.sagemaker`` with boto3's method names (so ``--local`` works the same), and requests
through :class:`mpg_launch.aws.submit.Runner`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mpg_launch.aws import identifiers, validation
from mpg_launch.aws.clients import Clients, error_code
from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.endpoint import run as endpoint_run
from mpg_launch.errors import ConfigError, LaunchError
from mpg_launch.model_registry import requests as registry_requests
from mpg_launch.settings.config import LaunchConfig

APPROVED, REJECTED = "Approved", "Rejected"
METRICS = ("rmse", "mae", "r2")
CLASSIFICATION_METRICS = ("balanced_accuracy", "accuracy")


def packages(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """The group's model packages, newest first."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except Exception as exc:
        if error_code(exc) in ("ValidationException", "ResourceNotFound"):
            raise LaunchError(
                f"model package group {group} does not exist; `mpg-launch pipeline upsert` "
                "creates it (or set model_package_group / --model-package-group)"
            ) from None
        raise
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    while True:
        page = sagemaker.list_model_packages(**kwargs)
        found += [dict(p) for p in page.get("ModelPackageSummaryList", [])]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def report_metrics(s3: Any, uri: str) -> str:
    """``rmse=2.81 mae=2.05 r2=0.87`` (a classifier's ``balanced_accuracy=0.92 accuracy=0.91``)
    from an evaluation report (SageMaker's model-quality JSON), or why it could not be read."""
    try:
        bucket, key = split_s3_uri(uri)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        report = json.loads(body)
        names: tuple[str, ...]
        if "regression_metrics" in report:
            metrics, names = report["regression_metrics"], METRICS
        else:  # a classifier's: the gate's section (mpg_training.model_quality)
            metrics, names = report["classification_metrics"], CLASSIFICATION_METRICS
        return " ".join(
            f"{name}={float(metrics[name]['value']):.4g}" for name in names if name in metrics
        )
    except Exception as exc:  # any failure is reported in the listing, never fatal
        reason = error_code(exc) or f"{type(exc).__name__}: {exc}"
        return f"metrics unreadable ({' '.join(str(reason).split())[:120]})"


def metrics_uri(package: Mapping[str, Any]) -> str | None:
    statistics = ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics")
    return str(statistics["S3Uri"]) if statistics and statistics.get("S3Uri") else None


def package_lines(clients: Clients, group: str) -> list[str]:
    lines = []
    for summary in packages(clients.sagemaker, group):
        arn = str(summary["ModelPackageArn"])
        described = clients.sagemaker.describe_model_package(ModelPackageName=arn)
        uri = metrics_uri(described)
        metrics = report_metrics(clients.s3, uri) if uri else "no model-quality metrics"
        created = described.get("CreationTime")
        when = created.isoformat(timespec="seconds") if isinstance(created, datetime) else created
        lines.append(
            f"{described.get('ModelPackageVersion', '?'):>4}  "
            f"{described.get('ModelApprovalStatus', '?'):<21}  {metrics}  {when}  {arn}"
        )
    if not lines:
        lines.append(f"model package group {group} has no model packages yet")
    return lines


def check_package(package: str, config: LaunchConfig | None = None) -> str:
    """A model package ARN or a version number (1 or more); anything else refused before any
    request. With ``config``, an ARN must be of its partition, region and account: approving
    another account's package is not this kit's to do."""
    if not (package.startswith("arn:") or (package.isdigit() and int(package) >= 1)):
        raise ConfigError(
            f"model package {package!r}: give its ARN or its version number, 1 or more "
            "(see `mpg-launch registry list`)"
        )
    if package.startswith("arn:") and config is not None:
        try:
            account: str | None = config.account
        except ConfigError:
            account = None
        problems = validation.request_errors(
            "sagemaker", "DescribeModelPackage", {"ModelPackageName": package}
        ) + identifiers.arn_scope_problems(package, config.region, account)
        if problems:
            raise ConfigError(f"model package: {problems[0]}; give a package of this account")
    return package


def resolve(runner: Runner, package: str) -> str:
    """The ARN of ``package``: an ARN as given, or a version number in the config's group."""
    if check_package(package, runner.config).startswith("arn:"):
        return package
    group = runner.config.model_package_group
    # A dry run stops at this read (its clients refuse every call): it needs the answer.
    assert runner.clients is not None
    for summary in packages(runner.clients.sagemaker, group):
        if str(summary.get("ModelPackageVersion")) == package:
            return str(summary["ModelPackageArn"])
    raise ConfigError(
        f"model package group {group} has no version {package}; see `mpg-launch registry list`"
    )


def set_approval(runner: Runner, package: str, status: str, description: str | None = None) -> str:
    arn = resolve(runner, package)
    request = registry_requests.model_package_approval_request(arn, status, description)
    if runner.submit(Submission("UpdateModelPackage", request)):
        runner.out(f"{arn}: {status}")
    return arn


def deploy(
    runner: Runner, package: str, endpoint: str, stamp: str, wait: bool = True
) -> dict[str, Any] | None:
    """Deploy an approved model package through the ``deploy`` path (model, endpoint config,
    endpoint created or moved blue/green). Anything not Approved is refused; a dry run cannot
    look the status up and prints the requests."""
    arn = resolve(runner, package)
    status = runner.observe(
        lambda c: c.sagemaker.describe_model_package(ModelPackageName=arn).get(
            "ModelApprovalStatus"
        ),
        dry=lambda: APPROVED,  # a dry run cannot look it up: it prints the requests
    )
    if status != APPROVED:
        raise LaunchError(
            f"model package {arn} is {status}, not Approved: approve it first with "
            f"`mpg-launch registry approve {arn}`"
        )
    return endpoint_run.deploy(runner, endpoint, stamp, model_package=arn, wait=wait)
