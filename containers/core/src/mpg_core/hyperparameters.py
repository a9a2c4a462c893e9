"""The training image's hyperparameters, owned here: :data:`SCHEMA` is the one table of each
name, the model families (``algorithm``) it belongs to, its default in each, its valid values
(both bounds) and, if tuned, its tuning range.

Hyperparameters arrive as strings (or JSON-quoted strings, which sagemaker-training has
already decoded): :func:`parse_hyperparameters` validates them into one frozen object, with
errors that name the fix. The training job runs it on ``hyperparameters.json``; the launchers
run it on ``-H`` and the config file before they build a request, and derive the tuning job's
``ParameterRanges`` and static hyperparameters from the same table (:func:`tuning_plan`).

Names are scikit-learn's, with one exception: ``n_estimators`` is the number of trees in every
family, so the tuner can search it together with ``algorithm``; for
``hist_gradient_boosting`` it is scikit-learn's ``max_iter``.

Standard library only: the launcher imports this and must start without numpy or scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mpg_core.errors import ConfigError

_NONE_WORDS = ("", "none", "null")
# SageMaker's reserved keys: ``sagemaker_*`` (SDK, toolkit) and ``_tuning_objective_metric``.
_RESERVED_PREFIXES = ("sagemaker_", "_")

Algorithm = Literal["random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting"]
ALGORITHMS: tuple[Algorithm, ...] = (
    "random_forest",
    "extra_trees",
    "gradient_boosting",
    "hist_gradient_boosting",
)
# "auto" (the default) is no family of its own: the training job fits the candidate families,
# keeps the best on validation (or a weighted ensemble of them) and reports a leaderboard.
AUTO = "auto"
CHOICES: tuple[str, ...] = (AUTO, *ALGORITHMS)
DEFAULT_ALGORITHM = AUTO
FORESTS: tuple[Algorithm, ...] = ("random_forest", "extra_trees")
BOOSTED: tuple[Algorithm, ...] = ("gradient_boosting", "hist_gradient_boosting")
# The most trees a model may have: the compiled form indexes nodes with int32, and a 10,000-tree
# boosted model of depth 8 on a 10-class table is already ~50 M nodes.
MAX_TREES = 10_000
MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds below 2**32


def _number(value: Any) -> float:
    """``value`` as a float; NaN for anything that is not a number (bools included)."""
    try:
        return float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _is_none(value: Any) -> bool:
    return value is None or str(value).strip().lower() in _NONE_WORDS


@dataclass(frozen=True)
class Integer:
    """An integer in [``minimum``, ``maximum``] (``"3"`` and ``"3.0"`` both read as 3); with
    ``none_allowed`` also ``None``/``null``/empty; with ``zero_fix`` 0 is refused, naming it."""

    minimum: int
    maximum: int
    none_allowed: bool = False
    zero_fix: str | None = None

    def parse(self, name: str, value: Any) -> int | None:
        if self.none_allowed and _is_none(value):
            return None
        number = _number(value)
        if not number.is_integer():
            raise ConfigError(f"hyperparameter {name}={value!r} must be an integer")
        if not self.minimum <= number <= self.maximum:
            raise ConfigError(
                f"hyperparameter {name}={value!r} must be an integer in "
                f"[{self.minimum}, {self.maximum}]"
            )
        if self.zero_fix and number == 0:
            raise ConfigError(f"hyperparameter {name}=0 is not allowed; {self.zero_fix}")
        return int(number)


@dataclass(frozen=True)
class Real:
    """A number in (``low``, ``high``] (``[low, high]`` with ``low_inclusive``), or one of
    ``words`` (any case); with ``none_allowed`` also ``None``/``null``/empty."""

    low: float
    high: float
    low_inclusive: bool = False
    words: tuple[str, ...] = ()
    none_allowed: bool = False

    def parse(self, name: str, value: Any) -> float | str | None:
        if isinstance(value, str) and value.strip().lower() in self.words:
            return value.strip().lower()
        if self.none_allowed and _is_none(value):
            return None
        number = _number(value)
        above = number >= self.low if self.low_inclusive else number > self.low
        if not (above and number <= self.high):
            bounds = f"{'[' if self.low_inclusive else '('}{self.low:g}, {self.high:g}]"
            extra = f" or one of {list(self.words)}" if self.words else ""
            raise ConfigError(
                f"hyperparameter {name}={value!r} must be a number in {bounds}{extra}"
            )
        return number


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (any case)."""

    values: tuple[str, ...]

    def parse(self, name: str, value: Any) -> str:
        word = str(value).strip().lower()
        if word not in self.values:
            raise ConfigError(f"hyperparameter {name}={value!r} must be one of {list(self.values)}")
        return word


Valid = Integer | Real | Choice


@dataclass(frozen=True)
class TuningRange:
    """What the tuning job searches: ``kind`` names the ``ParameterRanges`` group."""

    kind: Literal["Integer", "Continuous", "Categorical"]
    low: int | float = 0
    high: int | float = 0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    def entry(self, name: str) -> dict[str, Any]:
        if self.kind == "Categorical":
            return {"Name": name, "Values": list(self.values)}
        return {
            "Name": name,
            "MinValue": str(self.low),
            "MaxValue": str(self.high),
            "ScalingType": self.scaling,
        }


@dataclass(frozen=True)
class Spec:
    """One row of the table: a hyperparameter, its default in each family it belongs to, its
    valid values (``valid_in`` narrows them for one family) and its tuning range."""

    name: str
    defaults: Mapping[str, Any]
    valid: Valid
    tuned: TuningRange | None = None
    valid_in: Mapping[str, Valid] | None = None
    sklearn_name: Mapping[str, str] | None = None

    @property
    def default(self) -> Any:
        """The default in the default family (what a request without the name trains); for
        ``auto``, the value that means every candidate family's own default."""
        return self.defaults.get(DEFAULT_ALGORITHM)

    @property
    def shared(self) -> bool:
        return set(ALGORITHMS) <= set(self.defaults)

    def validator(self, algorithm: str) -> Valid:
        return (self.valid_in or {}).get(algorithm, self.valid)


def _every(value: Any, auto: Any = None) -> dict[str, Any]:
    """``value`` in every family, and ``auto`` (a value that leaves each family its own
    default) for the ``auto`` choice."""
    return {AUTO: auto, **dict.fromkeys(ALGORITHMS, value)}


_FRACTION = Real(0.0, 1.0)
_ALGORITHM = Choice(CHOICES)
_FAMILY = Choice(ALGORITHMS)
SCHEMA: tuple[Spec, ...] = (
    Spec(
        "algorithm",
        _every(None),  # placeholder: the family itself, see Hyperparameters
        _ALGORITHM,
        # The tuner picks among the families: "auto" already compares them on validation.
        TuningRange("Categorical", values=ALGORITHMS),
    ),
    Spec(
        "n_estimators",
        _every(100, auto=100),  # 100 is every family's default
        Integer(1, MAX_TREES),
        TuningRange("Integer", 50, 400),
        sklearn_name={"hist_gradient_boosting": "max_iter"},
    ),
    Spec(
        "max_depth",
        {**_every(None), "gradient_boosting": 3},
        Integer(1, 1000, none_allowed=True),
        TuningRange("Integer", 3, 20),
        # auto: None leaves each family its own (gradient boosting 3, the others unbounded).
    ),
    Spec(
        "min_samples_split",
        dict.fromkeys(("random_forest", "extra_trees", "gradient_boosting"), 2),
        Integer(2, 10**9),
    ),
    Spec(
        "min_samples_leaf",
        {**_every(1), "hist_gradient_boosting": 20},
        Integer(1, 10**9),
        TuningRange("Integer", 1, 8),
    ),
    Spec(
        "max_features",
        _every(1.0),
        Real(0.0, 1.0, words=("sqrt", "log2")),
        TuningRange("Continuous", 0.3, 1.0),
        valid_in={"hist_gradient_boosting": _FRACTION},  # scikit-learn takes fractions only
    ),
    Spec(
        "max_leaf_nodes",
        {**_every(None), "hist_gradient_boosting": 31},
        Integer(2, 2**24, none_allowed=True),
    ),
    Spec("max_samples", {"random_forest": None}, Real(0.0, 1.0, none_allowed=True)),
    Spec(
        "learning_rate",
        dict.fromkeys(BOOSTED, 0.1),
        Real(0.0, 1.0),
        TuningRange("Continuous", 0.01, 0.3, "Logarithmic"),
    ),
    Spec("subsample", {"gradient_boosting": 1.0}, _FRACTION),
    Spec("l2_regularization", {"hist_gradient_boosting": 0.0}, Real(0.0, 1e6, low_inclusive=True)),
    Spec("max_bins", {"hist_gradient_boosting": 255}, Integer(2, 255)),
    Spec("random_state", _every(42, auto=42), Integer(0, MAX_SEED)),
    # Classifiers: "balanced" weighs each class by n_rows / (n_classes * its rows), as
    # scikit-learn's class_weight does; applied as fit's sample weights in every family (so
    # gradient boosting takes it too). Regressors ignore it.
    Spec("class_weight", _every("none", auto="none"), Choice(("none", "balanced"))),
    # Forest classifiers: the weight, in training rows, of the tree's class frequencies in
    # every leaf's votes (mpg_core.models.smooth_leaf_votes); 0 is scikit-learn's forest, whose
    # pure leaves answer probability 0 for the classes they never saw. Regressors ignore it.
    # Of 0, 0.1, 0.3 and 1, 0.1 had the lowest test log loss summed over four classification
    # tables of the model bench (30 seeds each): 1 halves a one-row leaf's vote, and a sure
    # answer with it.
    Spec(
        "leaf_prior",
        {AUTO: None, **dict.fromkeys(FORESTS, 0.1)},
        Real(0.0, 1e6, low_inclusive=True),
    ),
    # Classifiers: calibrate the probabilities on rows the model was not fitted on ("auto": the
    # best of sigmoid, isotonic and temperature for a binary classifier, temperature for more
    # classes, when it helps, judged cross-fitted; see mpg_training.calibration). sigmoid and
    # isotonic are binary maps; temperature scales every class.
    Spec(
        "calibration",
        _every("none", auto="auto"),
        Choice(("none", "auto", "sigmoid", "isotonic", "temperature")),
    ),
    # Binary classifiers: the label's decision threshold, chosen on validation for this metric
    # (stored in artifact.json as decision_threshold); "none": the most probable class.
    Spec(
        "decision_metric",
        _every("none", auto="balanced_accuracy"),
        Choice(("none", "balanced_accuracy", "accuracy", "f1")),
    ),
    # auto: the seconds the candidate families may take together (None: from the instance's
    # cores and the table's size, see mpg_training.selection).
    Spec("time_limit", {AUTO: None}, Integer(1, 7 * 24 * 3600, none_allowed=True)),
    Spec(
        "n_jobs",
        dict.fromkeys(FORESTS, -1),
        Integer(-1, 1024, zero_fix="use -1 for all cores"),
    ),
)
SPECS: Mapping[str, Spec] = {s.name: s for s in SCHEMA}
# What the training job applies around the estimator (fit's sample weights, calibration, the
# decision threshold, auto's budget), never an estimator's keyword argument.
JOB_PARAMETERS = frozenset(
    {"class_weight", "leaf_prior", "calibration", "decision_metric", "time_limit"}
)


def _parse(spec: Spec, family: str, value: Any) -> Any:
    """``value`` checked for ``family``; for auto, None (each family's own default) or a
    value that every family taking the parameter accepts (the first refusal is raised)."""
    if family != AUTO:
        return spec.validator(family).parse(spec.name, value)
    if spec.defaults[AUTO] is None and _is_none(value):
        return None
    parsed = [spec.validator(f).parse(spec.name, value) for f in ALGORITHMS if f in spec.defaults]
    return parsed[0] if parsed else spec.valid.parse(spec.name, value)


def family_names(algorithm: str) -> tuple[str, ...]:
    """The hyperparameters ``algorithm`` takes, in table order (``algorithm`` first)."""
    return tuple(s.name for s in SCHEMA if algorithm in s.defaults)


def tuned_names(algorithm: str | None = None) -> frozenset[str]:
    """What the tuner sets: for one family its tuned parameters; with the family left to the
    tuner (None), ``algorithm`` and the tuned parameters every family shares."""
    if algorithm is None or algorithm == AUTO:
        return frozenset(s.name for s in SCHEMA if s.tuned and s.shared)
    return frozenset(s.name for s in SCHEMA if s.tuned and algorithm in s.defaults) - {"algorithm"}


TUNED: frozenset[str] = tuned_names(None)


@dataclass(frozen=True, init=False)
class Hyperparameters:
    """One family's settings, every one of its parameters resolved (given or default), or
    ``auto``'s: the parameters every family takes, each None (every family's own default) or
    a value every family accepts, which :meth:`for_family` hands to each candidate.

    ``Hyperparameters()`` is auto; ``Hyperparameters("random_forest", n_estimators=50)`` the
    random forest with 50 trees;
    ``Hyperparameters(algorithm="gradient_boosting", learning_rate=0.05)`` a boosted model. A
    parameter of another family is refused by name, values are checked against the table."""

    algorithm: str  # an Algorithm, or AUTO
    values: tuple[tuple[str, Any], ...]
    # The names set explicitly (the rest took the family's defaults): the size rule
    # (:func:`for_table_rows`) changes only defaults.
    given: frozenset[str] = field(compare=False)

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM, **given: Any) -> None:
        family = _ALGORITHM.parse("algorithm", algorithm)
        unknown = sorted(set(given) - set(SPECS))
        if unknown:
            raise ConfigError(f"unknown hyperparameter(s) {unknown}; known: {sorted(SPECS)}")
        foreign = [name for name in given if family not in SPECS[name].defaults]
        if foreign:
            name = sorted(foreign)[0]
            owners = [a for a in ALGORITHMS if a in SPECS[name].defaults]
            raise ConfigError(
                f"hyperparameter {name} does not apply to algorithm={family}; it is a "
                f"parameter of {owners}. Remove it, or set algorithm to one of those"
            )
        # In table order, so the first bad value reported does not depend on the input's order.
        values = tuple(
            (
                s.name,
                _parse(s, family, given[s.name]) if s.name in given else s.defaults[family],
            )
            for s in SCHEMA
            if family in s.defaults and s.name != "algorithm"
        )
        object.__setattr__(self, "algorithm", family)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "given", frozenset(given))

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not attributes: the family's parameters.
        for key, value in self.__dict__.get("values", ()):
            if key == name:
                return value
        raise AttributeError(name)

    def as_dict(self) -> dict[str, Any]:
        """``algorithm`` and the family's parameters, with this table's names."""
        return {"algorithm": self.algorithm, **dict(self.values)}

    @property
    def is_auto(self) -> bool:
        return self.algorithm == AUTO

    def for_family(self, family: str) -> Hyperparameters:
        """auto's settings as one candidate family's: the values given (not None), the rest
        the family's defaults; ``given`` keeps only those, so the size rule still applies."""
        if not self.is_auto:
            raise ValueError(f"for_family on algorithm={self.algorithm}; only auto has families")
        values = {
            name: value
            for name, value in self.values
            if name in self.given and value is not None and family in SPECS[name].defaults
        }
        return Hyperparameters(family, **values)

    def sklearn_params(self) -> dict[str, Any]:
        """The family's parameters as its scikit-learn estimator's keyword arguments (without
        :data:`JOB_PARAMETERS`, which the training job applies itself)."""
        if self.is_auto:
            raise ValueError("auto is no estimator; use for_family")
        renamed = {s.name: (s.sklearn_name or {}).get(self.algorithm, s.name) for s in SCHEMA}
        return {renamed[name]: value for name, value in self.values if name not in JOB_PARAMETERS}


# The size rule for forests (see for_table_rows): above this many training rows, unbounded
# trees grow a leaf per row or two (~12 KB per training row for 100 trees, estimator plus
# compiled copy), so a 1 M-row table no longer trains in 8 GiB. Each tree instead sees a
# bootstrap sample of at most FOREST_SAMPLE_ROWS rows and grows at most FOREST_LEAVES leaves.
# Chosen on validation error, on Auto-MPG-like tables resampled with noise (containers/training/
# bench/size_bench.py, figures in the README): at 10 k and 100 k rows the bounded forest scores
# 1% and 2% better than unbounded trees (they fit the noise) with a model 1/6 and 1/60 the size;
# 256 leaves scored 5% worse at 100 k. Below 2,000 rows a full tree has under ~1,300 leaves, so
# the bound would change little, and Auto MPG's figures stay exactly as they were.
FOREST_SIZE_RULE_ROWS = 2_000
FOREST_SAMPLE_ROWS = 50_000
FOREST_LEAVES = 1024


def for_table_rows(hp: Hyperparameters, rows: int) -> Hyperparameters:
    """``hp`` adapted to a training table of ``rows`` rows: for a forest above
    :data:`FOREST_SIZE_RULE_ROWS` rows whose tree size is left to the defaults (none of
    ``max_depth``, ``max_leaf_nodes``, ``max_samples`` given), ``max_leaf_nodes`` becomes
    :data:`FOREST_LEAVES` and ``max_samples`` the fraction that draws
    :data:`FOREST_SAMPLE_ROWS` rows per tree, so the model's size and the training time stop
    growing with the table. Anything given explicitly is kept; smaller tables (Auto MPG) and
    the boosting families (bounded by their own defaults) are unchanged."""
    sized = {"max_depth", "max_leaf_nodes", "max_samples"}
    if hp.algorithm not in FORESTS or rows <= FOREST_SIZE_RULE_ROWS or hp.given & sized:
        return hp
    values = {name: value for name, value in hp.values if name in hp.given}
    values["max_leaf_nodes"] = FOREST_LEAVES
    if hp.algorithm == "random_forest":  # extra trees do not bootstrap
        values["max_samples"] = min(1.0, FOREST_SAMPLE_ROWS / rows)
    adapted = Hyperparameters(hp.algorithm, **values)
    object.__setattr__(adapted, "given", hp.given)
    return adapted


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
    ``_tuning_objective_metric`` from tuning jobs) are ignored, and so is an empty value (the
    name is then not given: its default, and the size rule, apply)."""
    values = {k: _decode(v) for k, v in raw.items() if not k.startswith(_RESERVED_PREFIXES)}
    # An empty value is no value: a pipeline cannot leave a hyperparameter out per execution,
    # so it sends "" for "not set", and the job resolves the default as `train` does.
    return Hyperparameters(**{k: v for k, v in values.items() if v != ""})


def parameter_ranges(algorithm: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The tuning job's ``ParameterRanges`` (bounds are strings on the wire): one family's
    tuned parameters, or (None) ``algorithm`` as a categorical range with the tuned parameters
    every family shares."""
    ranges: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    names = tuned_names(algorithm)
    for spec in SCHEMA:
        if spec.tuned is not None and spec.name in names:
            ranges[f"{spec.tuned.kind}ParameterRanges"].append(spec.tuned.entry(spec.name))
    return ranges


def tuning_plan(
    configured: Mapping[str, Any],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The tuning job's ``ParameterRanges`` and ``StaticHyperParameters`` for the configured
    hyperparameters: a configured ``algorithm`` fixes the family (its own ranges are
    searched); without one the tuner chooses the family, so every fixed parameter must be one
    that every family takes."""
    decoded = {k: _decode(v) for k, v in configured.items()}
    algorithm = decoded.get("algorithm")
    if algorithm is not None:
        algorithm = _ALGORITHM.parse("algorithm", algorithm)
    if algorithm == AUTO:  # the tuner's own search over the families replaces auto's
        algorithm = None
        configured = {k: v for k, v in configured.items() if k != "algorithm"}
    tuned = tuned_names(algorithm)
    static = {k: str(v) for k, v in configured.items() if k not in tuned}
    if algorithm is None:
        narrow = sorted(k for k in static if k in SPECS and not SPECS[k].shared)
        if narrow:
            raise ConfigError(
                f"hyperparameter(s) {narrow} do not apply to every algorithm the tuner may "
                "choose; set algorithm in the hyperparameters to tune one family, or remove them"
            )
    # What every training job of the tuning job is given must parse for any family it picks.
    for family in ALGORITHMS if algorithm is None else (algorithm,):
        parse_hyperparameters({**configured, "algorithm": family})
    return parameter_ranges(algorithm), static
