"""``mpg-launch quickstart`` as a new user runs it: a CSV and its target, no mock server, no
AWS variable, no credentials (any AWS call would fail with NoCredentialsError), the real
images on the real engine. Two tables side by side (diabetes: regression with a text column
and missing values; breast cancer: binary with string labels); each endpoint's answers on the
test split reproduce the metric the evaluation reported, a rerun reuses every step and prints
the same summary (leaderboard and test metrics, kept with the run's outputs), the printed
predict command works as printed, and ``data`` finds the remembered schema. A training image
rebuilt under the same tag trains again."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpg_core.table_schema import load_schema
from mpg_launch.cli.main import main
from tests.helpers.common import IMAGE_TAG
from tests.helpers.launch import containers_of
from tests.tables import TABLES

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No AWS or MPG variable but the images' tag and a state folder; no AWS config files."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "MPG_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("MPG_LOCAL_IMAGE_TAG", IMAGE_TAG)
    state = tmp_path / "state"
    monkeypatch.setenv("MPG_LOCAL_STATE_DIR", str(state))
    yield state
    for name in containers_of(state):  # only what this test started
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def _run(*argv: str) -> list[str]:
    lines: list[str] = []
    code = main([*argv, "--poll-seconds", "0.2"], out=lines.append)
    assert code == 0, lines[-30:]
    return lines


def _printed(lines: list[str], label: str) -> str:
    (found,) = [line.removeprefix(label) for line in lines if line.startswith(label)]
    return found


def _summary(lines: list[str]) -> list[str]:
    """What quickstart prints after its steps: the leaderboard, the test metrics, the report."""
    start = len(lines) - lines[::-1].index("")
    end = next(i for i, line in enumerate(lines) if line.startswith("report: "))
    return lines[start : end + 1]


def _answers(endpoint: str, rows: Path) -> list[str]:
    lines = _run("predict", "--local", "--endpoint", endpoint, "--file", str(rows))
    return "\n".join(lines).split()


def _check_against_the_report(
    state: Path, tmp_path: Path, name: str, lines: list[str]
) -> dict[str, float]:
    """The endpoint's answers on the test split give the test metric the report holds."""
    report_path = Path(_printed(lines, "report: "))
    assert report_path.is_relative_to(state / "s3")  # a file, in the browsable bucket tree
    report = json.loads(report_path.read_text())
    schema = load_schema(state / "tables" / name / "schema.toml")
    (test_file,) = (state / "s3" / "mpg-local" / "mpg" / name).rglob("bronze/test/*.csv")
    test = pd.read_csv(test_file)
    rows = tmp_path / f"{name}-test.csv"
    test[list(schema.feature_columns)].to_csv(rows, index=False, header=False)
    answers = _answers(name, rows)
    assert len(answers) == len(test)
    if schema.is_classification:
        accuracy = float(np.mean(np.asarray(answers) == test[schema.target].astype(str)))
        reported = report["binary_classification_metrics"]["accuracy"]["value"]
        assert accuracy == pytest.approx(reported, abs=1e-9)
        return {"accuracy": accuracy}
    predicted = np.asarray(answers, dtype=float)
    rmse = float(np.sqrt(np.mean((predicted - test[schema.target].to_numpy()) ** 2)))
    # The endpoint's CSV answers are rounded; the report's RMSE is of the unrounded values.
    assert rmse == pytest.approx(report["regression_metrics"]["rmse"]["value"], abs=0.01)
    return {"rmse": rmse}


def test_two_tables_from_csv_to_local_endpoints_with_nothing_else_started(
    offline: Path, tmp_path: Path
) -> None:
    state = offline
    diabetes = TABLES["diabetes"].write(tmp_path)
    cancer = TABLES["breast_cancer"].write(tmp_path)

    first = _run("quickstart", "--table", str(diabetes), "--target", "progression")
    assert 'task = "regression"' in "\n".join(first)  # what it inferred, shown
    assert any(line.startswith("test rmse = ") for line in _summary(first))
    # The leaderboard in the summary is the one the training job logged (the fit seconds and
    # µs per row are kept rounded: the models, their metrics and the choice are compared).
    board = [line for line in _summary(first) if not line.startswith(("test ", "report: "))]
    start = next(i for i, line in enumerate(first) if line.startswith("leaderboard (chosen"))
    logged = first[start : start + len(board)]
    assert board[0].startswith("leaderboard (chosen by rmse") and len(board) >= 4
    assert [(line[:56], line.endswith(" *")) for line in board] == [
        (line[:56], line.endswith(" *")) for line in logged
    ]
    regression = _check_against_the_report(state, tmp_path, "diabetes", first)
    assert 40 < regression["rmse"] < 70

    second = _run("quickstart", "--table", str(cancer), "--target", "diagnosis")
    assert 'task = "classification"' in "\n".join(second)
    classification = _check_against_the_report(state, tmp_path, "breast-cancer", second)
    assert classification["accuracy"] > 0.9
    # Side by side: the first table's endpoint still answers as it did.
    assert _check_against_the_report(state, tmp_path, "diabetes", first) == regression

    # Run again: every step is reused, and the endpoint answers the same row the same way.
    again = _run("quickstart", "--table", str(diabetes), "--target", "progression")
    for step in ("data", "preprocess", "train", "evaluate", "deploy"):
        assert any(line.startswith(f"{step}: unchanged") for line in again), (step, again)
    assert _printed(again, "predict: ") == _printed(first, "predict: ")
    assert _summary(again) == _summary(first)  # leaderboard included, though nothing trained
    steps = again[: len(again) - again[::-1].index("")]  # what came before the summary
    assert not any(line.startswith("leaderboard") for line in steps)  # no training log

    # The printed command, as printed, in a shell.
    command = _printed(again, "predict: ")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answer = re.search(r"answers (\S+) for", "\n".join(again))
    assert answer and done.stdout.strip() == answer.group(1)

    # The step-by-step commands stay, and need no --schema for a remembered table.
    data = _run("data", "--local", "--source", str(cancer))
    assert f"schema: {state / 'tables' / 'breast-cancer' / 'schema.toml'}" in data[0]
    # ... in the table's own prefix and endpoint: predict --table asks quickstart's endpoint.
    rows = tmp_path / "one-row.csv"
    rows.write_text(shlex.split(_printed(again, "predict: "))[1] + "\n")
    asked = _run("predict", "--local", "--table", str(diabetes), "--file", str(rows))
    assert asked[-1] == answer.group(1)

    # transform on rows as they stand in a file of the user's: its header line, the columns in
    # another order, cut into several mini-batches of which only the first holds the header.
    bucket = state / "s3" / "mpg-local"
    (test_file,) = (bucket / "mpg" / "diabetes").rglob("bronze/test/*.csv")
    test = pd.read_csv(test_file)
    own = pd.concat([test[list(reversed(test.columns))]] * 400, ignore_index=True)
    (bucket / "mpg" / "diabetes" / "own-rows").mkdir()
    own.to_csv(bucket / "mpg" / "diabetes" / "own-rows" / "rows.csv", index=False)
    assert (bucket / "mpg" / "diabetes" / "own-rows" / "rows.csv").stat().st_size > 1024**2
    argv = ["--endpoint", "diabetes", "--input", "s3://mpg-local/mpg/diabetes/own-rows/"]
    done = _run("transform", "--local", "--table", str(diabetes), *argv, "--max-payload-mb", "1")
    assert "given to the container: MPG_CSV_HEADER" in "\n".join(done)
    output = _printed(done, "output: ").removeprefix("s3://mpg-local/")
    answers = (bucket / output / "rows.csv.out").read_text().split()
    # The same answers as the endpoint's for the test rows in the model's order, headerless
    # (_check_against_the_report wrote them).
    assert answers == _answers("diabetes", tmp_path / "diabetes-test.csv") * 400

    for endpoint in ("diabetes", "breast-cancer"):
        _run("delete", "--local", "--endpoint", endpoint)
    assert containers_of(state) == []


def _docker(*argv: str) -> str:
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def own_tag(offline: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The three images under a tag of this test's own (same IDs), so it can rebuild one
    without touching anyone else's; the tags are removed after."""
    tag = f"qs-{uuid.uuid4().hex[:8]}"
    for image in ("preprocessing", "training", "serving"):
        _docker("tag", f"mpg-{image}:{IMAGE_TAG}", f"mpg-{image}:{tag}")
    monkeypatch.setenv("MPG_LOCAL_IMAGE_TAG", tag)
    yield tag
    for name in containers_of(offline):  # the endpoint, before its image's tag goes
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    for image in ("preprocessing", "training", "serving"):
        subprocess.run(["docker", "rmi", f"mpg-{image}:{tag}"], capture_output=True, check=False)


def test_a_rebuilt_training_image_trains_again_and_a_rerun_prints_the_same_summary(
    offline: Path, own_tag: str, tmp_path: Path
) -> None:
    iris = TABLES["iris"].write(tmp_path)
    argv = ("quickstart", "--table", str(iris), "--target", "species")
    first = _run(*argv)
    again = _run(*argv)
    assert _summary(again) == _summary(first)
    assert _summary(first)[0].startswith("leaderboard (chosen by log_loss")
    assert any(line.startswith("train: unchanged") for line in again)

    # The same tag, another image: as `make images` leaves a rebuilt training image.
    training = f"mpg-training:{own_tag}"
    before = _docker("image", "inspect", "--format", "{{.Id}}", training)
    container = f"qs-rebuild-{uuid.uuid4().hex[:8]}"
    _docker("create", "--name", container, training)
    try:
        _docker("commit", "--change", "LABEL mpg.test=rebuilt", container, training)
    finally:
        _docker("rm", container)
    assert _docker("image", "inspect", "--format", "{{.Id}}", training) != before

    rebuilt = _run(*argv)
    for step in ("data", "preprocess"):  # their images did not change
        assert any(line.startswith(f"{step}: unchanged") for line in rebuilt), step
    for step in ("train", "evaluate", "deploy"):
        assert not any(line.startswith(f"{step}: unchanged") for line in rebuilt), step
    assert _printed(rebuilt, "report: ") != _printed(first, "report: ")  # a new evaluation
    assert _summary(_run(*argv)) == _summary(rebuilt)  # and reused from here on
    _run("delete", "--local", "--table", str(iris))
    assert containers_of(offline) == []
