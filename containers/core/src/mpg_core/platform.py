"""Every SageMaker platform name in one place: the /opt/ml layout, config files, env vars.

``SAGEMAKER_BASE_DIR`` relocates ``/opt/ml`` (as in sagemaker-training), which is how tests and
local runs build a fake tree in a temporary folder. Only entry points call :func:`ml_root`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mpg_core.errors import ConfigError

DEFAULT_ML_ROOT: Final = Path("/opt/ml")
BASE_DIR_ENV: Final = "SAGEMAKER_BASE_DIR"

# Processing: every input/output LocalPath must live under /opt/ml/processing/.
PROCESSING_DIR: Final = "processing"
PROCESSING_CONFIG_DIR: Final = "config"  # /opt/ml/config, not /opt/ml/input/config
PROCESSING_JOB_CONFIG: Final = "processingjobconfig.json"

# Training.
INPUT_CONFIG_DIR: Final = "input/config"
INPUT_DATA_DIR: Final = "input/data"
HYPERPARAMETERS: Final = "hyperparameters.json"
INPUT_DATA_CONFIG: Final = "inputdataconfig.json"
RESOURCE_CONFIG: Final = "resourceconfig.json"
MODEL_DIR: Final = "model"
OUTPUT_DIR: Final = "output"
OUTPUT_DATA_DIR: Final = "output/data"
FAILURE_FILE: Final = "failure"
MESSAGE_FILE: Final = "message"  # processing: first 1 KB becomes ExitMessage

# Serving.
BIND_TO_PORT_ENV: Final = "SAGEMAKER_BIND_TO_PORT"
DEFAULT_PORT: Final = 8080
MODEL_SERVER_WORKERS_ENV: Final = "SAGEMAKER_MODEL_SERVER_WORKERS"
MODEL_SERVER_TIMEOUT_ENV: Final = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
MAX_PAYLOAD_ENV: Final = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
DEFAULT_ACCEPT_ENV: Final = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
BATCH_ENV: Final = "SAGEMAKER_BATCH"
BATCH_STRATEGY_ENV: Final = "SAGEMAKER_BATCH_STRATEGY"
MAX_CONCURRENT_TRANSFORMS_ENV: Final = "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"
# InvokeEndpoint accepts bodies up to 6 MiB.
REALTIME_MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
# Asynchronous endpoints: SageMaker has no variable for the body limit (bodies come from S3,
# up to 1 GB), so the launcher sets this project one on an async model's container.
ASYNC_MAX_PAYLOAD_ENV: Final = "MPG_ASYNC_MAX_PAYLOAD_MB"
# The header line of the file a batch transform reads: its mini-batches after the first have
# no header of their own, so every CSV body is read in this layout (mpg_serving.rows).
CSV_HEADER_ENV: Final = "MPG_CSV_HEADER"
ASYNC_MAX_PAYLOAD_MB: Final = 1024


def ml_root(env: Mapping[str, str]) -> Path:
    """The /opt/ml root, relocated by SAGEMAKER_BASE_DIR when set."""
    return Path(env.get(BASE_DIR_ENV) or DEFAULT_ML_ROOT)


def read_json(path: Path, default: Any = None) -> Any:
    """Read a platform JSON file; a missing file gives ``default``, a broken one a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc


def instance_cores() -> int:
    """The cores this process may run on (the instance's, unless pinned)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def instance_memory_bytes() -> int:
    """The instance's physical memory."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3


@dataclass(frozen=True)
class Resources:
    """Who this container is in a (possibly multi-instance) job, from resourceconfig.json,
    and what the instance has (cores, memory: read once, where the settings are built)."""

    current_host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    cores: int = field(default_factory=instance_cores)
    memory_bytes: int = field(default_factory=instance_memory_bytes)

    @property
    def is_leader(self) -> bool:
        """The first of the sorted hosts writes what must exist once (model, preprocessor)."""
        return self.current_host == sorted(self.hosts)[0]

    @classmethod
    def from_file(cls, path: Path) -> Resources:
        data = read_json(path, default={}) or {}
        current = data.get("current_host", cls.current_host)
        return cls(current_host=current, hosts=tuple(data.get("hosts") or (current,)))


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    """An integer setting from the environment, with a clear error when it is not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value
