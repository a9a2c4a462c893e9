"""Every top-level setting, declared once: its key (the LaunchConfig field and the config-file
key), what kind of value it takes, its flag, its environment variables, its lower bound and
its help. The config reader, the environment reader and the parser's common flags all come
from :data:`SETTINGS`; the endpoint's tables declare their flags as :class:`Flag` beside their
settings objects (:mod:`mpg_launch.endpoint.settings`, ``async_settings``,
``rollout_settings``), and every value goes through the one coercion of
:mod:`mpg_launch.settings.values`.

Standard library only: the CLI imports this for ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

# What a key takes: a string, a whole number, true/false, a list of strings, or a table
# (instances, images, tags, hyperparameters, and the endpoint's sections) read by its own reader.
STRING, INTEGER, BOOLEAN, STRINGS, TABLE = "string", "integer", "boolean", "strings", "table"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str = STRING
    flag: str | None = None  # the flag that sets it (None: file or environment only)
    env: tuple[str, ...] = ()  # the first one set wins
    minimum: int | None = None  # INTEGER's lower bound (the upper is the service model's)
    help: str | None = None  # the common flag's help; None: the flag is a subcommand's own
    switch: bool = False  # a store_true flag (--no-network-isolation sets False)
    aliases: tuple[str, ...] = ()  # other spellings of the flag (a shorter one)
    # launch/README.md's settings table (mpg_launch.settings.readme writes it from these):
    allowed: str = ""  # what the key takes
    default: str = ""  # its default, in words
    sets: str = ""  # what it sets
    readme_flag: str | None = None  # the Flag cell, where it is not the flag (a table's flags)

    @property
    def dest(self) -> str | None:
        """The argparse dest of the flag."""
        return self.flag.lstrip("-").replace("-", "_") if self.flag else None


class Flag(NamedTuple):
    """A flag of one of deploy's tables: it sets the table's field of the same name."""

    field: str
    flag: str
    type: type
    metavar: str
    help: str


@dataclass(frozen=True)
class TableKey:
    """A key of one of deploy's tables (``[autoscaling]``, ``[serverless]``,
    ``[data_capture]``, ``[async]``, ``[rollout]``): its type (what the one coercion makes of
    a value: int, float, bool, str or tuple[str, ...]), its flag, its bounds and its help. The
    table's settings object (:mod:`mpg_launch.endpoint.settings`) holds its default; its
    checks read the bounds from here. The tables have no environment variables."""

    table: str  # the LaunchConfig field (async_inference is the file's [async])
    key: str
    kind: Any
    flag: str | None = None
    metavar: str = "N"
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""
    # Parsed by the table's own parser code (choices, repeatable, a --no- switch), not as a
    # plain typed flag.
    special: bool = False

    @property
    def as_flag(self) -> Flag:
        assert self.flag is not None
        return Flag(self.key, self.flag, self.kind, self.metavar, self.help)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "region",
        flag="--region",
        env=("MPG_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        help="AWS region (MPG_REGION, AWS_REGION)",
    ),
    Setting(
        "role_arn",
        flag="--role",
        env=("MPG_ROLE_ARN",),
        help="SageMaker execution role ARN (MPG_ROLE_ARN)",
    ),
    Setting(
        "bucket",
        flag="--bucket",
        env=("MPG_BUCKET",),
        help="S3 bucket for data and artifacts (MPG_BUCKET)",
    ),
    Setting(
        "prefix",
        flag="--prefix",
        env=("MPG_PREFIX",),
        help="S3 key prefix (MPG_PREFIX, default mpg)",
    ),
    Setting("raw_prefix"),
    Setting("account_id", env=("MPG_ACCOUNT_ID",)),
    Setting(
        "image_tag",
        flag="--image-tag",
        env=("MPG_IMAGE_TAG",),
        help="image tag in ECR (MPG_IMAGE_TAG)",
    ),
    Setting("local_image_tag", env=("MPG_LOCAL_IMAGE_TAG",)),
    Setting("repository_prefix"),
    Setting("images", TABLE),
    Setting(
        "image_registry",
        flag="--image-registry",
        env=("MPG_IMAGE_REGISTRY",),
        help="Docker registry to push to and pull from instead of ECR's (MPG_IMAGE_REGISTRY)",
        aliases=("--registry",),
    ),
    Setting("instances", TABLE),
    Setting("volume_size_gb", INTEGER, minimum=1),
    Setting("max_runtime_seconds", INTEGER, minimum=1),
    Setting(
        "network_isolation",
        BOOLEAN,
        flag="--no-network-isolation",
        help="let containers reach the network (isolated by default)",
        switch=True,
    ),
    Setting("subnets", STRINGS),
    Setting("security_group_ids", STRINGS),
    Setting("kms_key_id"),
    Setting("tags", TABLE),
    Setting("spot", BOOLEAN),
    Setting("max_wait_seconds", INTEGER, minimum=1),
    Setting("hyperparameters", TABLE),
    Setting("endpoint_name", flag="--endpoint"),
    Setting("autoscaling", TABLE),
    Setting("serverless", TABLE),
    Setting("data_capture", TABLE),
    Setting("rollout", TABLE),
    Setting("async_inference", TABLE),
    Setting("monitor", TABLE),
    Setting("pipeline_name", flag="--pipeline-name"),
    Setting("model_package_group", flag="--model-package-group"),
    Setting("local", BOOLEAN, flag="--local", switch=True),
    Setting("local_state_dir", env=("MPG_LOCAL_STATE_DIR",)),
    # Where --local keeps its S3 objects: "folder" (<state>/s3/<bucket>/<key>) or "aws".
    Setting("local_s3", env=("MPG_LOCAL_S3",)),
    Setting(
        "schema",
        flag="--schema",
        env=("MPG_SCHEMA",),
        help="table schema file, from `init` (MPG_SCHEMA; default: Auto MPG's)",
    ),
    Setting("verbose", BOOLEAN, flag="--verbose", switch=True),
)
BY_KEY = {s.key: s for s in SETTINGS}
# Keys and environment variables that were renamed: old -> new. The old spelling is refused
# with one line naming the new one, never read (``registry_override`` sat confusingly beside
# the Model Registry's ``registry`` commands; it names the Docker registry of the images).
RENAMED = {"registry_override": "image_registry", "MPG_REGISTRY": "MPG_IMAGE_REGISTRY"}
# Environment variable -> key, in the order that decides between two variables of one key.
ENV_KEYS = {var: s.key for s in SETTINGS for var in s.env}


TABLE_KEYS: tuple[TableKey, ...] = (
    # [autoscaling]: Application Auto Scaling of the variant's instance count.
    TableKey(
        "autoscaling",
        "min_instances",
        int,
        "--min-instances",
        minimum=1,
        help="fewest instances (default 1)",
    ),
    TableKey(
        "autoscaling",
        "max_instances",
        int,
        "--max-instances",
        minimum=1,
        help="most instances (required)",
    ),
    TableKey(
        "autoscaling",
        "target_invocations_per_instance",
        float,
        "--target-invocations",
        minimum=0,
        help="invocations per instance per minute to hold (required)",
    ),
    TableKey(
        "autoscaling",
        "scale_in_cooldown",
        int,
        "--scale-in-cooldown",
        "S",
        minimum=0,
        help="seconds (default 300)",
    ),
    TableKey(
        "autoscaling",
        "scale_out_cooldown",
        int,
        "--scale-out-cooldown",
        "S",
        minimum=0,
        help="seconds (default 60)",
    ),
    # [serverless]: ServerlessConfig instead of instances.
    TableKey(
        "serverless",
        "memory_mb",
        int,
        "--memory-mb",
        "MB",
        minimum=1024,
        maximum=6144,
        help="1024-6144 in steps of 1024 (default 2048)",
    ),
    # botocore: ProductionVariantServerlessConfig.MaxConcurrency.
    TableKey(
        "serverless",
        "max_concurrency",
        int,
        "--max-concurrency",
        minimum=1,
        maximum=200,
        help="1-200 (default 5)",
    ),
    TableKey(
        "serverless",
        "provisioned_concurrency",
        int,
        "--provisioned-concurrency",
        minimum=1,
        help="warm capacity, at most --max-concurrency (billed while idle)",
    ),
    # [data_capture]: DataCaptureConfig.
    TableKey(
        "data_capture",
        "sampling_percentage",
        int,
        "--capture-percent",
        "PERCENT",
        minimum=0,
        maximum=100,
        help="0-100 (default 20)",
    ),
    TableKey(
        "data_capture",
        "destination",
        str,
        "--capture-uri",
        "URI",
        help="s3:// prefix (default <prefix>/data-capture/)",
    ),
    TableKey("data_capture", "capture_input", bool, help="capture the requests"),
    TableKey("data_capture", "capture_output", bool, help="capture the responses"),
    TableKey(
        "data_capture",
        "csv_content_types",
        tuple[str, ...],
        maximum=10,
        help="content types captured as CSV (at most 10)",
    ),
    TableKey(
        "data_capture",
        "json_content_types",
        tuple[str, ...],
        maximum=10,
        help="content types captured as JSON (at most 10)",
    ),
    # [async]: AsyncInferenceConfig, the container's limits and scaling to zero.
    TableKey(
        "async_inference",
        "output_path",
        str,
        "--async-output",
        "URI",
        help="s3:// prefix of the answers",
    ),
    TableKey(
        "async_inference",
        "failure_path",
        str,
        "--async-failures",
        "URI",
        help="s3:// prefix of the failures",
    ),
    TableKey(
        "async_inference",
        "success_topic",
        str,
        "--success-topic",
        "ARN",
        help="SNS topic told of each answer",
    ),
    TableKey(
        "async_inference",
        "error_topic",
        str,
        "--error-topic",
        "ARN",
        help="SNS topic told of each failure",
    ),
    # botocore: AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance 1..1000.
    TableKey(
        "async_inference",
        "max_concurrent_invocations",
        int,
        "--max-concurrent-invocations",
        minimum=1,
        maximum=1000,
        help="requests in flight per instance, 1-1000 (default: SageMaker's choice)",
    ),
    # botocore: InvokeEndpointAsync.InvocationTimeoutSeconds 1..3600.
    TableKey(
        "async_inference",
        "invocation_timeout",
        int,
        "--invocation-timeout",
        "S",
        minimum=1,
        maximum=3600,
        help="seconds per request, 1-3600",
    ),
    # The docs: payloads up to 1 GB.
    TableKey(
        "async_inference",
        "max_payload_mb",
        int,
        "--async-max-payload-mb",
        "MB",
        minimum=1,
        maximum=1024,
        help="1-1024 (default 1024)",
    ),
    TableKey(
        "async_inference",
        "min_capacity",
        int,
        "--min-capacity",
        minimum=0,
        help="fewest instances (default 0)",
    ),
    TableKey(
        "async_inference",
        "max_capacity",
        int,
        "--max-capacity",
        minimum=1,
        help="most instances; scales on the queue",
    ),
    TableKey(
        "async_inference",
        "target_backlog_per_instance",
        float,
        "--target-backlog",
        minimum=0,
        help="queued requests per instance to hold (default 5)",
    ),
    TableKey("async_inference", "scale_in_cooldown", int, minimum=0, help="seconds (default 600)"),
    TableKey("async_inference", "scale_out_cooldown", int, minimum=0, help="seconds (default 300)"),
    # [rollout]: SageMaker's deployment guardrails. botocore: WaitIntervalInSeconds and
    # TerminationWaitInSeconds 0-3600, MaximumExecutionTimeoutInSeconds 600-28800,
    # AutoRollbackConfiguration.Alarms 1-10.
    TableKey(
        "rollout",
        "mode",
        str,
        "--rollout",
        special=True,
        help="how traffic moves to the new model on an existing endpoint",
    ),
    TableKey(
        "rollout",
        "step_percent",
        int,
        "--rollout-step-percent",
        "PCT",
        minimum=1,
        maximum=50,
        help="canary/linear step, %% of capacity",
    ),
    TableKey(
        "rollout",
        "step_instances",
        int,
        "--rollout-step-instances",
        minimum=1,
        help="canary/linear step in instances",
    ),
    TableKey(
        "rollout",
        "wait_seconds",
        int,
        "--rollout-wait",
        "S",
        minimum=0,
        maximum=3600,
        help="wait after the canary/each step (300)",
    ),
    TableKey(
        "rollout",
        "bake_seconds",
        int,
        "--rollout-bake",
        "S",
        minimum=0,
        maximum=3600,
        help="bake time on the new fleet (600)",
    ),
    TableKey(
        "rollout",
        "max_execution_seconds",
        int,
        minimum=600,
        maximum=28800,
        help="the guardrail's time limit (default: the waits plus provisioning)",
    ),
    TableKey(
        "rollout",
        "create_alarms",
        bool,
        "--no-rollout-alarms",
        special=True,
        help="do not create the 5xx and p99-latency alarms for the new fleet",
    ),
    TableKey(
        "rollout",
        "alarms",
        tuple[str, ...],
        "--rollback-alarm",
        "NAME",
        maximum=10,
        special=True,
        help="an existing CloudWatch alarm that rolls the update back (repeatable)",
    ),
    TableKey(
        "rollout",
        "max_5xx_rate",
        float,
        "--max-5xx-rate",
        "RATE",
        minimum=0,
        maximum=1,
        help="5xx share that rolls back (0.01)",
    ),
    TableKey(
        "rollout",
        "max_latency_p99_ms",
        float,
        "--max-latency-ms",
        "MS",
        minimum=0,
        help="p99 latency that rolls back (1000)",
    ),
    TableKey(
        "rollout",
        "alarm_period_seconds",
        int,
        minimum=60,
        help="the alarms' period, a multiple of 60",
    ),
    TableKey(
        "rollout",
        "alarm_evaluation_periods",
        int,
        minimum=1,
        help="periods over the threshold that fire an alarm",
    ),
)
TABLES = tuple(dict.fromkeys(k.table for k in TABLE_KEYS))


def table_keys(table: str) -> dict[str, TableKey]:
    """key -> declaration of one table, in declaration order."""
    return {k.key: k for k in TABLE_KEYS if k.table == table}


def table_key(table: str, key: str) -> TableKey:
    return table_keys(table)[key]


def table_flags(table: str) -> tuple[Flag, ...]:
    """The plain typed flags of a table (its special ones are added by its parser code)."""
    return tuple(k.as_flag for k in TABLE_KEYS if k.table == table and k.flag and not k.special)
