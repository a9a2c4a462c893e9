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
from typing import NamedTuple

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
        "registry_override",
        flag="--registry",
        env=("MPG_REGISTRY",),
        help="push/pull registry instead of ECR's (MPG_REGISTRY)",
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
        "table",
        flag="--table",
        env=("MPG_TABLE",),
        help="your table (FILE.csv or its name): its remembered schema, its S3 prefix "
        "<prefix>/<name> and its endpoint <name>, as quickstart lays them out (MPG_TABLE)",
    ),
    Setting(
        "schema",
        flag="--schema",
        env=("MPG_SCHEMA",),
        help="table schema file, from `init` (MPG_SCHEMA; default: Auto MPG's)",
    ),
    Setting("verbose", BOOLEAN, flag="--verbose", switch=True),
)
BY_KEY = {s.key: s for s in SETTINGS}
# Environment variable -> key, in the order that decides between two variables of one key.
ENV_KEYS = {var: s.key for s in SETTINGS for var in s.env}
