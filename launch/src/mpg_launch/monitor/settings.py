"""The monitor's settings: one declaration per setting (config key, flag, type, default,
help); the config file's ``[monitor]`` table, the flags and the README table read it.

Standard library only: the CLI imports this to build its parser."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from mpg_launch.errors import ConfigError
from mpg_launch.settings import values


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    help: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


SETTINGS: Final = (
    Setting("monitor_name", str, "the monitor's name: metric dimension, schedule and alarm names"),
    Setting("window_hours", float, "hours of traffic each run checks, up to its start", 0.0, 720.0),
    Setting("schedule", str, "EventBridge Scheduler expression: rate(1 hour), cron(0 * * * ? *)"),
    Setting("schedule_role", str, "IAM role EventBridge Scheduler assumes to start the job"),
    Setting("instance_type", str, "the monitoring job's instance type"),
    Setting("capture_uri", str, "s3:// prefix of the endpoint's capture (default: deploy's)"),
    Setting("model_data", str, "s3:// model.tar.gz holding the baseline (default: endpoint's)"),
    Setting("ground_truth_uri", str, "s3:// prefix of CSV files: inference_id and true value"),
    Setting("psi_threshold", float, "drift score above which a column drifted", 0.0, 100.0),
    Setting("p_value_threshold", float, "... when its two-sample test rejects at this level", 0, 1),
    Setting("missing_rate_threshold", float, "largest change of a column's missing rate", 0, 1),
    Setting("new_level_threshold", float, "largest share of values in unseen levels", 0, 1),
    Setting("quality_tolerance", float, "relative quality loss before a violation", 0.0, 10.0),
    Setting("alarm_threshold", float, "alarm when a column's drift score is above", 0.0, 100.0),
)
_BY_KEY: Final = {s.key: s for s in SETTINGS}
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


def _value(setting: Setting, value: Any, where: str) -> Any:
    """``value`` through the launcher's one coercion (:mod:`mpg_launch.settings.values`), then
    the setting's bounds."""
    if setting.type is float:
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
    known = {f.name for f in fields(MonitorSettings)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [monitor]; known: {sorted(known)}")
    values: dict[str, Any] = {}
    for key, item in value.items():
        if key == "quality_alarms":
            if not isinstance(item, Mapping):
                raise ConfigError(f"{where}: [monitor.quality_alarms] must map metric to number")
            number = Setting(key, float, "")
            values[key] = {
                str(k): _value(number, v, f"{where} [monitor.quality_alarms]")
                for k, v in item.items()
            }
        else:
            values[key] = _value(_BY_KEY[key], item, f"{where} [monitor]")
    return checked(MonitorSettings(**values), where)


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("monitor (config file: [monitor])")
    for s in SETTINGS:
        group.add_argument(
            s.flag, dest=f"monitor_{s.key}", type=str, metavar=s.key.upper(), help=s.help
        )


def with_flags(settings: MonitorSettings | None, args: argparse.Namespace) -> MonitorSettings:
    """The file's settings (or the defaults) with the flags given on top."""
    base = settings or MonitorSettings()
    given = {
        s.key: _value(s, getattr(args, f"monitor_{s.key}"), s.flag)
        for s in SETTINGS
        if getattr(args, f"monitor_{s.key}", None) is not None
    }
    return checked(replace(base, **given), "flags")


def readme_table() -> str:
    """The README's table of the settings, from the declarations above."""
    rows = [f"| `{s.key}` | `{s.flag}` | {s.help} |" for s in SETTINGS]
    return "\n".join(["| key | flag | meaning |", "|---|---|---|", *rows])
