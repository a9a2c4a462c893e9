"""The monitor's settings: the ``[monitor]`` table and the flags of every ``monitor`` action.
Each key is declared once in :data:`mpg_launch.settings.declared.MONITOR_KEYS` (key, flag,
type, bounds, help); :class:`MonitorSettings` holds the defaults; values go through the one
coercion of :mod:`mpg_launch.settings.values`; launch/README.md's table of the keys is
generated from both (``make readme``).

Standard library only: the CLI imports this to build its parser."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from mpg_launch.errors import ConfigError
from mpg_launch.settings import declared, markdown, values
from mpg_launch.settings.declared import MONITOR_KEYS, TableKey

_BY_KEY: Final = {k.key: k for k in MONITOR_KEYS}
# The keys a flag sets (all but the [monitor.quality_alarms] sub-table).
_FLAGGED: Final = tuple(k for k in MONITOR_KEYS if k.flag)
# rate(5 minutes), cron(0 8 * * ? *), at(2026-12-07T09:00:00): Scheduler's three forms.
SCHEDULE_PATTERN: Final = re.compile(
    r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\)|at\([0-9T:-]+\))$"
)
_NAME: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$")


@dataclass(frozen=True)
class MonitorSettings:
    monitor_name: str = "mpg-monitor"
    window_hours: float = 1.0
    schedule: str = "rate(1 hour)"
    schedule_role: str | None = None
    instance_type: str = "ml.m5.large"
    capture_uri: str | None = None
    model_data: str | None = None
    ground_truth_uri: str | None = None
    psi_threshold: float | None = None  # None: the baseline's constraints.json (or default)
    p_value_threshold: float | None = None
    missing_rate_threshold: float | None = None
    new_level_threshold: float | None = None
    quality_tolerance: float | None = None
    alarm_threshold: float = 0.2
    # [monitor.quality_alarms]: metric -> threshold (rmse = 3.0: alarm when rmse is above 3).
    quality_alarms: Mapping[str, float] = field(default_factory=dict)

    def job_thresholds(self) -> dict[str, float]:
        """The threshold flags the job is given (only those set)."""
        keys = (
            "psi_threshold",
            "p_value_threshold",
            "missing_rate_threshold",
            "new_level_threshold",
            "quality_tolerance",
        )
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def _value(setting: TableKey, value: Any, where: str) -> Any:
    """``value`` through the launcher's one coercion (:mod:`mpg_launch.settings.values`), then
    the setting's declared bounds."""
    if setting.kind is float:
        try:
            number = values.number(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {setting.key} = {value!r} is not a number") from None
        low, high = setting.minimum, setting.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            raise ConfigError(f"{where}: {setting.key} = {number} must be from {low} to {high}")
        return number
    try:
        text = values.string(value).strip()
    except ValueError:
        text = ""
    if not text:
        raise ConfigError(f"{where}: {setting.key} = {value!r} must be a non-empty string")
    return text


def checked(settings: MonitorSettings, where: str) -> MonitorSettings:
    if not _NAME.match(settings.monitor_name):
        raise ConfigError(
            f"{where}: monitor_name {settings.monitor_name!r}: 1-40 letters, digits and inner "
            "hyphens (it names jobs, schedules and alarms)"
        )
    if not SCHEDULE_PATTERN.match(settings.schedule):
        raise ConfigError(
            f"{where}: schedule {settings.schedule!r} is not an EventBridge Scheduler "
            "expression: rate(1 hour), cron(0 * * * ? *) or at(2026-12-07T09:00:00)"
        )
    for key in ("capture_uri", "model_data", "ground_truth_uri"):
        value = getattr(settings, key)
        if value is not None and not value.startswith("s3://"):
            raise ConfigError(f"{where}: {key} {value!r} must be an s3:// URI")
    return settings


def parse_table(value: Any, where: str) -> MonitorSettings:
    """The config file's ``[monitor]`` table."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: [monitor] must be a table of settings")
    known = set(_BY_KEY)
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [monitor]; known: {sorted(known)}")
    given: dict[str, Any] = {}
    for key, item in value.items():
        if key == "quality_alarms":
            if not isinstance(item, Mapping):
                raise ConfigError(f"{where}: [monitor.quality_alarms] must map metric to number")
            number = TableKey("monitor", key, float)  # each metric's threshold: any number
            given[key] = {
                str(k): _value(number, v, f"{where} [monitor.quality_alarms]")
                for k, v in item.items()
            }
        else:
            given[key] = _value(_BY_KEY[key], item, f"{where} [monitor]")
    return checked(MonitorSettings(**given), where)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The declared flags; each value is coerced and checked by :func:`with_flags`, so a flag
    and the file's key are refused alike."""
    group = parser.add_argument_group("monitor (config file: [monitor])")
    for k in _FLAGGED:
        assert k.flag is not None
        group.add_argument(
            k.flag, dest=f"monitor_{k.key}", type=str, metavar=k.metavar, help=k.help
        )


def with_flags(settings: MonitorSettings | None, args: argparse.Namespace) -> MonitorSettings:
    """The file's settings (or the defaults) with the flags given on top."""
    base = settings or MonitorSettings()
    given = {
        k.key: _value(k, getattr(args, f"monitor_{k.key}"), k.flag or k.key)
        for k in _FLAGGED
        if getattr(args, f"monitor_{k.key}", None) is not None
    }
    return checked(replace(base, **given), "flags")


def readme_table() -> str:
    """launch/README.md's table of the keys: the declarations with this module's defaults
    (``make readme`` writes it between its markers)."""
    return markdown.keys_table(declared.MONITOR_KEYS, markdown.field_defaults(MonitorSettings))
