"""The user's table schema on its way in: checked by :mod:`mpg_core.table_schema` (its one
reader) before any request is sent, uploaded next to the raw splits, and handed to the first job
as a ProcessingInput. Without one, every job uses Auto MPG's schema, shipped in mpg_core.

<prefix>/data/bronze/schema/<file name>.toml   the schema (``--schema``, ``MPG_SCHEMA``,
                                               the config file's ``schema`` key)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpg_launch.aws import names
from mpg_launch.aws.plan import Step, do
from mpg_launch.aws.s3 import list_objects, split_s3_uri
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

if TYPE_CHECKING:
    from mpg_core.table_schema import TableSchema

# The processing input (and so /opt/ml/processing/input/schema/) the preprocessing job reads.
SCHEMA_INPUT = "schema"


def load_checked_schema(path: Path) -> TableSchema:
    """The schema file at ``path``; a launcher ConfigError (one line, exit 2) naming the file
    and the fix when it is missing or not a valid schema."""
    from mpg_core.errors import MpgError
    from mpg_core.table_schema import load_schema

    if not path.is_file():
        raise ConfigError(
            f"schema {path}: no such file; write one with `mpg-launch init --table FILE.csv "
            "--target COLUMN`, or fix --schema, MPG_SCHEMA or the config file's 'schema' key"
        )
    try:
        return load_schema(path)
    except MpgError as exc:
        raise ConfigError(f"schema {path}: {exc}") from None


def config_schema(config: LaunchConfig) -> TableSchema | None:
    """The config's schema, checked; None when none is given (Auto MPG's). Read once per
    command: the request builders, the task and the upload all ask for it, and the file is
    read again only if it changed on disk (a new mtime or size)."""
    if not config.schema:
        return None
    path = Path(config.schema)
    try:
        stat = path.stat()
    except OSError:
        return load_checked_schema(path)  # names the missing file
    return _schema_as_of(str(path), str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _schema_as_of(given: str, resolved: str, mtime_ns: int, size: int) -> TableSchema:
    """The file ``given`` names (and errors name), cached by where it is and its version."""
    return load_checked_schema(Path(given))


def schema_prefix(config: LaunchConfig) -> str:
    """The S3 prefix the schema is uploaded to: beside the raw splits, so a pipeline run on
    other data (``InputData``) reads the schema that sits beside that data."""
    return names.raw_uri(config, SCHEMA_INPUT)


def schema_uri(config: LaunchConfig) -> str:
    assert config.schema
    return schema_prefix(config) + Path(config.schema).name


def upload_schema(config: LaunchConfig, s3: Any, out: Any = lambda line: None) -> str | None:
    """Check the config's schema and upload it (alone) under :func:`schema_prefix`; returns
    its URI, or None when the config names none."""
    if not config.schema:
        return None
    config_schema(config)

    uri = schema_uri(config)
    bucket, key = split_s3_uri(uri)
    s3.upload_file(config.schema, bucket, key)
    # One schema per prefix: the job reads every *.toml there and refuses several.
    for _, other in list_objects(s3, schema_prefix(config)):
        if other != uri:
            s3.delete_object(**dict(zip(("Bucket", "Key"), split_s3_uri(other), strict=True)))
            out(f"removed {other} (left by an earlier upload)")
    out(f"schema: {uri}")
    return uri


def schema_steps(config: LaunchConfig, s3: Callable[[], Any], out: Any) -> list[Step]:
    """The first step of every command that starts the first job (or the pipeline): the
    schema, checked now (before any client exists), uploaded where the job's ProcessingInput
    reads it. The printed plan leaves it out: it shows the command's own requests."""
    if not config.schema:
        return []
    config_schema(config)
    return [do(lambda: upload_schema(config, s3(), out))]
