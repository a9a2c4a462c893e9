"""A classifier's answers at /invocations (Flask test client): labels for CSV, label and every
class's probability for JSON and JSON Lines, on iris with string and with integer labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from mpg_core.artifact.files import Artifact, read_manifest, write_manifest
from mpg_core.artifact.reader import open_artifact
from mpg_core.artifact.writer import write_artifact
from mpg_core.errors import ConfigError
from mpg_serving.app import create_app
from mpg_serving.settings import ServeSettings

COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def _iris(labels: str) -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()
    x = np.asarray(data.data, dtype=np.float64)
    if labels == "strings":
        return x, np.asarray(data.target_names)[data.target]
    return x, data.target + 3  # integers that are not column indexes: 3, 4, 5


def write_classifier(directory: Path, labels: str) -> tuple[RandomForestClassifier, np.ndarray]:
    """A fitted iris forest written as a model artifact with task and classes, as the training
    job writes one; returns it and the rows it was fit on."""
    x, y = _iris(labels)
    forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(x, y)
    classes = [c.item() for c in forest.classes_]  # numpy scalars -> JSON strings or ints
    write_artifact(
        directory,
        Artifact(
            "model", forest, COLUMNS, ("label",), {"task": "classification", "classes": classes}
        ),
        sample_rows=x,
    )
    return forest, x


def client_for(model_dir: Path) -> FlaskClient:
    settings = ServeSettings.from_env({"MPG_MODEL_DIR": str(model_dir)})
    return create_app(open_artifact(model_dir), settings).test_client()


@pytest.fixture(scope="module", params=["strings", "integers"])
def classifier(request, tmp_path_factory) -> tuple[FlaskClient, RandomForestClassifier, np.ndarray]:
    directory = tmp_path_factory.mktemp(f"iris-{request.param}")
    forest, x = write_classifier(directory, request.param)
    return client_for(directory), forest, x


def _csv(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def test_csv_answers_one_label_per_line(classifier) -> None:
    client, forest, x = classifier
    response = client.post("/invocations", data=_csv(x), content_type="text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines == [str(label) for label in forest.predict(x)]


@pytest.mark.parametrize("accept", ["application/json", "application/jsonlines"])
def test_json_answers_the_label_and_every_class_probability(classifier, accept: str) -> None:
    client, forest, x = classifier
    response = client.post(
        "/invocations", data=_csv(x), content_type="text/csv", headers={"Accept": accept}
    )
    assert response.status_code == 200 and response.mimetype == accept
    text = response.get_data(as_text=True)
    if accept == "application/json":
        records = json.loads(text)["predictions"]
    else:
        assert text.endswith("\n")
        records = [json.loads(line) for line in text.splitlines()]
    classes = [c.item() for c in forest.classes_]
    assert [r["label"] for r in records] == [c.item() for c in forest.predict(x)]
    assert all(list(r["probabilities"]) == [str(c) for c in classes] for r in records)
    got = np.array([[r["probabilities"][str(c)] for c in classes] for r in records])
    np.testing.assert_allclose(got, forest.predict_proba(x), rtol=0, atol=1e-12)


def test_one_json_record_answers_one_prediction(classifier) -> None:
    client, forest, x = classifier
    record = dict(zip(COLUMNS, x[0].tolist(), strict=True))
    response = client.post("/invocations", json=record, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    (answer,) = response.get_json()["predictions"]
    assert answer["label"] == forest.predict(x[:1])[0].item()
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)


def test_labels_of_an_integer_classifier_stay_integers(tmp_path: Path) -> None:
    write_classifier(tmp_path, "integers")
    response = client_for(tmp_path).post(
        "/invocations",
        data="5.1,3.5,1.4,0.2\n",
        content_type="text/csv",
        headers={"Accept": "application/jsonlines"},
    )
    record = json.loads(response.get_data(as_text=True))
    assert record["label"] == 3 and set(record["probabilities"]) == {"3", "4", "5"}


def test_a_tie_answers_the_first_class_as_scikit_learn_does() -> None:
    from mpg_serving.answers import ClassAnswers

    answers = ClassAnswers(["b", "a", "c"])
    tied = np.array([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4]])
    assert answers.encode(tied, "text/csv") == b"b\na\n"


def test_labels_that_need_quoting_are_quoted_as_csv() -> None:
    from mpg_serving.answers import ClassAnswers

    answers = ClassAnswers(["a,b", 'say "hi"', "plain"])
    body = answers.encode(np.eye(3), "text/csv")
    assert body == b'"a,b"\n"say ""hi"""\nplain\n'


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"classes": None}, "needs 'classes'"),
        ({"classes": ["only"]}, "needs 'classes'"),
        ({"classes": [1, "1"]}, "needs 'classes'"),
        ({"task": "ranking"}, "'ranking'"),
    ],
)
def test_a_classifier_manifest_without_usable_classes_is_refused(
    tmp_path: Path, change: dict, named: str
) -> None:
    write_classifier(tmp_path, "strings")
    manifest = read_manifest(tmp_path)
    write_manifest(tmp_path, {**manifest, **change})
    with pytest.raises(ConfigError, match=named):
        client_for(tmp_path)


def test_execution_parameters_are_the_regressors(classifier) -> None:
    client, _, _ = classifier
    body = client.get("/execution-parameters").get_json()
    assert body == {
        "MaxConcurrentTransforms": body["MaxConcurrentTransforms"],
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }
