"""Every setting, declared once. A top-level setting (:data:`SETTINGS`): its key (the
LaunchConfig field and the config-file key), what kind of value it takes, its flag, its
environment variables, its lower bound, its help and its README cells. A key of one of
deploy's tables (:data:`TABLE_KEYS`): its type, flag, bounds and help. The config reader, the
environment reader, the parser's flags, the tables' checks (their bounds) and launch/README.md's
settings tables (:mod:`mpg_launch.settings.readme`) all come from here, and every value goes
through the one coercion of :mod:`mpg_launch.settings.values`. A key of the monitor's table
(:data:`MONITOR_KEYS`, ``[monitor]``, flags on every ``monitor`` action) is declared the same
way.

Standard library only: the CLI imports this for ``--help``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        allowed="an AWS region name",
        default="none",
        sets="where the jobs run; the bucket and the ECR repositories must be there too",
    ),
    Setting(
        "role_arn",
        flag="--role",
        env=("MPG_ROLE_ARN",),
        help="SageMaker execution role ARN (MPG_ROLE_ARN)",
        allowed="an IAM role ARN",
        default="none",
        sets=(
            "the SageMaker execution role (see [The AWS path](#the-aws-path)); not needed for "
            "`--local`, `data`, `push`, `predict`, `status`, `logs`, `delete`"
        ),
    ),
    Setting(
        "bucket",
        flag="--bucket",
        env=("MPG_BUCKET",),
        help="S3 bucket for data and artifacts (MPG_BUCKET)",
        allowed="an S3 bucket name",
        default="none",
        sets="holds the data and all artifacts",
    ),
    Setting(
        "prefix",
        flag="--prefix",
        env=("MPG_PREFIX",),
        help="S3 key prefix (MPG_PREFIX, default mpg)",
        allowed="a key prefix",
        default="`mpg`",
        sets="everything goes under `s3://<bucket>/<prefix>/`",
    ),
    Setting(
        "raw_prefix",
        allowed="a key prefix",
        default="`data/bronze`",
        sets="where `data` puts the raw splits, under `prefix`",
    ),
    Setting(
        "account_id",
        env=("MPG_ACCOUNT_ID",),
        allowed="12 digits",
        default="the role ARN's",
        sets="the account that owns the ECR repositories",
    ),
    Setting(
        "image_tag",
        flag="--image-tag",
        env=("MPG_IMAGE_TAG",),
        help="image tag in ECR (MPG_IMAGE_TAG)",
        allowed="a Docker tag",
        default="`latest`",
        sets="the tag `push` printed",
    ),
    Setting(
        "local_image_tag",
        env=("MPG_LOCAL_IMAGE_TAG",),
        allowed="a Docker tag",
        default="`latest`",
        sets="the local images `--local` runs, as in `make images IMAGE_TAG=...`",
    ),
    Setting(
        "repository_prefix",
        allowed="a name",
        default="`mpg`",
        sets="ECR repositories are `<repository_prefix>-<image>`",
    ),
    Setting(
        "images",
        TABLE,
        allowed="`preprocessing`, `training`, `serving` = image references",
        default="ECR's names",
        sets="explicit image URIs per image",
    ),
    Setting(
        "image_registry",
        flag="--image-registry",
        env=("MPG_IMAGE_REGISTRY",),
        help="Docker registry to push to and pull from instead of ECR's (MPG_IMAGE_REGISTRY)",
        aliases=("--registry",),
        allowed="`host[:port]`",
        default="ECR's",
        sets=(
            "the Docker registry `push` pushes to and requests name the images after, instead of "
            "ECR's (not the Model Registry); the old key `registry_override` and `MPG_REGISTRY` "
            "are refused, naming it"
        ),
    ),
    Setting(
        "instances",
        TABLE,
        allowed="`type` (`ml.*`), `count` (whole number >= 1)",
        default="`ml.m5.large`, 1",
        sets="for `processing`, `training` (1 only), `serving`, `transform`",
    ),
    Setting(
        "volume_size_gb",
        INTEGER,
        minimum=1,
        allowed="whole number >= 1",
        default="30",
        sets="job volumes",
    ),
    Setting(
        "max_runtime_seconds",
        INTEGER,
        minimum=1,
        allowed="whole number >= 1",
        default="3600",
        sets="every job's limit",
    ),
    Setting(
        "network_isolation",
        BOOLEAN,
        flag="--no-network-isolation",
        help="let containers reach the network (isolated by default)",
        switch=True,
        allowed="true or false",
        default="true",
        sets="the images need no network at run time",
    ),
    Setting(
        "subnets",
        STRINGS,
        allowed="a list of subnet ids (with `security_group_ids`, or neither)",
        default="none",
        sets="run in a VPC: its subnets",
    ),
    Setting(
        "security_group_ids",
        STRINGS,
        allowed="a list of security group ids (with `subnets`, or neither)",
        default="none",
        sets="run in a VPC: its security groups",
    ),
    Setting(
        "kms_key_id",
        allowed="a KMS key id or ARN",
        default="none",
        sets="encrypts volumes and outputs",
    ),
    Setting(
        "tags",
        TABLE,
        allowed=(
            "up to 50; keys 1-128, values 0-256 letters, digits, spaces and `_ . : / = + - @`; no "
            "`aws:` keys"
        ),
        default="none",
        sets="tags every resource",
    ),
    Setting(
        "spot",
        BOOLEAN,
        allowed="true or false",
        default="false",
        sets="managed spot training (checkpoints to `checkpoints/<job>/`)",
    ),
    Setting(
        "max_wait_seconds",
        INTEGER,
        minimum=1,
        allowed="whole number >= `max_runtime_seconds`",
        default="twice `max_runtime_seconds` with `spot`",
        sets="spot's wait limit",
    ),
    Setting(
        "hyperparameters",
        TABLE,
        allowed="the training image's table (see [Hyperparameters](#hyperparameters))",
        default="the image's",
        sets="`train` and `tune`",
        readme_flag="`-H KEY=VALUE` (`train`)",
    ),
    Setting(
        "endpoint_name",
        flag="--endpoint",
        allowed="a SageMaker name (1-63 characters)",
        default="`mpg`",
        sets=(
            "`deploy` names the model and endpoint config `<endpoint>-YYYYmmdd-HHMMSS`; above 47 "
            "characters, the endpoint's first 38, an 8-character hash of the whole name and the "
            "stamp, so they fit SageMaker's 63"
        ),
    ),
    Setting(
        "autoscaling",
        TABLE,
        allowed=(
            "see [Scaling an endpoint](#scaling-an-endpoint) and [the tables' "
            "keys](#the-keys-of-deploys-tables)"
        ),
        default="off",
        sets="how the endpoint's instance count scales",
        readme_flag="`deploy` flags",
    ),
    Setting(
        "serverless",
        TABLE,
        allowed=(
            "see [Scaling an endpoint](#scaling-an-endpoint) and [the tables' "
            "keys](#the-keys-of-deploys-tables)"
        ),
        default="off",
        sets="a serverless endpoint instead of instances",
        readme_flag="`deploy` flags",
    ),
    Setting(
        "data_capture",
        TABLE,
        allowed=(
            "see [Scaling an endpoint](#scaling-an-endpoint) and [the tables' "
            "keys](#the-keys-of-deploys-tables)"
        ),
        default="off",
        sets="a sample of the endpoint's requests and responses, recorded to S3",
        readme_flag="`deploy` flags",
    ),
    Setting(
        "rollout",
        TABLE,
        allowed="see [Rollouts](#rollouts-that-protect-themselves)",
        default="all at once",
        sets=(
            "how `deploy` moves an existing endpoint to a new model, and the alarms that roll it "
            "back"
        ),
        readme_flag="`deploy --rollout ...`",
    ),
    Setting(
        "async_inference",
        TABLE,
        allowed="see [Asynchronous endpoints](#asynchronous-endpoints)",
        default="off",
        sets=(
            "an asynchronous endpoint: S3 output and failure paths, SNS topics, timeout, scaling "
            "to zero"
        ),
        readme_flag="`deploy --async ...`",
    ),
    Setting(
        "monitor",
        TABLE,
        allowed="see [Watching a deployed model](#watching-a-deployed-model-monitor)",
        default="see there",
        sets="the monitoring job, its thresholds, alarms and schedule",
        readme_flag="`monitor ... --window-hours ...`",
    ),
    Setting(
        "pipeline_name",
        flag="--pipeline-name",
        allowed="1-256 letters, digits, inner hyphens",
        default="`mpg-pipeline`",
        sets="the pipeline `pipeline` manages",
    ),
    Setting(
        "model_package_group",
        flag="--model-package-group",
        allowed="1-63 letters, digits, inner hyphens",
        default="`mpg-models`",
        sets="the Model Registry group",
    ),
    Setting(
        "local",
        BOOLEAN,
        flag="--local",
        switch=True,
        allowed="true or false",
        default="false",
        sets="every subcommand runs locally (see above)",
    ),
    Setting(
        "local_state_dir",
        env=("MPG_LOCAL_STATE_DIR",),
        allowed="a folder",
        default="`~/.cache/mpg-launch/local`",
        sets="where `--local` keeps endpoints, pipelines and the registry",
    ),
    Setting(
        "local_s3",
        env=("MPG_LOCAL_S3",),
        allowed="`folder` or `aws`",
        default="`folder`",
        sets=(
            "where `--local` keeps its S3 objects: `folder` is "
            "`<local_state_dir>/s3/<bucket>/<key>` (no AWS, no credentials, no connection); `aws` "
            "is S3 itself, or the moto server `AWS_ENDPOINT_URL` names"
        ),
    ),
    Setting(
        "table",
        flag="--table",
        env=("MPG_TABLE",),
        help="your table (FILE.csv or its name): its remembered schema, its S3 prefix "
        "<prefix>/<name> and its endpoint <name>, as quickstart lays them out (MPG_TABLE)",
        allowed=(
            "a CSV file or its name (`my data.csv` and `my-data` are one table; in a config "
            "file, relative to the file)"
        ),
        default="none",
        sets=(
            "your table, as `quickstart` lays it out: its schema (see [A table's "
            "schema](#a-tables-schema-found-once)), its objects under `<prefix>/<name>/` and its "
            "endpoint `<name>` (unless `--endpoint`); `data` reads the file unless `--source` "
            "gives other rows"
        ),
    ),
    Setting(
        "schema",
        flag="--schema",
        env=("MPG_SCHEMA",),
        help="table schema file, from `init` (MPG_SCHEMA; default: Auto MPG's)",
        allowed="a path (in a config file, relative to the file)",
        default="Auto MPG's",
        sets=(
            "the table schema `mpg-launch init --table FILE.csv --target COLUMN` writes; checked "
            "before anything is sent; `data --source FILE.csv`, `preprocess` and `pipeline "
            "upsert`/`start` upload it to `<prefix>/data/bronze/schema/`, which preprocessing "
            "reads as the ProcessingInput `schema` (`/opt/ml/processing/input/schema/`); it also "
            "sets the tuner's objective and the pipeline's gate per task (see [Your own "
            "table](../README.md#your-own-table))"
        ),
    ),
    Setting(
        "verbose",
        BOOLEAN,
        flag="--verbose",
        switch=True,
        allowed="true or false",
        default="false",
        sets="a local pipeline also prints its containers' log lines, under their step",
    ),
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
        help="invocations per instance per minute to hold, above 0 (required)",
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
        help="queued requests per instance to hold, above 0 (default 5)",
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
        help="p99 latency that rolls back, above 0 (1000)",
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


# [monitor]: the monitoring job, its thresholds, alarms and schedule. Its settings object
# (mpg_launch.monitor.settings.MonitorSettings) holds the defaults; every key but the
# quality_alarms sub-table has a flag on every `monitor` action. Bounds as the job checks
# them (floats, as its refusals print them).
MONITOR_KEYS: tuple[TableKey, ...] = (
    TableKey(
        "monitor",
        "monitor_name",
        str,
        "--monitor-name",
        "NAME",
        help="the monitor's name: metric dimension, schedule and alarm names",
    ),
    TableKey(
        "monitor",
        "window_hours",
        float,
        "--window-hours",
        "HOURS",
        minimum=0.0,
        maximum=720.0,
        help="hours of traffic each run checks, up to its start",
    ),
    TableKey(
        "monitor",
        "schedule",
        str,
        "--schedule",
        "EXPRESSION",
        help="EventBridge Scheduler expression: rate(1 hour), cron(0 * * * ? *)",
    ),
    TableKey(
        "monitor",
        "schedule_role",
        str,
        "--schedule-role",
        "ARN",
        help="IAM role EventBridge Scheduler assumes to start the job",
    ),
    TableKey(
        "monitor",
        "instance_type",
        str,
        "--instance-type",
        "TYPE",
        help="the monitoring job's instance type",
    ),
    TableKey(
        "monitor",
        "capture_uri",
        str,
        "--capture-uri",
        "URI",
        help="s3:// prefix of the endpoint's capture (default: deploy's)",
    ),
    TableKey(
        "monitor",
        "model_data",
        str,
        "--model-data",
        "URI",
        help="s3:// model.tar.gz holding the baseline (default: endpoint's)",
    ),
    TableKey(
        "monitor",
        "ground_truth_uri",
        str,
        "--ground-truth-uri",
        "URI",
        help="s3:// prefix of CSV files: inference_id and true value",
    ),
    TableKey(
        "monitor",
        "psi_threshold",
        float,
        "--psi-threshold",
        "SCORE",
        minimum=0.0,
        maximum=100.0,
        help="drift score above which a column drifted",
    ),
    TableKey(
        "monitor",
        "p_value_threshold",
        float,
        "--p-value-threshold",
        "P",
        minimum=0,
        maximum=1,
        help="... when its two-sample test rejects at this level",
    ),
    TableKey(
        "monitor",
        "missing_rate_threshold",
        float,
        "--missing-rate-threshold",
        "RATE",
        minimum=0,
        maximum=1,
        help="largest change of a column's missing rate",
    ),
    TableKey(
        "monitor",
        "new_level_threshold",
        float,
        "--new-level-threshold",
        "SHARE",
        minimum=0,
        maximum=1,
        help="largest share of values in unseen levels",
    ),
    TableKey(
        "monitor",
        "quality_tolerance",
        float,
        "--quality-tolerance",
        "LOSS",
        minimum=0.0,
        maximum=10.0,
        help="relative quality loss before a violation",
    ),
    TableKey(
        "monitor",
        "alarm_threshold",
        float,
        "--alarm-threshold",
        "SCORE",
        minimum=0.0,
        maximum=100.0,
        help="alarm when a column's drift score is above",
    ),
    TableKey(
        "monitor",
        "quality_alarms",
        Mapping[str, float],
        special=True,
        help="`[monitor.quality_alarms]` metric = threshold, e.g. `rmse = 3.5`",
    ),
)
