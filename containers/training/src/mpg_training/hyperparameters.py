"""Hyperparameters arrive as strings (or JSON-quoted strings, which sagemaker-training has
already decoded): parse and validate them into one frozen object, with errors that name the fix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from mpg_core.errors import ConfigError

_MAX_FEATURES_WORDS = ("sqrt", "log2")
_NONE_WORDS = ("", "none", "null")


@dataclass(frozen=True)
class Hyperparameters:
    n_estimators: int = 100
    max_depth: int | None = None
    min_samples_split: int = 2
    min_samples_leaf: int = 1
    max_features: float | str = 1.0
    random_state: int = 42
    n_jobs: int = -1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int(name: str, value: Any, minimum: int | None = None, allow_none: bool = False) -> Any:
    if allow_none and (value is None or str(value).strip().lower() in _NONE_WORDS):
        return None
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer():
        raise ConfigError(f"hyperparameter {name}={value!r} must be an integer")
    if minimum is not None and number < minimum:
        raise ConfigError(f"hyperparameter {name}={value!r} must be >= {minimum}")
    return int(number)


def _max_features(value: Any) -> float | str:
    if isinstance(value, str) and value.strip().lower() in _MAX_FEATURES_WORDS:
        return value.strip().lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 < number <= 1.0:
        raise ConfigError(
            f"hyperparameter max_features={value!r} must be a fraction in (0, 1] "
            f"or one of {list(_MAX_FEATURES_WORDS)}"
        )
    return number


def _decode(value: Any) -> Any:
    # Values may still be JSON-quoted when hyperparameters.json is read without the toolkit.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_hyperparameters(raw: Mapping[str, Any]) -> Hyperparameters:
    """Validate a hyperparameters map; SageMaker's reserved keys (``sagemaker_*``, and
    ``_tuning_objective_metric`` from tuning jobs) are ignored."""
    known = {f.name for f in fields(Hyperparameters)}
    values = {k: _decode(v) for k, v in raw.items() if not k.startswith(("sagemaker_", "_"))}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s) {unknown}; known: {sorted(known)}")
    parsed: dict[str, Any] = {}
    if "n_estimators" in values:
        parsed["n_estimators"] = _int("n_estimators", values["n_estimators"], 1)
    if "max_depth" in values:
        parsed["max_depth"] = _int("max_depth", values["max_depth"], 1, allow_none=True)
    if "min_samples_split" in values:
        parsed["min_samples_split"] = _int("min_samples_split", values["min_samples_split"], 2)
    if "min_samples_leaf" in values:
        parsed["min_samples_leaf"] = _int("min_samples_leaf", values["min_samples_leaf"], 1)
    if "max_features" in values:
        parsed["max_features"] = _max_features(values["max_features"])
    if "random_state" in values:
        parsed["random_state"] = _int("random_state", values["random_state"], 0)
    if "n_jobs" in values:
        n_jobs = _int("n_jobs", values["n_jobs"])
        if n_jobs == 0:
            raise ConfigError("hyperparameter n_jobs=0 is not allowed; use -1 for all cores")
        parsed["n_jobs"] = n_jobs
    return Hyperparameters(**parsed)
