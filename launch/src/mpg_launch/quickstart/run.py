"""What ``quickstart`` does, step by step, each step skipped when a finished job of the same
inputs exists (its name carries their fingerprint, :mod:`.steps`; images count by their ID, so
a rebuilt image under the same tag runs its steps again):

1. the schema: the one remembered for the table (<state>/tables/<name>/schema.toml), or
   inferred as ``init`` infers it and printed;
2. the splits, written to the table's prefix (<bucket>/<prefix>/<name>/data/...);
3. preprocessing, 4. training (the image's default family), 5. evaluation on the test split;
6. a local endpoint named after the table, asked for a real row of the table.

The summary (the training job's leaderboard, the test metrics, the report) is read from the
jobs' outputs, so a rerun that reuses them prints the same one.
"""

from __future__ import annotations

import csv
import json
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from mpg_launch.aws import names
from mpg_launch.aws.plan import Step, do
from mpg_launch.aws.s3 import list_objects, split_s3_uri
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.endpoint import run as endpoint_run
from mpg_launch.errors import ConfigError
from mpg_launch.images.docker import image_id
from mpg_launch.jobs import requests as build
from mpg_launch.jobs import run as jobs_run
from mpg_launch.quickstart import steps
from mpg_launch.settings.config import LaunchConfig
from mpg_launch.table import remembered
from mpg_launch.table import schema as table_schema

Out = Callable[[str], None]
RECORD = "quickstart.json"  # beside the remembered schema: what was deployed, from what
IMAGES = ("preprocessing", "training", "serving")
# What the training job writes beside its model (mpg_training.job.EVALUATION_FILE), packed
# into output.tar.gz: the validation metrics and, with ``algorithm = "auto"``, the leaderboard.
TRAINING_REPORT = "evaluation.json"


@dataclass(frozen=True)
class Outcome:
    endpoint: str
    report: str  # the evaluation report's path (a file under the state folder) or URI
    metrics: dict[str, float]
    leaderboard: list[str]  # the training job's, from its output.tar.gz; empty without one
    row: str  # a real row of the table, as the endpoint takes it
    answer: str


def _inferred(table: Path, target: str, task: str | None, path: Path) -> str:
    """``init``'s inference and text, written to ``path``; one line naming the table when the
    table is not one a model can learn from."""
    from mpg_core.errors import MpgError
    from mpg_launch.table.init_schema import write_schema

    try:
        return write_schema(table, target, task, path, force=True)
    except (MpgError, OSError, ValueError) as exc:
        raise ConfigError(f"quickstart --table {table}: {' '.join(str(exc).split())}") from None


def schema_for(
    state_root: Path,
    table: Path,
    target: str,
    task: str | None,
    out: Out,
    given: str | None = None,
) -> Path:
    """The schema given (``--schema``, ``MPG_SCHEMA``, ``schema``: first, as for every
    command on a table), else the table's remembered schema when it has this target (and
    task, if given), else a new one inferred from the table, printed as ``init`` prints it."""
    if given:
        known = table_schema.load_checked_schema(Path(given))
        if known.target != target or task not in (None, known.task):
            raise ConfigError(
                f"schema {given} predicts {known.target!r} ({known.task}), not --target "
                f"{target}{f' --task {task}' if task else ''}; drop --schema/MPG_SCHEMA, or "
                "give its target"
            )
        out(f"schema: {given} (given)")
        return Path(given)
    path = remembered.schema_path(state_root, table)
    if path.is_file():
        known = table_schema.load_checked_schema(path)
        if known.target == target and task in (None, known.task):
            out(f"schema: {path} (remembered: target {target}, {known.task}; edit it to change)")
            return path
    out(_inferred(table, target, task, path).rstrip("\n"))
    out(f"schema: wrote {path} (inferred; edit it and run again to change a column's role)")
    return path


def _completed(runner: Runner, kind: str, name: str) -> bool:
    """A finished job of these inputs already exists (so its outputs do too)."""
    assert runner.clients is not None
    describe = {"processing": "describe_processing_job", "training": "describe_training_job"}
    key = {"processing": "ProcessingJobName", "training": "TrainingJobName"}[kind]
    try:
        job = getattr(runner.clients.sagemaker, describe[kind])(**{key: name})
    except Exception:  # not found: never run here
        return False
    status = job.get("ProcessingJobStatus") or job.get("TrainingJobStatus")
    return bool(status == "Completed")


def _read_json(s3: Any, uri: str) -> dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    found: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return found


def sample_row(s3: Any, config: LaunchConfig, features: tuple[str, ...]) -> str:
    """The first row of the test split, features only, as the endpoint takes it: its cells
    as the split file spells them (read with the csv module: pandas would cost a rerun a
    second or two of imports)."""
    (_, first), *_ = list_objects(s3, names.raw_uri(config, "test"))
    with tempfile.TemporaryDirectory() as tmp:
        bucket, key = split_s3_uri(first)
        local = Path(tmp) / "test.csv"
        s3.download_file(bucket, key, str(local))
        with local.open(newline="", encoding="utf-8") as file:
            row = next(csv.DictReader(file))
    return steps.csv_row([row[name] or None for name in features])


def _dry_schema(
    table: Path, target: str, task: str | None, given: str | None, folder: Path, out: Out
) -> Path:
    """A dry run's schema: the one given, checked, or inferred as :func:`schema_for` would,
    into ``folder`` (the state untouched), and printed."""
    if given:
        return schema_for(folder, table, target, task, out, given)
    path = folder / "schema.toml"
    out(_inferred(table, target, task, path).rstrip("\n"))
    return path


def quickstart(
    runner: Runner,
    state_root: Path,
    table: Path,
    target: str,
    task: str | None,
    seed: int,
) -> Outcome:
    """The steps, on ``runner``'s local clients; ``runner.config`` is the user's, which this
    narrows to the table (its schema, prefix and endpoint). A dry run takes the schema given,
    or infers one into a temporary folder (the state untouched), prints the first phase's plan
    (the splits' uploads and the preprocessing job) and stops there: the phases after it need
    that job's outputs."""
    out = runner.out
    name = remembered.table_name(table)
    given = runner.config.schema
    with tempfile.TemporaryDirectory() as tmp:
        schema = runner.observe(
            lambda c: schema_for(state_root, table, target, task, out, given),
            dry=lambda: _dry_schema(table, target, task, given, Path(tmp), out),
        )
        config = replace(remembered.narrowed(runner.config, str(table), str(schema)), local=True)
        runner = replace(runner, config=config)
        features = table_schema.load_checked_schema(schema).feature_columns
        # Keyed on the images' IDs, not their names: a rebuilt image under the same tag runs
        # again. A dry run asks the engine nothing, and names the plan's jobs by the tags.
        uris = {image: config.image_uri(image) for image in IMAGES}
        images = runner.observe(
            lambda c: {image: image_id(uri) for image, uri in uris.items()}, dry=lambda: uris
        )
        keys = steps.step_keys(
            table.read_bytes(), schema.read_bytes(), seed, images, config.hyperparameters
        )
        record_path = schema.parent / RECORD
        record: dict[str, Any] = runner.observe(lambda c: _record(record_path), dry=dict)
        prep = keys.job(name, "prep")
        runner.apply(_first_phase(runner, table, seed, keys, record, record_path, Path(tmp)))
    assert runner.clients is not None
    s3 = runner.clients.s3

    train = keys.job(name, "train")
    if _completed(runner, "training", train):
        out(f"train: unchanged, reusing {train}")
    else:
        jobs_run.train(runner, train, prep, True, config.hyperparameters)

    evaluation = keys.job(name, "eval")
    report_uri = names.s3_uri(config, f"evaluate/{evaluation}/evaluation/evaluation.json")
    model = names.trained_model_uri(config, train)
    if _completed(runner, "processing", evaluation):
        out(f"evaluate: unchanged, reusing {evaluation}")
    else:
        request = build.evaluation_request(config, evaluation, model, names.raw_uri(config, "test"))
        runner.submit(Submission("CreateProcessingJob", request))
        runner.wait_job("processing", evaluation)
    metrics = steps.report_metrics(_read_json(s3, report_uri))
    leaderboard = steps.leaderboard_lines(training_selection(s3, config, train))

    row = sample_row(s3, config, features)
    endpoint = config.endpoint_name
    deployed = {"model": train, "serving": images["serving"]}
    answer = _serving(runner, record, endpoint, deployed, row)
    if answer is None:
        from datetime import UTC, datetime

        endpoint_run.deploy(
            runner, endpoint, datetime.now(UTC).strftime("%Y%m%d-%H%M%S"), training_job=train
        )
        answer = _ask(runner, endpoint, row)
        record["deployed"] = deployed
        _save(record_path, record)
    else:
        out(f"deploy: unchanged, endpoint {endpoint} already serves {train}")
    report = _report_path(config, state_root, report_uri)
    return Outcome(endpoint, report, metrics, leaderboard, row, answer)


def _record(path: Path) -> dict[str, Any]:
    """What an earlier quickstart of the table did (its data's and deploy's keys)."""
    found: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    return found


def _first_phase(
    runner: Runner,
    table: Path,
    seed: int,
    keys: steps.StepKeys,
    record: dict[str, Any],
    record_path: Path,
    folder: Path,
) -> list[Step]:
    """The splits' uploads (unless the same data is there) and preprocessing (unless a job of
    the same inputs finished): observed, then planned."""
    from mpg_launch.table.data import check_bucket, checked_splits, split_steps

    config, out = runner.config, runner.out
    name = remembered.table_name(table)
    plan: list[Step] = []
    test_split = names.raw_uri(config, "test")
    if record.get("data") == keys.data and runner.observe(
        lambda c: bool(list_objects(c.s3, test_split)), dry=lambda: False
    ):
        out(f"data: unchanged, reusing {names.s3_uri(config, config.raw_prefix)}/")
    else:
        splits = checked_splits(str(table), seed, 1, table_schema.config_schema(config))
        runner.observe(lambda c: check_bucket(c.s3, config.bucket), dry=lambda: None)
        assert runner.clients is not None
        s3 = runner.clients.s3
        uploads, uploaded = split_steps(config, s3, splits, folder, 1, out)

        def uploaded_data() -> None:
            table_schema.upload_schema(config, s3, out)
            for split, frame in splits.items():
                out(f"{split}: {len(frame)} rows, {', '.join(uploaded[split])}")
            record["data"] = keys.data
            _save(record_path, record)

        plan += [*uploads, do(uploaded_data)]
    prep = keys.job(name, "prep")
    if runner.observe(lambda c: _completed(runner, "processing", prep), dry=lambda: False):
        out(f"preprocess: unchanged, reusing {prep}")
    else:
        plan += jobs_run.preprocess_steps(runner, prep)  # with the schema, where the job reads it
    return plan


def _ask(runner: Runner, endpoint: str, row: str) -> str:
    assert runner.clients is not None
    _, body = endpoint_run.predict(
        runner.clients, endpoint, (row + "\n").encode(), "text/csv", "text/csv"
    )
    return body.decode("utf-8").strip()


def _serving(
    runner: Runner, record: dict[str, Any], endpoint: str, deployed: dict[str, str], row: str
) -> str | None:
    """The endpoint's answer to ``row`` when it already serves this model on this serving
    image (and still answers: containers do not outlive a restart of the engine); None when
    it must deploy."""
    if record.get("deployed") != deployed:
        return None
    try:
        return _ask(runner, endpoint, row)
    except Exception:  # gone or not answering: deploy again
        return None


def training_selection(s3: Any, config: LaunchConfig, job: str) -> dict[str, Any] | None:
    """The leaderboard the training job kept with its outputs: ``selection`` of the
    evaluation.json in its output.tar.gz (read in memory, nothing extracted); None when the
    job compared no families."""
    import io
    import tarfile

    uri = f"{names.training_output_uri(config)}{job}/output/output.tar.gz"
    bucket, key = split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and PurePosixPath(member.name).name == TRAINING_REPORT:
                file = tar.extractfile(member)
                assert file is not None
                selection = json.loads(file.read()).get("selection")
                return selection if isinstance(selection, dict) else None
    return None


def _report_path(config: LaunchConfig, state_root: Path, uri: str) -> str:
    """The report as a file a user can open, where --local keeps S3 in a folder."""
    if config.local_s3 != "folder":
        return uri
    bucket, key = split_s3_uri(uri)
    return str(state_root / "s3" / bucket / key)


def _save(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    tmp.replace(path)


def predict_command(outcome: Outcome) -> str:
    command = f"mpg-launch predict --local --endpoint {outcome.endpoint}"
    return f"echo {shlex.quote(outcome.row)} | {command}"
