"""A model whose raw inputs hold text (iris with a made-up ``garden`` category of strings and
missing values, tests/tables.py) at /invocations: text cells are read as text, numbers as
numbers, missing ones imputed, and the answers are the pipeline's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient

from mpg_core.artifact.reader import load_artifact, open_artifact
from mpg_core.dataset import read_table
from mpg_serving.app import create_app
from mpg_serving.settings import ServeSettings
from tests.helpers.jobs import preprocess, processing_root, run_train, training_tree
from tests.tables import TABLES

# The table's headers ("sepal length (cm)") as the kit reads them.
SEPAL_LENGTH, SEPAL_WIDTH, PETAL_LENGTH, PETAL_WIDTH = (
    f"{part}_(cm)" for part in ("sepal_length", "sepal_width", "petal_length", "petal_width")
)
COLUMNS = [SEPAL_LENGTH, SEPAL_WIDTH, PETAL_LENGTH, PETAL_WIDTH, "garden"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[FlaskClient, Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("iris-text")
    processed = processing_root(TABLES["iris"], root / "p")
    assert preprocess(processed) == 0
    trained = training_tree(root / "t", processed, {"n_estimators": "30"})
    result = run_train(trained)
    assert result.returncode == 0, result.stdout + result.stderr
    model_dir = trained / "model"
    settings = ServeSettings.from_env({"MPG_MODEL_DIR": str(model_dir)})
    client = create_app(open_artifact(model_dir), settings).test_client()
    test = read_table(processed / "processing/input/test/test.csv")
    assert open_artifact(model_dir).input_columns == tuple(COLUMNS)
    return client, model_dir, test


def test_csv_rows_with_text_answer_the_pipelines_labels(served) -> None:
    client, model_dir, test = served
    rows = test[COLUMNS].to_csv(header=False, index=False)
    assert ",," in rows or "kew" in rows  # text cells, and a missing one somewhere
    response = client.post("/invocations", data=rows, content_type="text/csv")
    assert response.status_code == 200, response.get_data(as_text=True)
    estimator = load_artifact(model_dir).estimator
    frame = test[COLUMNS].astype({"garden": object})
    expected = estimator.predict(frame.where(frame.notna(), np.nan))
    assert response.get_data(as_text=True).splitlines() == [str(v) for v in expected]


def test_json_objects_with_text_and_unseen_categories(served) -> None:
    client, _, _ = served
    records = [
        {
            "Sepal Length (cm)": 5.1,  # header spellings, as a table's
            SEPAL_WIDTH: 3.5,
            PETAL_LENGTH: 1.4,
            PETAL_WIDTH: 0.2,
            "garden": "kew",
        },
        {
            SEPAL_LENGTH: "6.7",
            SEPAL_WIDTH: None,
            PETAL_LENGTH: 5.2,
            PETAL_WIDTH: 2.3,
            "garden": "a garden never seen",
        },
    ]
    response = client.post(
        "/invocations", json={"instances": records}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    labels = [p["label"] for p in response.get_json()["predictions"]]
    assert labels == ["setosa", "virginica"]


@pytest.mark.parametrize(
    ("body", "content_type", "named"),
    [
        (
            "five,3.5,1.4,0.2,kew\n",
            "text/csv",
            "column sepal_length_(cm): 'five' is not a number",
        ),
        ("5.1,3.5,1.4,kew\n", "text/csv", "line 1: 4 values; expected 5"),
        (json.dumps({"sepal_length": 5.1}), "application/json", "missing key(s)"),
        ("[5.1, 3.5, 1.4, 0.2, true]\n", "application/jsonlines", "neither a number nor text"),
    ],
)
def test_bad_rows_are_a_400_naming_the_problem(
    served, body: str, content_type: str, named: str
) -> None:
    client, _, _ = served
    response = client.post("/invocations", data=body, content_type=content_type)
    assert response.status_code == 400
    assert named in response.get_json()["error"]


def test_the_model_with_text_inputs_is_served_by_the_compiled_walk(served) -> None:
    _, model_dir, _ = served
    opened = open_artifact(model_dir)
    assert opened.engine == "compiled"
    assert opened.input_levels[-1] == ("edinburgh", "kew", "wisley")
