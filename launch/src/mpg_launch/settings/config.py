"""One frozen :class:`LaunchConfig`, read once from a TOML/JSON file, the environment and flags.

Precedence, highest first: command-line flags, ``MPG_*`` environment variables, the config file
(``--config`` or ``MPG_CONFIG``), defaults. Region, role and bucket have no defaults on purpose:
a silently chosen region or bucket is how jobs end up where nobody looks for them.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mpg_launch.aws import identifiers
from mpg_launch.endpoint import rollout_settings as rollout_options
from mpg_launch.endpoint import settings as endpoint_options
from mpg_launch.endpoint.async_settings import AsyncInference
from mpg_launch.endpoint.rollout_settings import Rollout
from mpg_launch.endpoint.settings import Autoscaling, DataCapture, Serverless
from mpg_launch.errors import ConfigError
from mpg_launch.monitor.settings import MonitorSettings
from mpg_launch.monitor.settings import parse_table as parse_monitor_table
from mpg_launch.settings import declared, files, preflight
from mpg_launch.settings import values as coerce

STAGES = ("processing", "training", "serving", "transform")
IMAGES = ("preprocessing", "training", "serving")
# Placeholder role for --local runs: the request must still carry one to be valid.
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/mpg-local"
LOCAL_S3_CHOICES = ("folder", "aws")
# What a --local run with its S3 in a folder takes when no region or bucket is given.
LOCAL_REGION, LOCAL_BUCKET = "us-east-1", "mpg-local"
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::(\d{12}):role/[\w+=,.@/-]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

# The readers' tables, from the one declaration of each setting (mpg_launch.settings.declared).
ENV_KEYS = declared.ENV_KEYS
# The first of these that is set wins (MPG_REGION over the AWS variables).
_ENV_ORDER = list(ENV_KEYS)
_BOOLEANS = tuple(s.key for s in declared.SETTINGS if s.kind == declared.BOOLEAN)
_STRING_LISTS = tuple(s.key for s in declared.SETTINGS if s.kind == declared.STRINGS)
# Integer settings and their smallest value (the largest is the service model's).
_INTEGERS = {s.key: s.minimum or 0 for s in declared.SETTINGS if s.kind == declared.INTEGER}
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")


@dataclass(frozen=True)
class Instances:
    """Instance type and count of one stage."""

    type: str = "ml.m5.large"
    count: int = 1


@dataclass(frozen=True)
class LaunchConfig:
    region: str
    role_arn: str
    bucket: str
    prefix: str = "mpg"
    # S3 sub-prefix for the raw ("bronze") splits: <prefix>/<raw_prefix>/<split>/.
    raw_prefix: str = "data/bronze"
    account_id: str | None = None
    # Content tag of the images in ECR (``mpg-launch push`` prints it: the git SHA).
    image_tag: str = "latest"
    # Tag of the locally built images that --local runs (`make images IMAGE_TAG=...`).
    local_image_tag: str = "latest"
    repository_prefix: str = "mpg"
    # Explicit image URIs per image (preprocessing, training, serving) override ECR names.
    images: Mapping[str, str] = field(default_factory=dict)
    # Push here instead of the ECR proxy endpoint (a test registry, a pull-through mirror).
    image_registry: str | None = None
    instances: Mapping[str, Instances] = field(default_factory=dict)
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600
    network_isolation: bool = True
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    kms_key_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    spot: bool = False
    max_wait_seconds: int | None = None
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    endpoint_name: str = "mpg"
    # How deploy's endpoint scales and what it records (mpg_launch.endpoint.settings).
    autoscaling: Autoscaling | None = None
    serverless: Serverless | None = None
    data_capture: DataCapture | None = None
    # How deploy moves an existing endpoint to a new model (mpg_launch.endpoint.rollout_settings).
    rollout: Rollout | None = None
    async_inference: AsyncInference | None = None  # the config file's [async] table
    # SageMaker Pipelines: the pipeline `mpg-launch pipeline` manages and the model package
    # group its Register step (and `mpg-launch registry`) uses.
    pipeline_name: str = "mpg-pipeline"
    model_package_group: str = "mpg-models"
    local: bool = False
    local_state_dir: str | None = None
    # "folder": --local's S3 is a folder under the state folder (no AWS, no credentials);
    # "aws": real S3, or the moto server AWS_ENDPOINT_URL names (the tests of the AWS path).
    local_s3: str = "folder"
    # The user's table (a CSV file or its name, mpg_launch.table.remembered): its schema,
    # prefix and endpoint as quickstart lays them out; None: no table of the user's.
    table: str | None = None
    # The table schema file (mpg-launch init writes one); None: Auto MPG's, shipped in mpg_core.
    schema: str | None = None
    # --verbose: a local pipeline also prints its containers' log lines, under their step.
    verbose: bool = False
    monitor: MonitorSettings | None = None  # [monitor] (mpg_launch.monitor.settings)

    # Where each setting came from ("--region", "MPG_REGION", "config file mpg.toml"), so an
    # error blames the right one; not a setting itself.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source(self, key: str) -> str:
        return self.sources.get(key, "the default")

    def instance(self, stage: str) -> Instances:
        return self.instances.get(stage, Instances())

    @property
    def account(self) -> str:
        """The account that owns the images: configured, else the one in the role ARN."""
        if self.account_id:
            return self.account_id
        match = _ROLE_ARN.match(self.role_arn)
        if not match:
            raise ConfigError(
                f"cannot tell the AWS account from role {self.role_arn!r}; "
                "set account_id in the config or MPG_ACCOUNT_ID"
            )
        return match.group(1)

    @property
    def registry(self) -> str:
        """Host of the registry the images are pushed to and named after."""
        if self.image_registry:
            return self.image_registry
        suffix = ".cn" if self.region.startswith("cn-") else ""
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com{suffix}"

    def repository(self, image: str) -> str:
        return f"{self.repository_prefix}-{image}"

    def image_uri(self, image: str) -> str:
        """The URI a request names: explicit, else the local tag (``--local``), else ECR."""
        if image in self.images:
            return self.images[image]
        if self.local:
            return f"mpg-{image}:{self.local_image_tag}"
        return f"{self.registry}/{self.repository(image)}:{self.image_tag}"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = files.regular_file(path, "config file").read_text(encoding="utf-8")
    except files.NotRegularFile as exc:
        raise ConfigError(f"{exc}; fix the --config path or MPG_CONFIG") from None
    except IsADirectoryError:
        raise ConfigError(
            f"config file {path} is a folder; give the TOML or JSON file (--config or MPG_CONFIG)"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror}; fix the --config path or MPG_CONFIG"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start}: "
            f"{exc.object[exc.start : exc.start + 1]!r}); save it as UTF-8"
        ) from None
    try:
        data = files.load_json(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ConfigError(f"config file {path} is malformed: {exc}; fix its syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object of settings")
    return data


def _instances(value: Any, where: str) -> dict[str, Instances]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'instances' must be a table of stages")
    out = {}
    for stage, spec in value.items():
        if stage not in STAGES:
            raise ConfigError(f"{where}: unknown stage 'instances.{stage}'; known: {STAGES}")
        if not isinstance(spec, dict) or set(spec) - {"type", "count"}:
            raise ConfigError(f"{where}: 'instances.{stage}' takes only type and count")
        kind = spec.get("type", Instances.type)
        if not isinstance(kind, str) or not _INSTANCE_TYPE.match(kind):
            raise ConfigError(
                f"{where}: instances.{stage} type = {kind!r} is not an instance type; "
                'give one like "ml.m5.large"'
            )
        count = _integer(f"instances.{stage} count", spec.get("count", Instances.count), where, 1)
        out[stage] = Instances(type=kind, count=count)
    return out


def _shown(value: Any) -> str:
    """A value as the config file spells it: true, not Python's True."""
    return json.dumps(value) if isinstance(value, bool) or value is None else repr(value)


def _integer(name: str, value: Any, where: str, minimum: int) -> int:
    """A whole number >= ``minimum``: 2.7 and true are refused, not rounded or counted."""
    try:
        number = coerce.integer(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ConfigError(
            f"{where}: {name} = {_shown(value)} is not allowed; give a whole number >= {minimum}"
        )
    return number


def _boolean(name: str, value: Any, where: str) -> bool:
    try:
        return coerce.boolean(value)
    except ValueError:
        raise ConfigError(
            f"{where}: {name} = {_shown(value)} is not allowed; give true or false"
        ) from None


def checked_hyperparameters(values: Mapping[str, str], where: str) -> dict[str, str]:
    """``values`` unchanged if the training image accepts them, else a one-line ConfigError
    (exit 2) naming ``where`` and the fix: the image's own parser runs here, so a bad value
    fails before a request is built, not on a started instance."""
    return preflight.hyperparameters(values, where)


def training_instances(config: LaunchConfig) -> Instances:
    """The training stage's instances, refused (ConfigError, exit 2) above one: the random
    forest trains on one machine and scikit-learn does not spread it over several, so more
    instances would bill for idle hosts or train one forest per host."""
    training = config.instance("training")
    if training.count > 1:
        raise ConfigError(
            f"instances.training count = {training.count}: a random forest trains on one "
            "instance and does not distribute; set count = 1 and a bigger type, e.g. "
            'type = "ml.m5.4xlarge", whose cores n_jobs=-1 (the default) uses'
        )
    return training


def _coerce(name: str, value: Any, where: str) -> Any:
    """Turn a file/env/flag value into the field's type, with an error naming the key."""
    try:
        if name == "instances":
            return _instances(value, where)
        if name == "rollout":
            return rollout_options.parse(value, where)
        if name == "monitor":
            return parse_monitor_table(value, where)
        if name in endpoint_options.SECTIONS:
            return endpoint_options.parse_section(name, value, where)
        if name in ("images", "tags", "hyperparameters"):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{name}' must be a table of strings")
            if name == "images" and set(value) - set(IMAGES):
                raise ConfigError(
                    f"{where}: unknown image(s) {sorted(set(value) - set(IMAGES))}"
                    f" in 'images'; known: {IMAGES}"
                )
            if name != "hyperparameters" and not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{where}: every value in [{name}] must be a string")
            strings = {str(k): str(v) for k, v in value.items()}
            if name == "hyperparameters":
                return checked_hyperparameters(strings, f"{where} [hyperparameters]")
            if name == "images":
                for image, uri in strings.items():
                    preflight.image_uri(uri, f"{where} [images] {image}")
            if name == "tags":
                preflight.tags(strings, where)
            return strings
        if name in _STRING_LISTS:
            return coerce.strings(value)
        if name in _BOOLEANS:
            return _boolean(name, value, where)
        if name in _INTEGERS:
            return None if value in (None, "") else _integer(name, value, where, _INTEGERS[name])
        if value is not None and not isinstance(value, str):  # coerce.string's rule
            raise ConfigError(f"{where}: {name} = {value!r} is not allowed; give a string")
        if name == "account_id" and value:
            return preflight.account_id(value, where)
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: '{name}' has a bad value {value!r}") from None


# Every MPG_* variable the launcher reads: the declared settings' and the config file's.
KNOWN_ENV = frozenset({*(v for v in ENV_KEYS if v.startswith("MPG_")), "MPG_CONFIG"})


def check_environment(env: Mapping[str, str]) -> None:
    """One rule: an ``MPG_*`` variable the launcher does not read is refused, never ignored
    (``MPG_DRY_RUN=1`` would otherwise run for real)."""
    unknown = sorted(v for v in env if v.startswith("MPG_") and v not in KNOWN_ENV)
    renamed = [v for v in unknown if v in declared.RENAMED]
    if renamed:
        raise _renamed(renamed[0], "environment variable")
    if unknown:
        hint = "; pass --dry-run instead" if "MPG_DRY_RUN" in unknown else ""
        raise ConfigError(
            f"unknown environment variable(s) {', '.join(unknown)}: the launcher reads only "
            f"{', '.join(sorted(KNOWN_ENV))} (launch/README.md, Settings); unset it{hint}"
        )


def _renamed(old: str, where: str) -> ConfigError:
    new = declared.RENAMED[old]
    return ConfigError(f"{where} {old} is now {new}: rename it (the value is unchanged)")


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    need_role: bool = True,
    need_bucket: bool = True,
) -> LaunchConfig:
    """Merge file, environment and flag overrides (``None`` values mean "not given").
    ``need_role=False`` for commands that submit no job (data, push, predict, delete...)."""
    env = env or {}
    check_environment(env)
    known = {f.name for f in fields(LaunchConfig)} - {"sources"}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = path or (Path(env["MPG_CONFIG"]) if env.get("MPG_CONFIG") else None)
    if path is not None:
        data = _read_file(path)
        # [async] is async_inference here: ``async`` is a Python keyword.
        data = {
            next((s for s, t in endpoint_options.TABLES.items() if t == k), k): v
            for k, v in data.items()
        }
        unknown = sorted(set(data) - known)
        renamed = [key for key in unknown if key in declared.RENAMED]
        if renamed:
            raise _renamed(renamed[0], f"config file {path}: key")
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} in {path}; known: {sorted(known)}")
        for key, value in data.items():
            sources[key] = f"config file {path}"
            values[key] = _coerce(key, value, sources[key])
        for key in ("schema", "table"):  # a file's relative paths are read from its folder
            if values.get(key):
                values[key] = str(path.parent / values[key])
    for var in reversed(_ENV_ORDER):  # so the first listed variable is applied last and wins
        if env.get(var):
            key = ENV_KEYS[var]
            sources[key] = var
            values[key] = _coerce(key, env[var], var)
    for key, value in (overrides or {}).items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        if value is not None:
            sources[key] = declared.BY_KEY[key].flag or f"--{key.replace('_', '-')}"
            values[key] = _coerce(key, value, sources[key])
    if not need_bucket:
        values.setdefault("bucket", "")
    return _checked(values, need_role, need_bucket, sources)


def _checked(
    values: dict[str, Any],
    need_role: bool = True,
    need_bucket: bool = True,
    sources: Mapping[str, str] | None = None,
) -> LaunchConfig:
    sources = dict(sources or {})

    def fix(key: str) -> str:
        """The one place to fix ``key``: the flag, variable or file it came from."""
        return f"fix {sources[key]}" if key in sources else f"set {key}"

    local = bool(values.get("local")) or not need_role
    if values.get("local") and values.get("local_s3", "folder") == "folder":
        # Nothing of a local run reaches AWS: the region only spells ARNs, and the bucket is
        # a folder under the state folder.
        values.setdefault("region", LOCAL_REGION)
        values.setdefault("bucket", LOCAL_BUCKET)
    if not values.get("region"):
        raise ConfigError(
            "no AWS region: pass --region, set MPG_REGION (or AWS_REGION) or "
            "'region' in the config file"
        )
    if not _REGION.match(values["region"]):
        raise ConfigError(
            f"region {values['region']!r} is not an AWS region name "
            f"(like us-east-1); {fix('region')}"
        )
    if not values.get("role_arn"):
        if not local:
            raise ConfigError(
                "no SageMaker execution role: pass --role, set MPG_ROLE_ARN or "
                "'role_arn' in the config file (see launch/README.md for its "
                "permissions)"
            )
        values["role_arn"] = LOCAL_ROLE_ARN
    if not _ROLE_ARN.match(values["role_arn"]):
        raise ConfigError(
            f"role {values['role_arn']!r} is not an IAM role ARN "
            f"(arn:aws:iam::<account>:role/<name>); {fix('role_arn')}"
        )
    if not need_bucket and not values.get("bucket"):
        pass  # push: images only, no S3
    elif not values.get("bucket"):
        raise ConfigError(
            "no S3 bucket: pass --bucket, set MPG_BUCKET or 'bucket' in the "
            "config file (it must be in the same region as the jobs)"
        )
    if values["bucket"]:
        problems = identifiers.bucket_problems(values["bucket"])
        if problems:
            raise ConfigError(f"{problems[0]}; {fix('bucket')}")
    problems = identifiers.arn_partition_problems(values["role_arn"], values["region"])
    if problems and values["role_arn"] != LOCAL_ROLE_ARN:
        raise ConfigError(f"role: {problems[0]}; {fix('role_arn')}")
    for key in ("prefix", "raw_prefix"):
        if values.get(key):
            problems = identifiers.key_problems(str(values[key]), key)
            if problems:
                raise ConfigError(f"{problems[0]}; {fix(key)}")
    if values.get("kms_key_id"):
        problems = identifiers.kms_key_problems(values["kms_key_id"], values["region"])
        if problems:
            raise ConfigError(f"{problems[0]}; {fix('kms_key_id')}")
    for key, kind in (("subnets", "subnet"), ("security_group_ids", "sg")):
        for item in values.get(key) or ():
            problems = identifiers.ec2_id_problems(item, kind)
            if problems:
                raise ConfigError(f"{key}: {problems[0]}; {fix(key)}")
    for key, pattern, limit in (
        ("endpoint_name", preflight.NAME_PATTERN, preflight.NAME_LIMIT),
        ("model_package_group", preflight.NAME_PATTERN, preflight.NAME_LIMIT),
        ("pipeline_name", _PIPELINE_NAME, 256),
    ):
        given = values.get(key)
        if given is not None and (len(given) > limit or not pattern.match(given)):
            raise ConfigError(
                f"{key} {given!r} is not a SageMaker name (1-{limit} letters, digits and "
                f"inner hyphens); {fix(key)}"
            )
    if values.get("image_tag") is not None:
        preflight.image_tag(values["image_tag"], sources.get("image_tag", "image_tag"))
    if values.get("image_registry") is not None:
        preflight.registry(
            values["image_registry"], sources.get("image_registry", "image_registry")
        )
    if values.get("local_s3", "folder") not in LOCAL_S3_CHOICES:
        raise ConfigError(
            f"local_s3 {values['local_s3']!r}: give one of {', '.join(LOCAL_S3_CHOICES)}; "
            f"{fix('local_s3')}"
        )
    values["prefix"] = str(values.get("prefix", LaunchConfig.prefix)).strip("/")
    config = LaunchConfig(**values, sources=sources)
    if config.spot and config.max_wait_seconds is None:
        config = replace(config, max_wait_seconds=2 * config.max_runtime_seconds)
    if config.max_wait_seconds is not None and config.max_wait_seconds < config.max_runtime_seconds:
        raise ConfigError(
            f"max_wait_seconds={config.max_wait_seconds} must be at least "
            f"max_runtime_seconds={config.max_runtime_seconds}"
        )
    if bool(config.subnets) != bool(config.security_group_ids):
        raise ConfigError("a VPC needs both 'subnets' and 'security_group_ids' (or neither)")
    return config
