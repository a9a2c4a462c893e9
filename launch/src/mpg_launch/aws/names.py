"""Where everything lives: job names and the S3 layout under ``s3://<bucket>/<prefix>/``.

<prefix>/data/bronze/{train,validation,test}/<split>.csv   raw, headered (``data``)
<prefix>/data/batch/test.csv                              raw features, no header (transform)
<prefix>/data/batch-joined/test.csv                       id, mpg, raw features (joined transform)
<prefix>/preprocess/<job>/features/<split>/<split>.csv     preprocessing outputs
<prefix>/preprocess/<job>/preprocessor/model.tar.gz
<prefix>/training/<job>/output/model.tar.gz               SageMaker's training layout
<prefix>/checkpoints/<job>/                               spot training checkpoints
<prefix>/transform/<job>/<input file>.out                  batch transform outputs
<prefix>/data-capture/<endpoint>/<variant>/yyyy/mm/dd/hh/  endpoint data capture (SageMaker's)
<prefix>/pipeline/no-approved-model/README.txt            "no approved model" (``pipeline upsert``)
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

SPLITS = ("train", "validation", "test")
# SageMaker resource names: 1-63 characters, alphanumerics and inner hyphens.
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Tuning job names are limited to 32 characters.
TUNING_NAME_LIMIT = 32


def job_name(kind: str, now: datetime | None = None, limit: int = 63) -> str:
    """``mpg-<kind>-<UTC timestamp with milliseconds>``: unique per account and region."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}"
    name = f"mpg-{kind}-{stamp}"
    if len(name) > limit:  # keep the timestamp, which makes the name unique
        name = f"{kind[: max(1, limit - len(stamp) - 1)]}-{stamp}"[-limit:].lstrip("-")
    return checked_name(name, limit)


def checked_name(name: str, limit: int = 63) -> str:
    if len(name) > limit or not _NAME.match(name):
        raise ConfigError(
            f"name {name!r} is not a valid SageMaker name (1-{limit} letters, "
            "digits and inner hyphens); choose another"
        )
    return name


def s3_uri(config: LaunchConfig, *parts: str) -> str:
    key = "/".join(p.strip("/") for p in (config.prefix, *parts) if p.strip("/"))
    return f"s3://{config.bucket}/{key}"


def raw_uri(config: LaunchConfig, split: str) -> str:
    return s3_uri(config, config.raw_prefix, split) + "/"


def batch_input_uri(config: LaunchConfig) -> str:
    return s3_uri(config, "data/batch") + "/"


def batch_joined_uri(config: LaunchConfig) -> str:
    """Rows of id, true mpg and the features: the DataProcessing example's input."""
    return s3_uri(config, "data/batch-joined") + "/"


def preprocess_uri(config: LaunchConfig, job: str, output: str) -> str:
    """``output`` is ``features`` or ``preprocessor``."""
    return s3_uri(config, "preprocess", job, output) + "/"


def features_uri(config: LaunchConfig, job: str, split: str) -> str:
    return preprocess_uri(config, job, "features") + f"{split}/"


def preprocessor_model_uri(config: LaunchConfig, job: str) -> str:
    return preprocess_uri(config, job, "preprocessor") + "model.tar.gz"


def training_output_uri(config: LaunchConfig) -> str:
    return s3_uri(config, "training") + "/"


def trained_model_uri(config: LaunchConfig, job: str) -> str:
    return f"{training_output_uri(config)}{job}/output/model.tar.gz"


def checkpoint_uri(config: LaunchConfig, job: str) -> str:
    return s3_uri(config, "checkpoints", job) + "/"


def transform_output_uri(config: LaunchConfig, job: str) -> str:
    return s3_uri(config, "transform", job) + "/"


def data_capture_uri(config: LaunchConfig) -> str:
    """Where endpoints capture data by default; SageMaker adds ``<endpoint>/<variant>/...``."""
    return s3_uri(config, "data-capture") + "/"


def no_approved_model_uri(config: LaunchConfig) -> str:
    """The pipeline's ApprovedModelData when the registry has no approved version: a prefix
    of the kit's own that holds a README and no model."""
    return s3_uri(config, "pipeline/no-approved-model") + "/"


# The one production variant of every endpoint, and Application Auto Scaling's names for it.
VARIANT = "AllTraffic"
AUTOSCALING_NAMESPACE = "sagemaker"
INSTANCE_COUNT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def scalable_resource_id(endpoint: str, variant: str = VARIANT) -> str:
    """Application Auto Scaling's name for an endpoint variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


def scalable_variant(endpoint: str) -> dict[str, Any]:
    """What every Application Auto Scaling call on the variant's instance count names."""
    return {
        "ServiceNamespace": AUTOSCALING_NAMESPACE,
        "ResourceId": scalable_resource_id(endpoint),
        "ScalableDimension": INSTANCE_COUNT_DIMENSION,
    }


# deploy's stamp, "YYYYmmdd-HHMMSS", and the hash that keeps a long endpoint's names apart.
_STAMP_LENGTH = len("20260101-000000")
_HASH_LENGTH = 8
_SHORT_PREFIX = 63 - _STAMP_LENGTH - _HASH_LENGTH - 2  # two hyphens


def deploy_name(endpoint: str, stamp: str) -> str:
    """The model and endpoint config deploy makes for ``endpoint`` at ``stamp``:
    ``<endpoint>-<stamp>`` while that fits SageMaker's 63 characters, else the endpoint's first
    38 characters, a short hash of the whole name (two long endpoints that share those 38 keep
    apart) and the stamp. So every legal endpoint name (1-63) can be deployed."""
    name = f"{endpoint}-{stamp}"
    if len(name) > 63:
        digest = hashlib.sha256(endpoint.encode()).hexdigest()[:_HASH_LENGTH]
        name = f"{resource_name_prefix(endpoint)}-{digest}-{stamp}"
    return checked_name(name)


def resource_name_prefix(endpoint: str) -> str:
    """What every model and endpoint config deploy names for ``endpoint`` starts with (delete
    lists by it, then keeps only what the kit's tags say is the endpoint's)."""
    if len(endpoint) + 1 + _STAMP_LENGTH <= 63:
        return endpoint
    return endpoint[:_SHORT_PREFIX]
