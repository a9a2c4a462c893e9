"""Tables the kit does not ship through the real preprocessing and training images: the schema
as the processing input ``schema``, then ``train`` and ``evaluate``; no image is rebuilt."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mpg_core.artifact.files import MODEL_TARBALL, pack_model_tarball, read_manifest
from mpg_core.metrics import metric_definitions
from mpg_training.model_quality import CONFUSION_MATRIX_PLOT, REPORT_FILE
from tests.helpers.images import docker, run_evaluate, run_processing, run_training, start_serving
from tests.helpers.jobs import PNG_SIGNATURE, processing_root, training_tree
from tests.tables import TABLES

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(
    ("name", "key"),
    [("diabetes", "regression_metrics"), ("iris", "multiclass_classification_metrics")],
)
def test_preprocess_train_evaluate_in_the_images(
    images, tmp_path: Path, name: str, key: str
) -> None:
    table = TABLES[name]
    processed = processing_root(table, tmp_path / "p")
    (processed / "output").mkdir()
    result = run_processing(images, processed)
    assert result.returncode == 0, result.stdout + result.stderr

    root = training_tree(tmp_path / "t", processed, {"n_estimators": "40"})
    trained = run_training(images, root)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    task = table.task
    for definition in metric_definitions(task):
        assert len(re.findall(definition["Regex"], trained.stdout + trained.stderr)) == 1
    manifest = read_manifest(root / "model")
    assert manifest["task"] == task and manifest["schema"]["target"] == table.target

    evaluation = tmp_path / "e"
    inputs = evaluation / "processing" / "input"
    (inputs / "model").mkdir(parents=True)
    pack_model_tarball(root / "model", inputs / "model" / MODEL_TARBALL)
    shutil.copytree(processed / "processing/input/test", inputs / "test")
    evaluated = run_evaluate(images, evaluation)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    out = evaluation / "processing/output/evaluation"
    report = json.loads((out / REPORT_FILE).read_text())[key]
    # The image's report gives the test metric training printed for the same split.
    printed = json.loads((root / "output/data/evaluation.json").read_text())["metrics"]["test"]
    metric = "rmse" if task == "regression" else "accuracy"
    assert report[metric]["value"] == pytest.approx(printed[metric], abs=1e-6)
    if task == "classification":
        assert (out / CONFUSION_MATRIX_PLOT).read_bytes().startswith(PNG_SIGNATURE)
    served_from_the_table_file(images, root / "model", processed, table.target)


def served_from_the_table_file(images, model_dir: Path, processed: Path, target: str) -> None:
    """The serving image answers the test split's file as it stands (its header, the target
    beside the features, text categories) through the compiled walk, as the pipeline does."""
    import numpy as np
    import requests

    from mpg_core.artifact.reader import load_artifact
    from mpg_core.dataset import read_table
    from mpg_core.features import raw_features
    from mpg_core.table_schema import TableSchema

    started: list[str] = []
    try:
        port = start_serving(images, model_dir, started)
        body = (processed / "processing/input/test/test.csv").read_bytes()
        assert target in body.decode().splitlines()[0]  # the file's own header, target included
        response = requests.post(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        logs = docker("logs", started[0]).stdout + docker("logs", started[0]).stderr
        assert '"engine": "compiled"' in logs
    finally:
        for name in started:
            docker("rm", "-f", name)
    artifact = load_artifact(model_dir)
    schema = TableSchema.from_dict(read_manifest(model_dir)["schema"])
    rows = raw_features(read_table(processed / "processing/input/test/test.csv"), "t", schema)
    answers = response.json()["predictions"]
    if schema.is_classification:
        got = np.array([list(a["probabilities"].values()) for a in answers])
        expected = artifact.estimator.predict_proba(rows)
    else:
        got, expected = np.array(answers, dtype=float), artifact.estimator.predict(rows)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
