"""A classification table (iris, string labels) through the three images, unchanged, under the
SageMaker Python SDK v2's local mode: the schema ``mpg-launch init`` writes goes in as one more
ProcessingInput, the training job finds the task in what preprocessing wrote, and the endpoint
answers labels (CSV) and every class's probability (JSON). The local mode plumbing (moto for the
one S3 call, labelled containers, free serving ports) is test_sdk_local_mode.py's."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mpg_core.artifact.files import ARTIFACT_FILE, unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.dataset import read_table
from mpg_launch.cli.main import main
from mpg_launch.table.data import table_splits
from mpg_launch.table.schema import load_checked_schema
from tests.helpers.sdk_local_mode import (
    BUCKET,
    ROLE,
    SPLITS,
    LocalMode,
    copy_model,
    processing_channels,
)
from tests.tables import write_table

pytestmark = [
    pytest.mark.docker,
    pytest.mark.aws,
    pytest.mark.timeout(400),
    pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning"),
]
CLASSES = ["setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris CSV, its schema from ``init``, and the launcher's stratified splits."""
    root = tmp_path_factory.mktemp("iris")
    table, target = write_table("iris", root)
    schema = root / "schema" / "iris.toml"
    argv = ["init", "--table", str(table), "--target", target, "--out", str(schema)]
    assert main(argv, out=lambda line: None) == 0
    for name, frame in table_splits(str(table), load_checked_schema(schema)).items():
        (root / "bronze" / name).mkdir(parents=True)
        frame.to_csv(root / "bronze" / name / f"{name}.csv", index=False)
    return root


@pytest.fixture(scope="module")
def trained_model(
    local_mode: LocalMode,
    images: dict[str, str],
    iris: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Processing (with the schema input), then training, both by the SDK; model.tar.gz."""
    from sagemaker.estimator import Estimator
    from sagemaker.processing import Processor

    processor = Processor(
        image_uri=images["preprocessing"],
        entrypoint=["preprocess"],
        role=ROLE,
        instance_count=1,
        instance_type="local",
        sagemaker_session=local_mode.session("processing"),
    )
    sources = {split: iris / "bronze" / split for split in SPLITS} | {"schema": iris / "schema"}
    with local_mode.explained("processing"):
        processor.run(
            **processing_channels(sources, f"s3://{BUCKET}/iris"),
            wait=True,
            logs=False,
        )
    processed = tmp_path_factory.mktemp("iris-processed")
    local_mode.session("download").download_data(str(processed), BUCKET, key_prefix="iris/")

    output = tmp_path_factory.mktemp("iris-training")
    estimator = Estimator(
        image_uri=images["training"],
        role=ROLE,
        instance_count=1,
        instance_type="local",
        output_path=f"file://{output}",
        hyperparameters={"n_estimators": "30"},
        sagemaker_session=local_mode.session("training"),
    )
    channels = {split: processed / "features" / split for split in SPLITS}
    channels["preprocessor"] = processed / "preprocessor"
    with local_mode.explained("training"):
        estimator.fit(
            {c: f"file://{folder}" for c, folder in channels.items()}, wait=True, logs="None"
        )
    return output / "model.tar.gz"


def test_the_model_records_its_task_and_classes(trained_model: Path) -> None:
    with tarfile.open(trained_model, "r:gz") as tar:
        manifest_file = tar.extractfile(ARTIFACT_FILE)
        assert manifest_file is not None
        manifest = json.load(manifest_file)
    assert (manifest["kind"], manifest["task"], manifest["classes"]) == (
        "pipeline",
        "classification",
        CLASSES,
    )


@pytest.fixture(scope="module")
def predictor(
    local_mode: LocalMode,
    images: dict[str, str],
    trained_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor

    model = Model(
        image_uri=images["serving"],
        role=ROLE,
        predictor_cls=Predictor,
        model_data=copy_model(trained_model, tmp_path_factory.mktemp("iris-endpoint") / "model"),
        sagemaker_session=local_mode.session("endpoint"),
    )
    with local_mode.explained("endpoint"):
        predictor = model.deploy(initial_instance_count=1, instance_type="local", wait=False)
    try:
        yield predictor
    finally:
        predictor.delete_endpoint()
        model.delete_model()


def test_the_endpoint_answers_labels_and_probabilities(
    predictor: Any, trained_model: Path, iris: Path, tmp_path: Path
) -> None:
    test = read_table(iris / "bronze" / "test" / "test.csv")
    features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    body = test[features].to_csv(header=False, index=False)
    artifact = load_artifact(unpack_model_tarball(trained_model, tmp_path / "model"))
    expected = artifact.estimator.predict_proba(
        pd.DataFrame(test[features].to_numpy(float), columns=features)
    )
    labels = np.asarray(CLASSES)[np.argmax(expected, axis=1)].tolist()

    answer = predictor.predict(body, initial_args={"ContentType": "text/csv", "Accept": "text/csv"})
    assert answer.decode().splitlines() == labels

    answer = predictor.predict(
        body, initial_args={"ContentType": "text/csv", "Accept": "application/json"}
    )
    records = json.loads(answer)["predictions"]
    assert [r["label"] for r in records] == labels
    got = np.array([[r["probabilities"][c] for c in CLASSES] for r in records])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # Iris is easy: most test flowers get their own species.
    assert np.mean(np.array(labels) == test["species"].to_numpy()) > 0.8
