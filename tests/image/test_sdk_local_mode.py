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

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import requests

from mpg_core.artifact.files import ARTIFACT_FILE, ESTIMATOR_FILE, unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.metrics import metric_definitions
from mpg_core.schema import FEATURES
from tests.conftest import Trained, free_port, wait_until

if TYPE_CHECKING:
    from sagemaker.local import LocalSession

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

REGION = "us-east-1"
BUCKET = "mpg-sdk-local"
# Local mode never assumes the role; the SDK only requires one to be given.
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
LABEL = "mpg.tests.sdk-local-mode"
SESSION_LABEL = f"{LABEL}.session"
SPLITS = ("train", "validation", "test")
# Strings, as SageMaker passes them (typed for Estimator's dict[str, str | PipelineVariable]).
# The random forest, named: the test reads its parameters back from the pickled estimator.
FOREST_PARAMETERS: dict[str, Any] = {"n_estimators": "30", "max_depth": "8"}
HYPERPARAMETERS: dict[str, Any] = {"algorithm": "random_forest", **FOREST_PARAMETERS}


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on 127.0.0.1 with a free port; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def answers() -> bool:
        assert server.poll() is None, f"moto_server exited with {server.returncode}"
        try:
            return requests.get(f"{url}/moto-api/", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, 30, f"moto server on {url}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def aws_env(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Fake credentials, a region and moto as every AWS endpoint; nothing from the user's own
    AWS or SageMaker configuration. Yields the moto URL."""
    home = tmp_path_factory.mktemp("aws-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        mp.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        yield moto_endpoint


@dataclass(frozen=True)
class LocalMode:
    """Makes LocalSessions that run no AWS calls but moto's, and finds the containers they
    start: every container carries this run's label and the name of the session that started
    it (``local.container_config`` is merged into each compose service)."""

    run_id: str
    container_root: Path
    s3_endpoint: str

    def session(self, name: str) -> LocalSession:
        import boto3
        from sagemaker.local import LocalSession

        session = LocalSession(
            boto_session=boto3.Session(region_name=REGION),
            default_bucket=BUCKET,
            s3_endpoint_url=self.s3_endpoint,
            # Not the user's SDK config files; and no telemetry, which the SDK sends with
            # requests.get to an S3 URL on the internet after every decorated call
            # (sagemaker/telemetry/telemetry_logging.py, _send_telemetry_request).
            sagemaker_config={
                "SchemaVersion": "1.0",
                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
            },
        )
        session.config = {
            "local": {
                "local_code": True,
                # Each session serves on its own port: the SDK publishes <port>:8080 and polls
                # /ping there, so a busy 8080 (or another test's endpoint) cannot answer.
                "serving_port": free_port(),
                "container_root": str(self.container_root),
                "container_config": {"labels": {LABEL: self.run_id, SESSION_LABEL: name}},
            }
        }
        return session

    def _containers(self, name: str | None = None) -> list[str]:
        filters = ["--filter", f"label={LABEL}={self.run_id}"]
        if name is not None:
            filters += ["--filter", f"label={SESSION_LABEL}={name}"]
        listed = subprocess.run(
            ["docker", "ps", "-aq", *filters], capture_output=True, text=True, check=True
        )
        return listed.stdout.split()

    def logs(self, name: str) -> str:
        """What the session's containers wrote to stdout and stderr (compose stops job
        containers but does not remove them)."""
        runs = [
            subprocess.run(
                ["docker", "logs", container], capture_output=True, text=True, check=True
            )
            for container in self._containers(name)
        ]
        texts = [run.stdout + run.stderr for run in runs]
        assert texts, f"no container of session {name!r} left to read logs from"
        return "\n".join(texts)

    @contextlib.contextmanager
    def explained(self, name: str) -> Iterator[None]:
        """On failure, add the state and log tail of the session's containers to the error:
        for endpoints and transforms the SDK reads docker-compose's stdout only, and drops
        its stderr (sagemaker/local/image.py, _HostingContainer.run: stderr=PIPE, never
        read), so "Giving up, endpoint didn't launch correctly" is all it would say."""
        try:
            yield
        except Exception as exc:
            containers = self._containers(name)
            if not containers:
                exc.add_note(f"session {name!r} started no container: docker-compose failed")
            for container in containers:
                state = subprocess.run(
                    [
                        "docker",
                        "inspect",
                        "--format",
                        "{{.Name}} {{.State.Status}} exit={{.State.ExitCode}} {{.State.Error}}",
                        container,
                    ],
                    capture_output=True,
                    text=True,
                ).stdout.strip()
                tail = subprocess.run(
                    ["docker", "logs", "--tail", "40", container], capture_output=True, text=True
                )
                exc.add_note(f"container {state}:\n{tail.stdout}{tail.stderr}")
            raise

    def remove_containers(self) -> None:
        ids = self._containers()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def processing_channels(sources: dict[str, Path], outputs: str) -> dict[str, list[Any]]:
    """``Processor.run``'s inputs and outputs for the preprocessing image: each local folder
    of ``sources`` as input ``name`` (/opt/ml/processing/input/<name>), and the features and
    the preprocessor uploaded to ``outputs``/<name>."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput

    base = "/opt/ml/processing"
    return {
        "inputs": [
            ProcessingInput(source=str(folder), destination=f"{base}/input/{name}", input_name=name)
            for name, folder in sources.items()
        ],
        "outputs": [
            ProcessingOutput(
                source=f"{base}/output/{name}", destination=f"{outputs}/{name}", output_name=name
            )
            for name in ("features", "preprocessor")
        ],
    }


@pytest.fixture(scope="module")
def local_mode(
    aws_env: str, images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalMode]:
    """Local mode for this module; afterwards, every container it started is removed, also
    those the SDK leaves behind (local transform stops its container only on success)."""
    mode = LocalMode(
        run_id=uuid.uuid4().hex[:12],
        container_root=tmp_path_factory.mktemp("sdk-root"),
        s3_endpoint=aws_env,
    )
    try:
        yield mode
    finally:
        mode.remove_containers()


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


def _copy_model(model_tarball: Path, directory: Path) -> str:
    # The SDK extracts a file:// model.tar.gz in place, into the folder that holds it, and
    # mounts that folder at /opt/ml/model (sagemaker/local/image.py,
    # _prepare_serving_volumes: custom_extractall_tarfile(tar, ...get_root_dir())). A copy
    # keeps the training output untouched.
    directory.mkdir(parents=True)
    shutil.copy2(model_tarball, directory / model_tarball.name)
    return f"file://{directory / model_tarball.name}"


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
        model_data=_copy_model(
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
        model_data=_copy_model(training_run.model_tarball, tmp_path / "model"),
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
