"""What the SageMaker SDK local-mode tests share: the session settings, the containers one
session starts, Processor.run's channels."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.helpers.common import free_port

if TYPE_CHECKING:
    from sagemaker.local import LocalSession


REGION = "us-east-1"


BUCKET = "mpg-sdk-local"


# Local mode never assumes the role; the SDK only requires one to be given.
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


LABEL = "mpg.tests.sdk-local-mode"


SESSION_LABEL = f"{LABEL}.session"


SPLITS = ("train", "validation", "test")


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


def copy_model(model_tarball: Path, directory: Path) -> str:
    # The SDK extracts a file:// model.tar.gz in place, into the folder that holds it, and
    # mounts that folder at /opt/ml/model (sagemaker/local/image.py,
    # _prepare_serving_volumes: custom_extractall_tarfile(tar, ...get_root_dir())). A copy
    # keeps the training output untouched.
    directory.mkdir(parents=True)
    shutil.copy2(model_tarball, directory / model_tarball.name)
    return f"file://{directory / model_tarball.name}"
