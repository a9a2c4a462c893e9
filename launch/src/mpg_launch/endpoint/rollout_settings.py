"""How ``deploy`` moves an existing endpoint to a new model: the ``[rollout]`` config table and
deploy's ``--rollout`` flags, read once into a frozen :class:`Rollout` and checked here, before
any request is built or client made (a bad value is one line and exit code 2).

The vocabulary is SageMaker's deployment guardrails (API ``DeploymentConfig``,
``BlueGreenUpdatePolicy``, ``TrafficRoutingConfiguration``): ``all_at_once`` (today's
blue/green), ``canary`` (a share of the new fleet's capacity, a wait, then the rest) or
``linear`` (steps of a share, each followed by a wait), then a bake time
(``TerminationWaitInSeconds``) before the old fleet goes, all watched by CloudWatch alarms that
roll the update back. Sizes follow the API's documentation: a canary is at most 50% of the
variant's capacity, a linear step 10-50%. Standard library only: the CLI imports this for
``--help``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar

from mpg_launch.endpoint.settings import DeployConfig
from mpg_launch.errors import ConfigError
from mpg_launch.settings import declared
from mpg_launch.settings import values as coerce
from mpg_launch.settings.declared import Flag

MODES = ("all_at_once", "canary", "linear")
KEYS = declared.table_keys("rollout")


def _limit(key: str, end: str) -> int:
    """A declared bound of a [rollout] key (mpg_launch.settings.declared)."""
    found = getattr(KEYS[key], end)
    assert found is not None, (key, end)
    return int(found)


MAX_WAIT_SECONDS = _limit("wait_seconds", "maximum")
MIN_EXECUTION_SECONDS = _limit("max_execution_seconds", "minimum")
MAX_EXECUTION_SECONDS = _limit("max_execution_seconds", "maximum")
MAX_ALARMS = _limit("alarms", "maximum")
# The docs: "the canary size should be less than or equal to 50% of the new fleet's
# capacity"; "each linear step should only be between 10-50% of the green fleet's capacity".
CANARY_PERCENT = (_limit("step_percent", "minimum"), _limit("step_percent", "maximum"))
LINEAR_PERCENT = (10, CANARY_PERCENT[1])
DEFAULT_STEP_PERCENT = {"canary": 25, "linear": 25}
# Headroom above the waits for provisioning the new fleet (minutes on SageMaker).
PROVISIONING_SECONDS = 1800


@dataclass(frozen=True)
class Rollout:
    """A deployment guardrail for updates of an existing endpoint."""

    mode: str = "all_at_once"
    # The canary, or each linear step: a share of the new fleet's capacity, or instances.
    step_percent: int | None = None
    step_instances: int | None = None
    wait_seconds: int = 300  # WaitIntervalInSeconds: after the canary / each linear step
    bake_seconds: int = 600  # TerminationWaitInSeconds: all traffic on the new fleet
    max_execution_seconds: int | None = None  # default: the waits plus provisioning time
    # Alarms that roll the update back: the two deploy creates for the new fleet, and/or
    # names of alarms the user already has.
    create_alarms: bool = True
    alarms: tuple[str, ...] = ()
    max_5xx_rate: float = 0.01  # Invocation5XXErrors, Average: the share of 5xx answers
    max_latency_p99_ms: float = 1000.0  # ModelLatency p99 (CloudWatch records microseconds)
    alarm_period_seconds: int = 60  # SageMaker publishes endpoint metrics every minute
    alarm_evaluation_periods: int = 1

    @property
    def shifts(self) -> bool:
        """True for canary and linear: traffic moves in steps with waits between them."""
        return self.mode != "all_at_once"

    def step_share(self, instance_count: int) -> float:
        """The canary or linear step as a share of the fleet (0-1)."""
        if self.step_instances is not None:
            return self.step_instances / max(instance_count, 1)
        return (self.step_percent or DEFAULT_STEP_PERCENT.get(self.mode, 100)) / 100

    def shares(self, instance_count: int) -> list[float]:
        """The new fleet's share of traffic after each step, ending at 1.0."""
        if not self.shifts:
            return [1.0]
        step = self.step_share(instance_count)
        if self.mode == "canary":
            return [step, 1.0]
        count = math.ceil(round(1 / step, 9))
        return [min(1.0, step * (i + 1)) for i in range(count)]

    def total_wait_seconds(self, instance_count: int) -> int:
        """Every wait between steps, then the bake."""
        return self.wait_seconds * (len(self.shares(instance_count)) - 1) + self.bake_seconds

    def execution_timeout(self, instance_count: int) -> int:
        if self.max_execution_seconds is not None:
            return self.max_execution_seconds
        wanted = self.total_wait_seconds(instance_count) + PROVISIONING_SECONDS
        return min(max(wanted, MIN_EXECUTION_SECONDS), MAX_EXECUTION_SECONDS)


# deploy's typed flags (argparse dest = the field), declared in mpg_launch.settings.declared.
_FLAGS: tuple[Flag, ...] = declared.table_flags("rollout")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """deploy's rollout flags, over the config file's ``[rollout]`` table."""
    group = parser.add_argument_group("rollout of an update (config file: [rollout])")
    mode, alarms, create = KEYS["mode"], KEYS["alarms"], KEYS["create_alarms"]
    group.add_argument(str(mode.flag), choices=[m.replace("_", "-") for m in MODES], help=mode.help)
    for field, flag, kind, metavar, text in _FLAGS:
        group.add_argument(flag, dest=field, type=kind, metavar=metavar, help=text)
    group.add_argument(
        str(alarms.flag),
        dest="rollback_alarms",
        action="append",
        metavar=alarms.metavar,
        help=alarms.help,
    )
    group.add_argument(
        str(create.flag), dest="create_alarms", action="store_false", default=None, help=create.help
    )


def _value(name: str, kind: Any, value: Any, where: str) -> Any:
    if name == "mode":
        mode = str(value).replace("-", "_")
        if mode in MODES:
            return mode
        raise ConfigError(
            f"{where}: rollout mode={value!r} is not one of {list(MODES)}; "
            "set mode in [rollout] or --rollout"
        )
    try:
        return coerce.of_type(kind, value)
    except (TypeError, ValueError):
        shown = kind.__name__ if isinstance(kind, type) else str(kind)
        raise ConfigError(
            f"{where}: rollout {name}={value!r} has the wrong type ({shown})"
        ) from None


def parse(values: Any, where: str) -> Rollout:
    """The ``[rollout]`` table (or its merge with flags), checked."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: 'rollout' must be a table of settings")
    hints = {f.name: KEYS[f.name].kind for f in fields(Rollout)}
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [rollout]; known: {sorted(hints)}")
    alarms = values.get("alarms")
    if isinstance(alarms, list | tuple) and any(
        not isinstance(a, str) or not a.strip() for a in alarms
    ):
        raise ConfigError(
            f"{where}: rollout alarms {list(alarms)!r} hold an empty or non-text name; "
            "give each CloudWatch alarm's name"
        )
    kwargs = {
        name: _value(name, hints[name], value, where)
        for name, value in values.items()
        if value is not None
    }
    rollout = Rollout(**kwargs)
    problems = problems_of(rollout)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return rollout


def problems_of(r: Rollout) -> list[str]:
    """Each broken rule, naming the key, its value and the documented limit."""
    rules: list[tuple[bool, str, str]] = [
        (
            r.step_percent is not None and r.step_instances is not None,
            "step_percent",
            "and step_instances are both set; give one of them",
        ),
        (
            r.mode == "all_at_once"
            and (r.step_percent is not None or r.step_instances is not None),
            "mode",
            "is all_at_once, which has no steps; pick canary or linear, or drop the step",
        ),
        (
            r.mode == "canary"
            and r.step_percent is not None
            and not CANARY_PERCENT[0] <= r.step_percent <= CANARY_PERCENT[1],
            "step_percent",
            "must be 1-50 for a canary (at most half the new fleet's capacity)",
        ),
        (
            r.mode == "linear"
            and r.step_percent is not None
            and not LINEAR_PERCENT[0] <= r.step_percent <= LINEAR_PERCENT[1],
            "step_percent",
            "must be 10-50 for linear steps (the API's documented range)",
        ),
        (
            r.step_instances is not None and r.step_instances < _limit("step_instances", "minimum"),
            "step_instances",
            f"must be >= {_limit('step_instances', 'minimum')}",
        ),
        (
            not 0 <= r.wait_seconds <= MAX_WAIT_SECONDS,
            "wait_seconds",
            f"must be 0-{MAX_WAIT_SECONDS}",
        ),
        (
            not 0 <= r.bake_seconds <= _limit("bake_seconds", "maximum"),
            "bake_seconds",
            f"must be 0-{_limit('bake_seconds', 'maximum')}",
        ),
        (
            r.max_execution_seconds is not None
            and not MIN_EXECUTION_SECONDS <= r.max_execution_seconds <= MAX_EXECUTION_SECONDS,
            "max_execution_seconds",
            f"must be {MIN_EXECUTION_SECONDS}-{MAX_EXECUTION_SECONDS}",
        ),
        (not 0 <= r.max_5xx_rate <= 1, "max_5xx_rate", "must be a share, 0 to 1"),
        (
            not (r.max_latency_p99_ms > 0 and math.isfinite(r.max_latency_p99_ms)),
            "max_latency_p99_ms",
            "must be a finite number above 0 (an infinite threshold never fires)",
        ),
        (
            r.alarm_period_seconds < 60 or r.alarm_period_seconds % 60 != 0,
            "alarm_period_seconds",
            "must be a multiple of 60 (SageMaker's metrics are per minute)",
        ),
        (r.alarm_evaluation_periods < 1, "alarm_evaluation_periods", "must be at least 1"),
        (
            len(r.alarms) + 2 * r.create_alarms > MAX_ALARMS,
            "alarms",
            f"are more than {MAX_ALARMS} with the created ones (AutoRollbackConfiguration)",
        ),
        (
            r.shifts and not r.create_alarms and not r.alarms,
            "create_alarms",
            "is false and no alarms are named, so nothing could roll the rollout back "
            "(alarms are what bake times watch); name alarms or let deploy create them",
        ),
    ]
    return [f"rollout {key}={getattr(r, key)!r} {rule}" for broken, key, rule in rules if broken]


# Any launch settings (config imports this module, so it is not named here).
Config = TypeVar("Config", bound=DeployConfig)


def with_flags(config: Config, values: Mapping[str, Any]) -> Config:
    """``config`` with deploy's rollout flags merged over its ``[rollout]`` table."""
    given = {field: values.get(field) for field, *_ in _FLAGS}
    given["create_alarms"] = values.get("create_alarms")
    if values.get("rollout"):
        given["mode"] = values["rollout"]
    if values.get("rollback_alarms"):
        given["alarms"] = tuple(values["rollback_alarms"])
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return config
    current = getattr(config, "rollout", None)
    if current is None and "mode" not in given:
        raise ConfigError(
            "rollout settings without a rollout: add --rollout canary|linear|all-at-once "
            "(or a [rollout] table with mode)"
        )
    base = asdict(current) if current else {}
    return replace(config, rollout=parse({**base, **given}, "deploy"))
