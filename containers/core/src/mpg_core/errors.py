"""Typed errors own the exit contract of the jobs and the 4xx answers of the endpoint.

SageMaker shows the first 1024 characters of ``/opt/ml/output/failure`` as ``FailureReason``
(and of ``/opt/ml/output/message`` as a processing job's ``ExitMessage``), so the most useful
line goes first and the text is cut to fit.
"""

from __future__ import annotations

import traceback
from pathlib import Path

FAILURE_LIMIT = 1024


class MpgError(Exception):
    """Base of the errors this project raises on purpose; the message is for the user."""

    exit_code = 1
    http_status = 400

    @property
    def errno(self) -> int:
        """sagemaker-training's runner exits with an exception's ``errno``."""
        return self.exit_code


class ConfigError(MpgError):
    """Bad hyperparameters, arguments or platform config files."""

    exit_code = 2


class DataError(MpgError):
    """Input data that cannot be used: missing files, wrong columns, unparseable values."""

    exit_code = 3


class JobStopped(MpgError):
    """The platform asked the job to stop (SIGTERM from StopTrainingJob / MaxRuntimeInSeconds)."""

    exit_code = 143


class RequestError(MpgError):
    """A bad request at the endpoint; carries the HTTP status to answer with."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.http_status = http_status


def failure_text(exc: BaseException, limit: int = FAILURE_LIMIT) -> str:
    """The failure reason for ``exc``: its message first, then the traceback for anything
    unexpected, cut to ``limit`` characters (SageMaker keeps only the first 1024)."""
    if isinstance(exc, MpgError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        tb = "".join(traceback.format_exception(exc)).strip()
        text = f"{type(exc).__name__}: {exc}\n{tb}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write_failure(
    output_dir: Path, exc: BaseException, file_names: tuple[str, ...] = ("failure",)
) -> str:
    """Write the failure reason to each of ``file_names`` under ``output_dir``; return it."""
    text = failure_text(exc)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in file_names:
        (output_dir / name).write_text(text + "\n", encoding="utf-8")
    return text
