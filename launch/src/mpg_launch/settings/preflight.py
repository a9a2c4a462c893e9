"""Checks of a user's flags that botocore's service model cannot make, run before the first
request (and the same under ``--dry-run``). Each failure is a :class:`ConfigError`: one line
naming the flag, the value, what is allowed and the fix; exit code 2, nothing sent.

Standard library only (plus the hyperparameter schema, which is too): the config module uses
the value checks here while ``--help`` runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpg_core.errors import ConfigError as HyperparameterError
from mpg_core.hyperparameters import parse_hyperparameters
from mpg_launch.aws import identifiers
from mpg_launch.errors import ConfigError

# SageMaker resource names: 1-63 letters, digits and inner hyphens.
NAME_LIMIT = 63
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
# numpy's RandomState (scikit-learn's splits) takes seeds 0 .. 2**32 - 1.
SEED_MAX = 2**32 - 1
# A Docker image reference: [host[:port]/]path[:tag][@sha256:digest], path components lower
# case (the grammar of the distribution/reference package, slightly simplified).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST_PORT = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
_HOST = rf"(?:{_HOST_PORT}/)"
_IMAGE = re.compile(
    rf"^{_HOST}?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
# Where images are pushed: a host[:port], optionally with a path the repositories go under.
_REGISTRY = re.compile(rf"^{_HOST_PORT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_ACCOUNT = re.compile(r"^\d{12}$")
# AWS tags: keys 1-128 and values 0-256 Unicode letters, digits, spaces and _ . : / = + - @;
# keys starting "aws:" are AWS's own. At most 50 per resource.
TAG_KEY_LIMIT, TAG_VALUE_LIMIT, TAG_LIMIT = 128, 256, 50
_TAG_PUNCTUATION = set("_.:/=+-@")
# Pipeline parameters that are hyperparameters in disguise, and the gate's threshold.
_HYPERPARAMETER_PARAMETERS = {"NEstimators": "n_estimators", "MaxDepth": "max_depth"}
RMSE_THRESHOLD = "RmseThreshold"
# The classification gate's (mpg_launch.table.tasks): a share, passed when the metric is >= it.
BALANCED_ACCURACY_THRESHOLD = "BalancedAccuracyThreshold"


def name(value: str, flag: str, limit: int = NAME_LIMIT, why: str = "") -> str:
    """A SageMaker resource name; ``why`` says where a shorter ``limit`` comes from."""
    if len(value) > limit or not NAME_PATTERN.match(value):
        raise ConfigError(
            f"{flag} {value!r} ({len(value)} characters): give 1 to {limit} letters, digits "
            f"and inner hyphens{why}"
        )
    return value


def endpoint_name(value: str, flag: str) -> str:
    """Any name SageMaker takes for an endpoint (1-63): deploy derives its model and endpoint
    config names to fit (:func:`mpg_launch.aws.names.deploy_name`)."""
    return name(value, flag)


def image_uri(value: str, where: str) -> str:
    if not _IMAGE.match(value):
        raise ConfigError(
            f"{where}: image {value!r} is not an image reference; give "
            "[registry/]repository[:tag][@sha256:digest], e.g. "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/mpg-serving:git-abc"
        )
    return value


def registry(value: str, where: str) -> str:
    if not _REGISTRY.match(value):
        raise ConfigError(
            f"{where}: registry {value!r} is not a registry host; give host[:port][/path] "
            "without a scheme or trailing '/', e.g. 127.0.0.1:5000 or registry.example.com/team"
        )
    return value


def image_tag(value: str, flag: str) -> str:
    if not _TAG.match(value):
        raise ConfigError(
            f"{flag} {value!r}: an image tag is 1-128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    return value


def account_id(value: str, where: str) -> str:
    if not _ACCOUNT.match(value):
        raise ConfigError(f"{where}: account_id {value!r} is not an AWS account id (12 digits)")
    return value


def _tag_text(text: str) -> bool:
    return all(c.isalnum() or c.isspace() or c in _TAG_PUNCTUATION for c in text)


def tags(values: Mapping[str, str], where: str) -> dict[str, str]:
    """AWS's tag rules, checked once here instead of by each service after the first send."""
    if len(values) > TAG_LIMIT:
        raise ConfigError(f"{where}: [tags] has {len(values)} tags; AWS allows {TAG_LIMIT}")
    for key, value in values.items():
        if not 1 <= len(key) <= TAG_KEY_LIMIT or not _tag_text(key):
            raise ConfigError(
                f"{where}: tag key {key!r}: give 1-{TAG_KEY_LIMIT} letters, digits, spaces "
                "and _ . : / = + - @"
            )
        if key.lower().startswith("aws:"):
            raise ConfigError(f"{where}: tag key {key!r}: keys starting 'aws:' are AWS's own")
        if len(value) > TAG_VALUE_LIMIT or not _tag_text(value):
            raise ConfigError(
                f"{where}: tag {key} = {value!r}: give 0-{TAG_VALUE_LIMIT} letters, digits, "
                "spaces and _ . : / = + - @"
            )
    return dict(values)


def seed(value: int) -> int:
    if not 0 <= value <= SEED_MAX:
        raise ConfigError(f"--seed {value}: give 0 to {SEED_MAX} (numpy's seed range)")
    return value


def data_source(value: str | None) -> str | None:
    """``data --source``: None (the bundled copy), 'uci', an http(s) URL or a readable file."""
    if value is None or value == "uci" or value.startswith(("http://", "https://")):
        return value
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise ConfigError(
            f"--source {value!r}: {scheme}:// is not supported; give 'uci', an http(s):// URL "
            "or a file (or leave --source out for the bundled copy)"
        )
    path = Path(value)
    if path.is_dir():
        raise ConfigError(f"--source {value!r} is a folder; give the auto-mpg.data file in it")
    if not path.is_file():
        raise ConfigError(
            f"--source {value!r}: no such file; give an auto-mpg.data file, 'uci' or a URL"
        )
    return value


def readable_file(path: Path, flag: str) -> Path:
    if path.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a folder; give a file")
    if not path.is_file():
        raise ConfigError(f"{flag} {str(path)!r}: no such file; fix the path (or use stdin)")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{flag} {str(path)!r}: cannot read it ({exc.strerror})") from None
    return path


def s3_uri(value: str, flag: str) -> str:
    if not value.startswith("s3://") or len(value) <= len("s3://") or value[5] == "/":
        raise ConfigError(f"{flag} {value!r}: give an s3://bucket/key URI")
    problems = identifiers.s3_uri_problems(value)
    if problems:
        raise ConfigError(f"{flag}: {problems[0]}")
    return value


def conflicting(given: Mapping[str, Any], fix: str) -> None:
    """Flags of which only one may be given (``given``: flag -> value, None when absent)."""
    named = [flag for flag, value in given.items() if value not in (None, False)]
    if len(named) > 1:
        raise ConfigError(f"{' and '.join(named)} both given; {fix}")


def needs(flag: str, value: Any, required: str, present: Any) -> None:
    """``flag`` means nothing without ``required``: refuse it instead of ignoring it."""
    if value not in (None, False) and present in (None, False):
        raise ConfigError(f"{flag} needs {required}; add {required} or drop {flag}")


def hyperparameters(values: Mapping[str, str], where: str) -> dict[str, str]:
    """``values`` unchanged if the training image's parser accepts them."""
    try:
        parse_hyperparameters(values)
    except HyperparameterError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return dict(values)


def pipeline_overrides(pairs: Sequence[str]) -> None:
    """The domains of ``-P`` values the definition's types do not carry: the hyperparameter
    parameters through the training image's schema, and the gate's threshold (an RMSE is
    never negative, so a threshold at or below 0 is a gate no model can pass). Run before
    any request; the types and names are checked against the pipeline's declared parameters."""
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            continue  # parse_overrides names it
        if key in _HYPERPARAMETER_PARAMETERS:
            hyperparameters({_HYPERPARAMETER_PARAMETERS[key]: value}, f"-P {key}")
        elif key == RMSE_THRESHOLD:
            try:
                number = float(value)
            except ValueError:
                continue  # not a number: the declared Float type names it
            if not (math.isfinite(number) and number > 0):
                raise ConfigError(
                    f"-P {key}={value!r}: the test RMSE must be <= the threshold for a model to "
                    "be registered, and an RMSE is >= 0; give a threshold above 0 (in mpg, "
                    "e.g. 4.0)"
                )
        elif key == BALANCED_ACCURACY_THRESHOLD:
            try:
                number = float(value)
            except ValueError:
                continue  # not a number: the declared Float type names it
            if not (math.isfinite(number) and 0 < number <= 1):
                raise ConfigError(
                    f"-P {key}={value!r}: the test balanced accuracy must be >= the threshold "
                    "for a model to be registered, and it lies in [0, 1]; give a threshold in "
                    "(0, 1] (e.g. 0.7)"
                )
