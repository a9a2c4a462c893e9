"""``data``: the reproducible splits, uploaded to the raw ("bronze") prefixes, plus a
headerless copy of the test features for batch transform, and the same rows led by an id and
the true mpg for the DataProcessing example (filter, join, filter).

``shards`` > 1 writes each split (and the batch input) as that many files, rows dealt among
them (:func:`mpg_core.dataset.deal_rows`), so a ShardedByS3Key input has objects to spread
over instances. Objects an earlier upload left under those prefixes are removed: the files
written here are then all the prefix holds, and every row is in it exactly once.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpg_core.dataset import (
    Splits,
    load_auto_mpg,
    read_table,
    split,
    split_table,
    write_shards,
    write_split_shards,
)
from mpg_core.errors import DataError
from mpg_core.schema import FEATURES, TARGET
from mpg_launch.aws import names
from mpg_launch.aws.clients import Clients, error_code
from mpg_launch.aws.plan import Step, Submission, do
from mpg_launch.aws.s3 import list_objects, split_s3_uri
from mpg_launch.aws.submit import Runner
from mpg_launch.errors import ConfigError, LaunchError
from mpg_launch.settings.config import LaunchConfig
from mpg_launch.table.schema import config_schema

if TYPE_CHECKING:
    from mpg_core.table_schema import TableSchema


def _looks_like_a_csv(source: str) -> bool:
    """A local file whose first line has commas (auto-mpg.data is whitespace-separated)."""
    try:
        with Path(source).open(encoding="utf-8") as file:
            return "," in file.readline(65536)
    except (OSError, UnicodeDecodeError):
        return False


def _load(source: str | None) -> Any:
    """The data set, or one line naming the source and what is wrong with it."""
    try:
        return load_auto_mpg(source)
    except DataError as exc:
        if source and _looks_like_a_csv(source):  # the schema forgotten, not a broken file
            raise ConfigError(
                f"--source {source!r} is a comma-separated table, not auto-mpg.data: pass its "
                "schema with --schema FILE (or MPG_SCHEMA); write one with "
                f"`mpg-launch init --table {source} --target COLUMN`, or run "
                f"`mpg-launch quickstart --table {source} --target COLUMN`"
            ) from None
        raise ConfigError(
            f"--source {source!r} is not auto-mpg.data: {exc}; for a table of your own, give "
            "its schema (--schema) or run `mpg-launch quickstart --table FILE --target COLUMN`"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"--source {source!r} is not UTF-8 text; give auto-mpg.data") from None
    except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ConfigError(f"--source {source!r}: cannot read it ({reason})") from None


def check_bucket(s3: Any, bucket: str) -> None:
    """HeadBucket before the first upload, so a missing bucket is one line (exit 1: S3 said
    no), not the transfer manager's chained tracebacks."""
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket"):
            raise LaunchError(
                f"bucket {bucket} does not exist; create it (aws s3 mb s3://{bucket}) or fix "
                "--bucket/MPG_BUCKET"
            ) from None
        if code in ("403", "AccessDenied"):
            raise LaunchError(
                f"bucket {bucket} is not yours to write (403); fix --bucket/MPG_BUCKET or the "
                "credentials' permissions"
            ) from None
        raise


def upload_file(s3: Any, path: Path, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    s3.upload_file(str(path), bucket, key)
    return uri


def _prefix_steps(
    s3: Any, paths: list[Path], prefix: str, out: Callable[[str], None]
) -> tuple[list[Step], list[str]]:
    """Upload ``paths`` under ``prefix`` (a step each, printed as its PutObject request), then
    delete every other object there; returns the steps and the uploaded URIs."""
    uris = [prefix + path.name for path in paths]
    steps = [
        do(
            functools.partial(upload_file, s3, path, uri),
            Submission(
                "PutObject", dict(zip(("Bucket", "Key"), split_s3_uri(uri), strict=True)), "s3"
            ),
        )
        for path, uri in zip(paths, uris, strict=True)
    ]
    steps.append(do(functools.partial(_remove_others, s3, prefix, uris, out)))
    return steps, uris


def _remove_others(s3: Any, prefix: str, keep: list[str], out: Callable[[str], None]) -> None:
    for _, uri in list_objects(s3, prefix):
        if uri not in keep:
            bucket, key = split_s3_uri(uri)
            s3.delete_object(Bucket=bucket, Key=key)
            out(f"removed {uri} (left by an earlier upload)")


def checked_splits(
    source: str | None, seed: int, shards: int, schema: TableSchema | None = None
) -> Splits:
    """The seeded splits (Auto MPG's, or with a schema its table's), read before any client is
    made; ``shards`` checked against them."""
    splits = (
        split(_load(source), seed=seed) if schema is None else table_splits(source, schema, seed)
    )
    rows, smallest = min((len(frame), name) for name, frame in splits.items())
    if not 1 <= shards <= rows:
        raise ConfigError(
            f"--shards {shards}: give 1 to {rows} (the {smallest} split has {rows} rows, "
            "and every file should hold some)"
        )
    return splits


def split_steps(
    config: LaunchConfig,
    s3: Any,
    splits: Splits,
    folder: Path,
    shards: int = 1,
    out: Callable[[str], None] = lambda line: None,
) -> tuple[list[Step], dict[str, list[str]]]:
    """Write the splits (:func:`checked_splits`) as ``shards`` files each under ``folder``;
    returns the steps that upload them and name -> S3 URIs (``train``, ``validation``,
    ``test``, ``batch`` and ``batch-joined``)."""
    schema = config_schema(config)
    features, target = (
        (FEATURES, TARGET) if schema is None else (schema.feature_columns, schema.target)
    )
    steps: list[Step] = []
    uploaded = {}

    def upload(name: str, paths: list[Path], prefix: str) -> None:
        more, uploaded[name] = _prefix_steps(s3, paths, prefix, out)
        steps.extend(more)

    for name, paths in write_split_shards(splits, folder / "bronze", shards).items():
        upload(name, paths, names.raw_uri(config, name))
    # Batch transform reads the endpoint's format: raw features, no header, no target.
    batch = write_shards(
        splits.test[list(features)], folder / "batch", "test", shards, header=False
    )
    upload("batch", batch, names.batch_input_uri(config))
    # id (the row's line in the table), the true target, then the same features.
    joined = folder / "joined" / "test.csv"
    joined.parent.mkdir()
    labelled = splits.test[[target, *features]]
    labelled.set_axis(labelled.index + 1).to_csv(joined, index=True, header=False)
    upload("batch-joined", [joined], names.batch_joined_uri(config))
    return steps, uploaded


def apply_uploads(
    runner: Runner, splits: Splits, shards: int = 1, after: Sequence[Step] = ()
) -> dict[str, list[str]]:
    """Observe the bucket, plan the splits' uploads (then ``after``) and apply them; a dry
    run prints each upload's request and stops. Returns name -> S3 URIs."""
    config = runner.config
    runner.observe(lambda c: check_bucket(c.s3, config.bucket), dry=lambda: None)
    assert runner.clients is not None
    with tempfile.TemporaryDirectory() as tmp:
        steps, uploaded = split_steps(
            config, runner.clients.s3, splits, Path(tmp), shards, runner.out
        )
        runner.apply([*steps, *after])
    return uploaded


def upload_splits(
    config: LaunchConfig,
    s3: Any,
    splits: Splits,
    shards: int = 1,
    out: Callable[[str], None] = lambda line: None,
) -> dict[str, list[str]]:
    """:func:`apply_uploads` on an S3 client alone; returns name -> S3 URIs."""
    return apply_uploads(Runner(config, Clients(None, None, s3, None), out), splits, shards)


def table_splits(source: str | None, schema: TableSchema, seed: int = 42) -> Splits:
    """The user's table (``--source``, a headered CSV) in seeded splits of Auto MPG's sizes
    (70/15/15); a classification table's are stratified on the target, so each split keeps the
    class shares and every class is in train."""
    if not source:
        raise ConfigError(
            "data: with a schema (--schema, MPG_SCHEMA or 'schema'), give its table with "
            "--source FILE.csv"
        )
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"data --source {source}: no such file")
    from mpg_core.errors import MpgError

    try:
        frame = read_table(path)
        return split_table(frame, schema, seed)
    except MpgError as exc:
        raise ConfigError(f"data --source {source}: {exc}") from None
