"""The Flask app in-process (test client) with each artifact kind the image serves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient

from mpg_core.artifact.reader import load_artifact, open_artifact
from mpg_core.schema import FEATURES
from mpg_serving.app import create_app
from mpg_serving.settings import ServeSettings
from tests.helpers.serving import BAD, ROW_OBJ

ROW = "8,307,130,3504,12,70,1"


def client_for(model_dir: Path, **env: str) -> FlaskClient:
    settings = ServeSettings.from_env({"MPG_MODEL_DIR": str(model_dir), **env})
    return create_app(open_artifact(model_dir), settings).test_client()


@pytest.fixture(scope="module")
def client(trained) -> FlaskClient:
    return client_for(trained.pipeline_dir)


def test_ping(client: FlaskClient) -> None:
    assert client.get("/ping").status_code == 200


def test_execution_parameters(client: FlaskClient) -> None:
    body = client.get("/execution-parameters").get_json()
    assert body["BatchStrategy"] == "MULTI_RECORD" and body["MaxPayloadInMB"] == 6


def test_csv_predictions_match_the_pipeline_row_for_row(client: FlaskClient, trained) -> None:
    test = pd.read_csv(trained.bronze / "test" / "test.csv")
    rows = test[list(FEATURES)].to_csv(header=False, index=False, na_rep="?")
    response = client.post("/invocations", data=rows, content_type="text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    got = np.array([float(x) for x in response.get_data(as_text=True).splitlines()])
    expected = load_artifact(trained.pipeline_dir).estimator.predict(test[list(FEATURES)])
    assert len(got) == len(test)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_rows_as_they_stand_in_the_table_file(client: FlaskClient, trained) -> None:
    """The table's own file: header first, its own column order, the target and the car's
    name beside the features; the answers are those of the headerless rows."""
    test = pd.read_csv(trained.bronze / "test" / "test.csv")
    assert {"mpg", "car_name"} <= set(test.columns)
    own = test[list(reversed(test.columns))].rename(columns=lambda c: c.replace("_", " ").title())
    response = client.post("/invocations", data=own.to_csv(index=False), content_type="text/csv")
    assert response.status_code == 200, response.get_data(as_text=True)
    plain = test[list(FEATURES)].to_csv(header=False, index=False, na_rep="?")
    expected = client.post("/invocations", data=plain, content_type="text/csv").get_data()
    assert response.get_data() == expected


def test_a_header_without_a_feature_is_a_400_naming_it(client: FlaskClient) -> None:
    header = ",".join(c for c in FEATURES if c != "weight")
    response = client.post(
        "/invocations", data=f"{header}\n8,307,130,12,70,1", content_type="text/csv"
    )
    assert response.status_code == 400
    assert "header without the model's column(s) ['weight']" in response.get_json()["error"]


def test_batch_mini_batches_of_one_file_are_read_in_its_header_layout(trained) -> None:
    """SplitType=Line, MultiRecord: only the first mini-batch holds the file's header; with
    MPG_CSV_HEADER every mini-batch is read in the file's layout, the header line skipped."""
    test = pd.read_csv(trained.bronze / "test" / "test.csv")
    own = test[["car_name", *reversed(FEATURES), "mpg"]]
    header = ",".join(own.columns)
    client = client_for(trained.pipeline_dir, SAGEMAKER_BATCH="true", MPG_CSV_HEADER=header)
    lines = own.to_csv(index=False, na_rep="?").splitlines()
    first, rest = "\n".join(lines[:20]), "\n".join(lines[20:])
    answers = [
        client.post("/invocations", data=body, content_type="text/csv").get_data(as_text=True)
        for body in (first, rest)
    ]
    plain = test[list(FEATURES)].to_csv(header=False, index=False, na_rep="?")
    expected = client_for(trained.pipeline_dir).post(
        "/invocations", data=plain, content_type="text/csv"
    )
    assert "\n".join(answers).splitlines() == expected.get_data(as_text=True).splitlines()
    assert len("\n".join(answers).splitlines()) == len(lines) - 1  # no answer for the header


def test_a_file_header_that_names_no_column_stops_the_server(trained) -> None:
    from mpg_core.errors import ConfigError

    with pytest.raises(ConfigError, match="MPG_CSV_HEADER"):
        client_for(trained.pipeline_dir, MPG_CSV_HEADER="a,b,c")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"instances": [[8, 307, 130, 3504, 12, 70, 1], ROW_OBJ]}), "application/json"),
        (json.dumps([ROW_OBJ, [8, 307, 130, 3504, 12, 70, 1]]), "application/json"),
        (
            json.dumps(ROW_OBJ) + "\n" + json.dumps([8, 307, 130, 3504, 12, 70, 1]) + "\n",
            "application/jsonlines",
        ),
        (f"{ROW}\r\n{ROW}\r\n", "text/csv; charset=utf-8"),
    ],
)
def test_formats_agree(client: FlaskClient, body: str, content_type: str) -> None:
    response = client.post(
        "/invocations", data=body, content_type=content_type, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    predictions = response.get_json()["predictions"]
    assert len(predictions) == 2 and predictions[0] == predictions[1]


# Keys as people write them: the article's words, any case, spaces, hyphens; extra keys ignored.
SPELT_OBJ = {
    " Cylinders": 8,
    "DISPLACEMENT": 307,
    "horse-power": 130,  # not horsepower: only separators and case are read loosely
    "Weight": 3504,
    "acceleration ": 12,
    "Model Year": 70,
    "origin": 1,
    "car name": "chevrolet chevelle malibu",
    "id": 17,
}


@pytest.mark.parametrize("content_type", ["application/json", "application/jsonlines"])
def test_object_keys_are_read_like_a_table_header(client: FlaskClient, content_type: str) -> None:
    spelt = {k: v for k, v in SPELT_OBJ.items() if k != "horse-power"} | {"HorsePower": 130}
    if content_type == "application/json":
        body = json.dumps({"instances": [ROW_OBJ, spelt]})
    else:
        body = json.dumps(ROW_OBJ) + "\n" + json.dumps(spelt) + "\n"
    response = client.post(
        "/invocations", data=body, content_type=content_type, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    expected = client.post("/invocations", data=ROW, content_type="text/csv").get_data(as_text=True)
    assert response.get_json()["predictions"] == [float(expected)] * 2
    # A spelling that changes more than separators and case is a different name: 400 naming it.
    wrong = client.post("/invocations", json=SPELT_OBJ)
    assert wrong.status_code == 400
    assert "record 0: missing key(s) ['horsepower']" in wrong.get_json()["error"]


def test_model_only_artifact_reads_feature_keys_the_same_way(trained) -> None:
    c = client_for(trained.model_dir)
    features = pd.read_csv(trained.features / "test" / "test.csv").drop(columns=["mpg"]).head(3)
    rows = features.to_csv(header=False, index=False)
    expected = c.post("/invocations", data=rows, content_type="text/csv").get_data(as_text=True)
    objects = [
        {k.upper().replace("_", " "): v for k, v in r.items()} for r in features.to_dict("records")
    ]
    response = c.post("/invocations", json=objects, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_data(as_text=True) == expected


def test_single_json_row(client: FlaskClient) -> None:
    response = client.post("/invocations", json=[8, 307, 130, 3504, 12, 70, 1])
    assert len(response.get_json()["predictions"]) == 1


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, "text/csv"),
        ("*/*", "text/csv"),
        ("application/jsonlines", "application/jsonlines"),
        ("text/html, application/json;q=0.9", "application/json"),
    ],
)
def test_accept_negotiation(client: FlaskClient, accept: str | None, mimetype: str) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.post(
        "/invocations", data=f"{ROW}\n{ROW}", content_type="text/csv", headers=headers
    )
    assert response.status_code == 200 and response.mimetype == mimetype
    if mimetype == "application/jsonlines":
        lines = response.get_data(as_text=True).splitlines()
        assert len(lines) == 2 and "prediction" in json.loads(lines[0])


def test_default_accept_from_environment(trained) -> None:
    c = client_for(trained.pipeline_dir, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="application/json")
    response = c.post("/invocations", data=ROW, content_type="text/csv")
    assert response.mimetype == "application/json"


def test_missing_values_are_imputed_for_raw_rows(client: FlaskClient) -> None:
    response = client.post(
        "/invocations", data="4,97,,2130,14.5,70,3\n4,97,?,2130,14.5,70,3", content_type="text/csv"
    )
    assert response.status_code == 200
    a, b = response.get_data(as_text=True).split()
    assert a == b


def test_unknown_category_does_not_fail(client: FlaskClient) -> None:
    response = client.post("/invocations", data="10,97,88,2130,14.5,70,9", content_type="text/csv")
    assert response.status_code == 200


@pytest.mark.parametrize(("body", "content_type", "status", "message"), BAD)
def test_bad_requests_get_a_4xx_naming_the_problem(
    client: FlaskClient,
    body: str | bytes,
    content_type: str | None,
    status: int,
    message: str | None,
) -> None:
    response = client.post("/invocations", data=body, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)
    if message is not None:
        assert response.mimetype == "application/json"
        assert message in response.get_json()["error"]


def test_unsupported_accept_is_406(client: FlaskClient) -> None:
    response = client.post(
        "/invocations", data=ROW, content_type="text/csv", headers={"Accept": "image/png"}
    )
    assert response.status_code == 406
    assert "supported: text/csv" in response.get_json()["error"]


def test_body_over_the_limit_is_413(trained) -> None:
    c = client_for(trained.pipeline_dir, SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    body = (ROW + "\n") * (1024 * 1024 // len(ROW) + 10)
    response = c.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 413
    assert "larger than 1 MiB" in response.get_json()["error"]
    ok = c.post("/invocations", data=(ROW + "\n") * 1000, content_type="text/csv")
    assert ok.status_code == 200


def test_model_only_artifact_takes_features(trained) -> None:
    c = client_for(trained.model_dir)
    features = pd.read_csv(trained.features / "test" / "test.csv").drop(columns=["mpg"])
    body = features.head(5).to_csv(header=False, index=False)
    response = c.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 200
    assert len(response.get_data(as_text=True).splitlines()) == 5
    # Raw rows have the wrong width for a model-only artifact.
    bad = c.post("/invocations", data=ROW, content_type="text/csv")
    assert bad.status_code == 400 and f"expected {features.shape[1]}" in bad.get_json()["error"]
    # Features may not be missing: nothing imputes them.
    gap = ",".join(["1"] * (features.shape[1] - 1) + [""])
    assert c.post("/invocations", data=gap, content_type="text/csv").status_code == 400


@pytest.mark.parametrize("accept", ["text/csv", "application/json", "application/jsonlines"])
def test_inference_pipeline_preprocessor_then_model(trained, accept: str) -> None:
    """The two containers of a SageMaker inference pipeline: the preprocessor's answer, in any
    format, is a valid request for the model, and the chain equals the one-container pipeline."""
    pre, model, whole = (
        client_for(trained.preprocessor_dir),
        client_for(trained.model_dir),
        client_for(trained.pipeline_dir),
    )
    rows = "\n".join([ROW, "4,97,?,2130,14.5,70,3", "10,97,88,2130,14.5,70,9"])
    step1 = pre.post("/invocations", data=rows, content_type="text/csv", headers={"Accept": accept})
    assert step1.status_code == 200 and step1.mimetype == accept
    step2 = model.post(
        "/invocations",
        data=step1.get_data(),
        content_type=step1.content_type,
        headers={"Accept": "text/csv"},
    )
    assert step2.status_code == 200, step2.get_data(as_text=True)
    chained = [float(x) for x in step2.get_data(as_text=True).split()]
    direct_model = load_artifact(trained.model_dir).estimator
    pre_rows = list(
        csv.reader(
            pre.post(
                "/invocations", data=rows, content_type="text/csv", headers={"Accept": "text/csv"}
            )
            .get_data(as_text=True)
            .splitlines()
        )
    )
    expected = direct_model.predict(np.array(pre_rows, dtype=float))
    np.testing.assert_allclose(chained, expected, rtol=1e-12)
    assert len(chained) == 3
    assert whole.post("/invocations", data=rows, content_type="text/csv").status_code == 200


@pytest.mark.parametrize("accept", ["text/csv", "application/jsonlines", "application/json"])
def test_transform_answers_leave_the_last_line_open(trained, accept: str) -> None:
    """Told SAGEMAKER_BATCH=true, the answer is the real-time one less its final newline, so
    AssembleWith=Line (a newline after every answer) gives exactly one line per record."""
    body = f"{ROW}\n{ROW}\n{ROW}\n"
    real_time = client_for(trained.pipeline_dir).post(
        "/invocations", data=body, content_type="text/csv", headers={"Accept": accept}
    )
    batch = client_for(trained.pipeline_dir, SAGEMAKER_BATCH="True").post(
        "/invocations", data=body, content_type="text/csv", headers={"Accept": accept}
    )
    assert real_time.status_code == batch.status_code == 200
    online, offline = real_time.get_data(), batch.get_data()
    assert offline == (online[:-1] if accept != "application/json" else online)
    assert (offline + b"\n").count(b"\n") == (3 if accept != "application/json" else 1)
