"""``mpg-launch quickstart`` as a new user runs it: a CSV and its target, no mock server, no
AWS variable, no credentials (any AWS call would fail with NoCredentialsError), the real
images on the real engine. Two tables side by side (diabetes: regression with a text column
and missing values; breast cancer: binary with string labels); each endpoint's answers on the
test split reproduce the metric the evaluation reported, a rerun reuses every step, the
printed predict command works as printed, and ``data`` finds the remembered schema."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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
    assert any(line.startswith("test rmse = ") for line in first)
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

    for endpoint in ("diabetes", "breast-cancer"):
        _run("delete", "--local", "--endpoint", endpoint)
    assert containers_of(state) == []
