"""How an endpoint scales and what it records: instance autoscaling, serverless, data capture.

Each is one frozen settings object, read from its config-file table (``[autoscaling]``,
``[serverless]``, ``[data_capture]``) and ``deploy``'s flags, and checked here, once, before a
request is built or a client made: a bad value is a one-line :class:`ConfigError` (exit 2)
naming the key and its flag. :mod:`mpg_launch.endpoint.checks` refuses the combinations
SageMaker refuses and says what a request leaves out and why.

Serverless limits follow the AWS Developer Guide ("Deploy models with Amazon SageMaker
Serverless Inference", "Invoke a serverless endpoint"); instance autoscaling follows "Update
endpoints that use auto scaling". Standard library only: the CLI imports this for ``--help``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any, ClassVar, Protocol, TypeVar

from mpg_launch.endpoint import async_settings as async_options
from mpg_launch.endpoint.async_settings import AsyncInference
from mpg_launch.errors import ConfigError
from mpg_launch.settings import declared
from mpg_launch.settings import values as coerce
from mpg_launch.settings.declared import Flag


def _limit(section: str, key: str, end: str) -> int:
    """A declared bound of a table's key (mpg_launch.settings.declared), as a whole number."""
    found = getattr(declared.table_key(section, key), end)
    assert found is not None, (section, key, end)
    return int(found)


_MEMORY = (
    _limit("serverless", "memory_mb", "minimum"),
    _limit("serverless", "memory_mb", "maximum"),
)
SERVERLESS_MEMORY_SIZES = tuple(range(_MEMORY[0], _MEMORY[1] + 1, 1024))
SERVERLESS_MAX_CONCURRENCY = _limit("serverless", "max_concurrency", "maximum")
_PERCENT = (
    _limit("data_capture", "sampling_percentage", "minimum"),
    _limit("data_capture", "sampling_percentage", "maximum"),
)
_TYPES = _limit("data_capture", "csv_content_types", "maximum")
# The docs' serverless limits: bodies up to 4 MB each way (real-time: 6 MB); the model must
# download and pass /ping within 3 minutes; one worker and one copy of the model per container.
SERVERLESS_MAX_PAYLOAD_MB = 4
SERVERLESS_STARTUP_SECONDS = 180
SERVERLESS_WORKERS = 1


@dataclass(frozen=True)
class Autoscaling:
    """Application Auto Scaling of the variant's instance count, with target tracking on
    SageMakerVariantInvocationsPerInstance (invocations per instance per minute)."""

    max_instances: int
    target_invocations_per_instance: float
    min_instances: int = 1
    # Scale out quickly on a burst, scale in slowly so a lull does not make the fleet flap.
    scale_in_cooldown: int = 300
    scale_out_cooldown: int = 60


@dataclass(frozen=True)
class Serverless:
    """A serverless variant (ServerlessConfig) instead of instances. Defaults as the
    SageMaker Python SDK's ServerlessInferenceConfig."""

    memory_mb: int = 2048
    max_concurrency: int = 5
    provisioned_concurrency: int | None = None


@dataclass(frozen=True)
class DataCapture:
    """DataCaptureConfig: a sample of requests and responses written as JSON lines under
    ``destination`` (default ``s3://<bucket>/<prefix>/data-capture/``), per endpoint and
    variant, by SageMaker."""

    sampling_percentage: int = 20
    destination: str | None = None
    capture_input: bool = True
    capture_output: bool = True
    csv_content_types: tuple[str, ...] = ("text/csv",)
    json_content_types: tuple[str, ...] = ("application/json", "application/jsonlines")


# deploy's flags, from the tables' declarations (mpg_launch.settings.declared): each sets the
# field of the same name (its argparse dest); giving one turns its section on, --no-<section>
# turns it off.
FLAGS: dict[str, tuple[Flag, ...]] = {
    section: declared.table_flags(section)
    for section in ("autoscaling", "serverless", "data_capture", "async_inference")
}
SWITCH_HELP = {
    "autoscaling": "register the instance count with Application Auto Scaling",
    "serverless": "a serverless endpoint instead of instances",
    "data_capture": "capture a sample of requests and responses to S3",
    "async_inference": "an asynchronous endpoint: bodies up to 1 GB from S3, answers to S3",
}
SECTIONS: dict[str, type] = {
    "autoscaling": Autoscaling,
    "serverless": Serverless,
    "data_capture": DataCapture,
    "async_inference": AsyncInference,
}
# The config table and the --[no-]switch of a section, where they differ from its name.
TABLES = {"async_inference": "async"}


def table(section: str) -> str:
    return TABLES.get(section, section)


def option(section: str) -> str:
    """``--<option>`` and ``--no-<option>`` turn ``section`` on and off."""
    return table(section).replace("_", "-")


def _fix(section: str, name: str) -> str:
    """Where the user sets ``name``: the config table and, when there is one, the flag."""
    flag = next((f.flag for f in FLAGS[section] if f.field == name), None)
    return f"set {name} in [{table(section)}]" + (f" or {flag}" if flag else "")


def _kind(kind: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(coerce.base(kind), "a list of strings")


def parse_section(section: str, values: Any, where: str) -> Any:
    """A config table (or the merge of one with flags) as its checked settings object."""
    cls = SECTIONS[section]
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: '{table(section)}' must be a table of settings")
    kinds = {name: key.kind for name, key in declared.table_keys(section).items()}
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown} in [{table(section)}]; known: {sorted(known)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        try:
            kwargs[name] = coerce.of_type(kinds[name], value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where}: {table(section)} {name}={value!r} is not {_kind(kinds[name])}; "
                f"{_fix(section, name)}"
            ) from None
    for name, field in known.items():
        if name not in kwargs and field.default is MISSING and field.default_factory is MISSING:
            raise ConfigError(f"{where}: {table(section)} needs {name}; {_fix(section, name)}")
    settings = cls(**kwargs)
    problems = _problems(section, settings)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return settings


def _problems(section: str, s: Any) -> list[str]:
    """Each broken rule as ``<section> <key>=<value> <rule>; <where to fix it>``."""
    rules: list[tuple[bool, str, str]] = []  # (broken, key, rule)
    if isinstance(s, Autoscaling):
        rules = [
            (
                s.min_instances < _limit("autoscaling", "min_instances", "minimum"),
                "min_instances",
                f"must be at least {_limit('autoscaling', 'min_instances', 'minimum')}",
            ),
            (
                s.max_instances < s.min_instances,
                "max_instances",
                f"must be at least min_instances={s.min_instances}",
            ),
            (
                not s.target_invocations_per_instance > 0,
                "target_invocations_per_instance",
                "must be above 0",
            ),
            (s.scale_in_cooldown < 0, "scale_in_cooldown", "must be 0 or more seconds"),
            (s.scale_out_cooldown < 0, "scale_out_cooldown", "must be 0 or more seconds"),
        ]
    elif isinstance(s, Serverless):
        rules = [
            (
                s.memory_mb not in SERVERLESS_MEMORY_SIZES,
                "memory_mb",
                f"must be one of {list(SERVERLESS_MEMORY_SIZES)}",
            ),
            (
                not 1 <= s.max_concurrency <= SERVERLESS_MAX_CONCURRENCY,
                "max_concurrency",
                f"must be 1 to {SERVERLESS_MAX_CONCURRENCY}",
            ),
            (
                s.provisioned_concurrency is not None
                and not 1 <= s.provisioned_concurrency <= s.max_concurrency,
                "provisioned_concurrency",
                f"must be 1 to max_concurrency={s.max_concurrency}",
            ),
        ]
    elif isinstance(s, DataCapture):
        rules = [
            (
                not _PERCENT[0] <= s.sampling_percentage <= _PERCENT[1],
                "sampling_percentage",
                f"must be {_PERCENT[0]} to {_PERCENT[1]}",
            ),
            (
                s.destination is not None and not s.destination.startswith("s3://"),
                "destination",
                "must be an s3:// URI",
            ),
            (
                not (s.capture_input or s.capture_output),
                "capture_output",
                "and capture_input=False capture nothing",
            ),
            (
                len(s.csv_content_types) > _TYPES,
                "csv_content_types",
                f"has more than {_TYPES} types",
            ),
            (
                len(s.json_content_types) > _TYPES,
                "json_content_types",
                f"has more than {_TYPES} types",
            ),
        ]
    elif isinstance(s, AsyncInference):
        rules = async_options.problems(s)
    return [
        f"{table(section)} {key}={getattr(s, key)!r} {rule}; {_fix(section, key)}"
        for broken, key, rule in rules
        if broken
    ]


class _Instances(Protocol):
    @property
    def count(self) -> int: ...


class DeployConfig(Protocol):
    """The launch settings deploy's rules read. :class:`mpg_launch.settings.config.LaunchConfig` is
    one; it is named by its fields here because config imports this module (for the tables'
    types), and a module importing it back would close an import cycle."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # a dataclass: with_flags replaces fields

    @property
    def autoscaling(self) -> Autoscaling | None: ...
    @property
    def serverless(self) -> Serverless | None: ...
    @property
    def data_capture(self) -> DataCapture | None: ...
    @property
    def subnets(self) -> tuple[str, ...]: ...
    @property
    def instances(self) -> Mapping[str, Any]: ...
    @property
    def network_isolation(self) -> bool: ...
    @property
    def kms_key_id(self) -> str | None: ...
    @property
    def local(self) -> bool: ...
    @property
    def async_inference(self) -> AsyncInference | None: ...
    def instance(self, stage: str) -> _Instances: ...


Config = TypeVar("Config", bound=DeployConfig)


def with_flags(config: Config, values: Mapping[str, Any]) -> Config:
    """``config`` with deploy's flags (argparse dests: the section names for the on/off
    switches, the field names for the values) merged over its config-file tables."""
    changes: dict[str, Any] = {}
    for section, flags in FLAGS.items():
        switch = values.get(section)
        given = {f.field: values[f.field] for f in flags if values.get(f.field) is not None}
        current = getattr(config, section)
        if switch is False:
            if given:
                named = ", ".join(f.flag for f in flags if f.field in given)
                raise ConfigError(f"--no-{option(section)} contradicts {named}; drop one of them")
            changes[section] = None
        elif switch or given or current:
            base = asdict(current) if current else {}
            changes[section] = parse_section(section, {**base, **given}, "deploy")
    return replace(config, **changes)


def initial_instance_count(config: DeployConfig) -> int:
    """``[instances.serving] count``, brought within autoscaling's min..max: autoscaling would
    move it there at once anyway, and the endpoint should start as it is meant to run."""
    count = config.instance("serving").count
    if config.autoscaling:
        return min(max(count, config.autoscaling.min_instances), config.autoscaling.max_instances)
    return count
