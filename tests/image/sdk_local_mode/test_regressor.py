"""The three images, unchanged, under the SageMaker Python SDK v2's local mode
(``instance_type="local"``), which is what many users try first.

The SDK drives them with its own docker-compose files: a processing job (``Processor``), a
training job (``Estimator.fit``), a real-time endpoint (``Model.deploy`` + ``Predictor``) and a
batch transform (``Model.transformer``). Predictions are checked against the trained artifact
loaded in-process, so the endpoint is known to serve the model the SDK's training job wrote.

Local mode needs no AWS account, but SDK v2 still talks to S3 in one place: ``Processor`` uploads
every input that is not an ``s3://`` URI to the session's default bucket, and replaces every
output destination that is not an ``s3://`` URI with one in that bucket
(``sagemaker/processing.py``, ``Processor._normalize_inputs`` / ``_normalize_outputs``:
``if parse_result.scheme != "s3": ... default_bucket()``). That S3 is a real moto server on
127.0.0.1. The bucket is named explicitly: for an SDK-chosen name, ``Session.default_bucket``
asks STS for the account id at a hard-coded regional endpoint (``Session.account_id``:
``endpoint_url=sts_regional_endpoint(region)``), which ``AWS_ENDPOINT_URL`` cannot redirect.
Training, serving and transform use ``file://`` paths and make no AWS calls.

Each session gets its own free serving port (``local.serving_port``; the SDK publishes
``<port>:8080`` and polls ``/ping`` there), and a label on every container it starts
(``local.container_config``), so teardown removes exactly those containers even when the SDK
did not stop them (local transform stops its container only on success).
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from mpg_core.artifact.files import ARTIFACT_FILE, ESTIMATOR_FILE, unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.metrics import metric_definitions
from mpg_core.schema import FEATURES
from tests.helpers.common import Trained
from tests.helpers.sdk_local_mode import (
    BUCKET,
    ROLE,
    SPLITS,
    LocalMode,
    copy_model,
    processing_channels,
)

if TYPE_CHECKING:
    pass

# The SDK is imported inside fixtures and tests, not here: importing it takes seconds (which
# `pytest -m "not docker"` would pay at collection) and warns about v2's deprecation unless
# SAGEMAKER_SUPPRESS_V2_WARNING is set first, which the `aws_env` fixture does.

pytestmark = [
    pytest.mark.docker,
    pytest.mark.aws,
    pytest.mark.timeout(300),
    # Raised while compiling the SDK's dependencies (sagemaker_core, smdebug_rulesconfig).
    pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning"),
]

# Strings, as SageMaker passes them (typed for Estimator's dict[str, str | PipelineVariable]).
# The random forest, named: the test reads its parameters back from the pickled estimator.
FOREST_PARAMETERS: dict[str, Any] = {"n_estimators": "30", "max_depth": "8"}
HYPERPARAMETERS: dict[str, Any] = {"algorithm": "random_forest", **FOREST_PARAMETERS}


def _tar_names(path: Path) -> set[str]:
    with tarfile.open(path, "r:gz") as tar:
        return {member.name for member in tar.getmembers()}


def _assert_model_tarball(path: Path) -> None:
    """An artifact's files at the top level, as SageMaker extracts model.tar.gz into
    /opt/ml/model (no folder, no "./" prefix)."""
    names = _tar_names(path)
    assert {ESTIMATOR_FILE, ARTIFACT_FILE} <= names, f"{path.name} holds {sorted(names)}"
    assert all("/" not in name for name in names), f"{path.name} holds {sorted(names)}"


def _raw_rows(trained: Trained) -> pd.DataFrame:
    """The test split's raw feature columns, in the endpoint's documented order."""
    frame = pd.read_csv(trained.bronze / "test" / "test.csv")
    return frame[list(FEATURES)]


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folders``: size and modification time."""
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted(folder.rglob("*"))
    }


@dataclass(frozen=True)
class TrainingRun:
    model_tarball: Path
    output_tarball: Path
    logs: str
    forest: dict[str, Any]  # the trained random forest's parameters
    expected: np.ndarray  # the artifact's predictions for the test split's raw rows
    channels_untouched: bool


def test_processing_job_writes_features_and_preprocessor(
    local_mode: LocalMode,
    images: dict[str, str],
    trained: Trained,
    tmp_path: Path,
) -> None:
    from sagemaker.processing import Processor

    session = local_mode.session("processing")
    # Local processing runs no command, only `entrypoint: ContainerEntrypoint +
    # ContainerArguments` (sagemaker/local/image.py, _create_docker_host: `if command !=
    # "process" ...`), so the entrypoint is given. The image's defaults are SageMaker's paths.
    processor = Processor(
        image_uri=images["preprocessing"],
        entrypoint=["preprocess"],
        role=ROLE,
        instance_count=1,
        instance_type="local",
        sagemaker_session=session,
    )
    sources = {split: trained.bronze / split for split in SPLITS}
    processor.run(
        **processing_channels(sources, f"s3://{BUCKET}/processing"),
        wait=True,
        logs=True,
    )

    assert processor.latest_job is not None
    assert processor.latest_job.describe()["ProcessingJobStatus"] == "Completed"
    assert "Traceback" not in local_mode.logs("processing")
    session.download_data(str(tmp_path), BUCKET, key_prefix="processing/")
    for split in SPLITS:
        written = tmp_path / "features" / split / f"{split}.csv"
        assert written.is_file(), f"no {written.relative_to(tmp_path)} in the job's outputs"
        # The same code on the same lock: the in-process run's features.
        pd.testing.assert_frame_equal(
            pd.read_csv(written), pd.read_csv(trained.features / split / f"{split}.csv"), rtol=1e-12
        )
    preprocessor = tmp_path / "preprocessor" / "model.tar.gz"
    _assert_model_tarball(preprocessor)


@pytest.fixture(scope="module")
def training_run(
    local_mode: LocalMode,
    images: dict[str, str],
    trained: Trained,
    tmp_path_factory: pytest.TempPathFactory,
) -> TrainingRun:
    """A local training job on the in-process features and preprocessor."""
    from sagemaker.estimator import Estimator

    output = tmp_path_factory.mktemp("sdk-training")
    estimator = Estimator(
        image_uri=images["training"],
        role=ROLE,
        instance_count=1,
        instance_type="local",
        output_path=f"file://{output}",
        hyperparameters=HYPERPARAMETERS,
        sagemaker_session=local_mode.session("training"),
    )
    folders = {split: trained.features / split for split in SPLITS}
    folders["preprocessor"] = trained.preprocessor_tarball.parent  # holds model.tar.gz
    # Local mode bind-mounts file:// channels read-write: the job must not write into them.
    before = _snapshot(*folders.values())
    estimator.fit(
        {channel: f"file://{folder}" for channel, folder in folders.items()},
        wait=True,
        logs="All",
    )

    assert estimator.model_data == f"file://{output}/model.tar.gz"
    model_tarball = output / "model.tar.gz"
    artifact = load_artifact(unpack_model_tarball(model_tarball, output / "unpacked"))
    rows = _raw_rows(trained).to_numpy(dtype=np.float64)
    expected = np.asarray(artifact.estimator.predict(pd.DataFrame(rows, columns=list(FEATURES))))
    return TrainingRun(
        model_tarball=model_tarball,
        output_tarball=output / "output.tar.gz",
        logs=local_mode.logs("training"),
        forest=artifact.estimator.steps[-1][1].get_params(),
        expected=expected,
        channels_untouched=_snapshot(*folders.values()) == before,
    )


def test_training_job_writes_model_tarball_and_metrics(training_run: TrainingRun) -> None:
    _assert_model_tarball(training_run.model_tarball)
    with tarfile.open(training_run.model_tarball, "r:gz") as tar:
        manifest = tar.extractfile(ARTIFACT_FILE)
        assert manifest is not None
        assert json.load(manifest)["kind"] == "pipeline"
    assert "data/evaluation.json" in _tar_names(training_run.output_tarball)
    assert training_run.channels_untouched
    # hyperparameters.json reached the job, which parsed the strings.
    assert {k: str(training_run.forest[k]) for k in FOREST_PARAMETERS} == FOREST_PARAMETERS

    # Local mode does not parse MetricDefinitions; the documented regexes must find every
    # train and validation metric in the container's log, as they would in CloudWatch.
    found = {}
    for definition in metric_definitions("regression"):
        match = re.search(definition["Regex"], training_run.logs)
        if match:
            found[definition["Name"]] = float(match.group(1))
    expected = {f"{split}:{m}" for split in ("train", "validation") for m in ("mae", "rmse", "r2")}
    assert expected <= set(found), f"metrics missing from the logs: {expected - set(found)}"
    assert 0 < found["validation:rmse"] < 6


@pytest.fixture(scope="module")
def endpoint(
    local_mode: LocalMode,
    images: dict[str, str],
    training_run: TrainingRun,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    """A local endpoint serving the training job's model.tar.gz; its Predictor (CSV in, CSV
    out). Deleted afterwards."""
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    model = Model(
        image_uri=images["serving"],
        role=ROLE,
        predictor_cls=Predictor,
        model_data=copy_model(
            training_run.model_tarball, tmp_path_factory.mktemp("endpoint") / "model"
        ),
        sagemaker_session=local_mode.session("endpoint"),
    )
    # wait=False saves 30 s and waits for nothing: the local create_endpoint returns once /ping
    # answers 200 (sagemaker/local/entities.py, _LocalEndpoint.serve), while wait=True then
    # sleeps a full poll interval before its first look (sagemaker/session.py, _wait_until:
    # `time.sleep(poll)` with wait_for_endpoint's poll=DEFAULT_EP_POLL=30).
    with local_mode.explained("endpoint"):
        predictor = model.deploy(
            initial_instance_count=1,
            instance_type="local",
            serializer=CSVSerializer(),
            deserializer=CSVDeserializer(),
            wait=False,
        )
    try:
        status = predictor.sagemaker_session.describe_endpoint(predictor.endpoint_name)
        assert status["EndpointStatus"] == "InService"
        yield predictor
    finally:
        # Endpoint first (it stops the container), then the model: Predictor.delete_model looks
        # the model up through the endpoint config, which delete_endpoint has already removed.
        predictor.delete_endpoint()
        model.delete_model()


def test_endpoint_predicts_csv_rows(
    endpoint: Any, trained: Trained, training_run: TrainingRun
) -> None:
    rows = _raw_rows(trained).to_numpy(dtype=np.float64).tolist()  # NaN for a missing cell
    answer = endpoint.predict(rows)
    assert len(answer) == len(rows)
    assert all(len(line) == 1 for line in answer)
    np.testing.assert_allclose(
        [float(line[0]) for line in answer], training_run.expected, rtol=1e-12
    )


def test_endpoint_predicts_json_records(
    endpoint: Any, trained: Trained, training_run: TrainingRun
) -> None:
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import JSONSerializer

    json_predictor = Predictor(
        endpoint.endpoint_name,
        sagemaker_session=endpoint.sagemaker_session,
        serializer=JSONSerializer(),
        deserializer=JSONDeserializer(),
    )
    records = _raw_rows(trained).head(5)
    # JSON has no NaN: a missing value is null.
    instances = [
        {k: (None if pd.isna(v) else v) for k, v in record.items()}
        for record in records.to_dict(orient="records")
    ]
    answer = json_predictor.predict({"instances": instances})
    np.testing.assert_allclose(answer["predictions"], training_run.expected[:5], rtol=1e-12)


def test_batch_transform_writes_one_line_per_input_line(
    local_mode: LocalMode,
    images: dict[str, str],
    trained: Trained,
    training_run: TrainingRun,
    tmp_path: Path,
) -> None:
    from sagemaker.model import Model

    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    rows = _raw_rows(trained)
    rows.to_csv(inputs / "test.csv", header=False, index=False)  # a missing cell stays empty
    model = Model(
        image_uri=images["serving"],
        role=ROLE,
        model_data=copy_model(training_run.model_tarball, tmp_path / "model"),
        sagemaker_session=local_mode.session("transform"),
    )
    # The container answers /execution-parameters with BatchStrategy "MULTI_RECORD", the
    # spelling of AWS's BYOC docs. Local mode adopts a container's value when the request has
    # none (sagemaker/local/entities.py, _LocalTransformJob.start) but accepts only the API
    # spelling (sagemaker/local/data.py, get_batch_strategy_instance: `raise
    # ValueError('Invalid Batch Strategy: ...')`), so the strategy is given here.
    transformer = model.transformer(
        instance_count=1,
        instance_type="local",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"file://{outputs}",
    )
    # logs=False: with logs, waiting reads CloudWatch (Session.logs_for_transform_job), which
    # LocalSession does not replace as it does for training and processing.
    with local_mode.explained("transform"):
        transformer.transform(
            f"file://{inputs}", content_type="text/csv", split_type="Line", wait=True, logs=False
        )

    job = transformer.sagemaker_session.describe_transform_job(
        transformer.latest_transform_job.name
    )
    assert job["TransformJobStatus"] == "Completed"
    text = (outputs / "test.csv.out").read_text()
    # AssembleWith=Line makes local mode add "\n" after each response, as SageMaker does; the
    # image, told SAGEMAKER_BATCH, ends its answers without one: one line per record, no blank.
    assert text.count("\n") == len(rows), repr(text[-200:])
    lines = text.splitlines()
    assert len(lines) == len(rows) and "" not in lines
    np.testing.assert_allclose([float(line) for line in lines], training_run.expected, rtol=1e-12)
