"""The training image's hyperparameters, owned here: the fields of :class:`Hyperparameters` are
the one table of each name, type, default, valid values and (if tuned) tuning range.

Hyperparameters arrive as strings (or JSON-quoted strings, which sagemaker-training has
already decoded): :func:`parse_hyperparameters` validates them into one frozen object, with
errors that name the fix. The training job runs it on ``hyperparameters.json``; the launchers
run it on ``-H`` and the config file before they build a request, and derive the tuning job's
``ParameterRanges`` from the same table (:func:`parameter_ranges`).

Standard library only: the launcher imports this and must start without numpy or scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from mpg_core.errors import ConfigError

_NONE_WORDS = ("", "none", "null")
# SageMaker's reserved keys: ``sagemaker_*`` (SDK, toolkit) and ``_tuning_objective_metric``.
_RESERVED_PREFIXES = ("sagemaker_", "_")


@dataclass(frozen=True)
class Integer:
    """An integer (``"3"`` and ``"3.0"`` both read as 3), at least ``minimum``; with
    ``none_allowed`` also ``None``/``null``/empty; with ``zero_fix`` 0 is refused, naming it."""

    minimum: int | None = None
    none_allowed: bool = False
    zero_fix: str | None = None

    def parse(self, name: str, value: Any) -> int | None:
        if self.none_allowed and (value is None or str(value).strip().lower() in _NONE_WORDS):
            return None
        try:
            number = float(value) if not isinstance(value, bool) else float("nan")
        except (TypeError, ValueError):
            number = float("nan")
        if not number.is_integer():
            raise ConfigError(f"hyperparameter {name}={value!r} must be an integer")
        if self.minimum is not None and number < self.minimum:
            raise ConfigError(f"hyperparameter {name}={value!r} must be >= {self.minimum}")
        if self.zero_fix and number == 0:
            raise ConfigError(f"hyperparameter {name}=0 is not allowed; {self.zero_fix}")
        return int(number)


@dataclass(frozen=True)
class Fraction:
    """A number in (0, 1], or one of ``words`` (any case)."""

    words: tuple[str, ...] = ()

    def parse(self, name: str, value: Any) -> float | str:
        if isinstance(value, str) and value.strip().lower() in self.words:
            return value.strip().lower()
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not 0.0 < number <= 1.0:
            raise ConfigError(
                f"hyperparameter {name}={value!r} must be a fraction in (0, 1] "
                f"or one of {list(self.words)}"
            )
        return number


@dataclass(frozen=True)
class TuningRange:
    """What the tuning job searches: ``kind`` names the ``ParameterRanges`` group."""

    kind: Literal["Integer", "Continuous"]
    low: int | float
    high: int | float
    scaling: str = "Auto"


def _hyperparameter(
    default: Any, valid: Integer | Fraction, tuned: TuningRange | None = None
) -> Any:
    return field(default=default, metadata={"valid": valid, "tuned": tuned})


@dataclass(frozen=True)
class Hyperparameters:
    """The random forest's settings; the field names are scikit-learn's."""

    n_estimators: int = _hyperparameter(100, Integer(minimum=1), TuningRange("Integer", 50, 400))
    max_depth: int | None = _hyperparameter(
        None, Integer(minimum=1, none_allowed=True), TuningRange("Integer", 3, 20)
    )
    min_samples_split: int = _hyperparameter(2, Integer(minimum=2))
    min_samples_leaf: int = _hyperparameter(1, Integer(minimum=1), TuningRange("Integer", 1, 8))
    max_features: float | str = _hyperparameter(
        1.0, Fraction(words=("sqrt", "log2")), TuningRange("Continuous", 0.3, 1.0)
    )
    random_state: int = _hyperparameter(42, Integer(minimum=0))
    n_jobs: int = _hyperparameter(-1, Integer(zero_fix="use -1 for all cores"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Spec:
    """One row of the table: a field of :class:`Hyperparameters` and its metadata."""

    name: str
    default: Any
    valid: Integer | Fraction
    tuned: TuningRange | None


SCHEMA: tuple[Spec, ...] = tuple(
    Spec(f.name, f.default, f.metadata["valid"], f.metadata["tuned"])
    for f in fields(Hyperparameters)
)
TUNED: frozenset[str] = frozenset(s.name for s in SCHEMA if s.tuned)


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
    known = sorted(s.name for s in SCHEMA)
    values = {k: _decode(v) for k, v in raw.items() if not k.startswith(_RESERVED_PREFIXES)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s) {unknown}; known: {known}")
    # In table order, so the first bad value reported does not depend on the input's order.
    parsed: dict[str, Any] = {
        s.name: s.valid.parse(s.name, values[s.name]) for s in SCHEMA if s.name in values
    }
    return Hyperparameters(**parsed)


def parameter_ranges() -> dict[str, list[dict[str, str]]]:
    """The tuning job's ``ParameterRanges`` (bounds are strings on the wire)."""
    ranges: dict[str, list[dict[str, str]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for spec in SCHEMA:
        if spec.tuned is not None:
            ranges[f"{spec.tuned.kind}ParameterRanges"].append(
                {
                    "Name": spec.name,
                    "MinValue": str(spec.tuned.low),
                    "MaxValue": str(spec.tuned.high),
                    "ScalingType": spec.tuned.scaling,
                }
            )
    return ranges
