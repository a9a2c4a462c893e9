"""Serving settings, read once from the environment SageMaker (or the user) gives the container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mpg_core.errors import ConfigError
from mpg_core.platform import (
    ASYNC_MAX_PAYLOAD_ENV,
    ASYNC_MAX_PAYLOAD_MB,
    BATCH_ENV,
    BATCH_STRATEGY_ENV,
    BIND_TO_PORT_ENV,
    CSV_HEADER_ENV,
    DEFAULT_ACCEPT_ENV,
    DEFAULT_PORT,
    MAX_CONCURRENT_TRANSFORMS_ENV,
    MAX_PAYLOAD_ENV,
    MODEL_DIR,
    MODEL_SERVER_TIMEOUT_ENV,
    MODEL_SERVER_WORKERS_ENV,
    env_int,
    ml_root,
)

# Batch transform: MaxConcurrentTransforms x MaxPayloadInMB must stay <= 100.
BATCH_PAYLOAD_BUDGET_MB = 100
# An asynchronous endpoint's body is read, predicted and answered this much at a time: about
# the size of a real-time body, so memory stays that of one real-time request at any size.
SLICE_BYTES = 4 * 1024 * 1024


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServeSettings:
    model_dir: Path
    port: int = DEFAULT_PORT
    workers: int = 1
    timeout: int = 60
    max_payload_mb: int = 6
    default_accept: str | None = None
    batch: bool = False
    batch_strategy: str = "MULTI_RECORD"
    max_concurrent_transforms: int | None = None
    log_level: str = "INFO"
    # Set (MPG_ASYNC_MAX_PAYLOAD_MB) on an asynchronous endpoint's container: bodies up to
    # this many MiB, CSV and JSON Lines read and answered in slices of ``slice_bytes``.
    async_max_payload_mb: int | None = None
    slice_bytes: int = SLICE_BYTES
    # Set (MPG_CSV_HEADER) to the header line of the file a batch transform reads: every CSV
    # body is then read in its layout, and a body starting with it skips it.
    csv_header: str | None = None

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024

    @property
    def streaming(self) -> bool:
        return self.async_max_payload_mb is not None

    @property
    def body_limit_bytes(self) -> int:
        """The largest body /invocations takes: the async limit, else the real-time one."""
        if self.async_max_payload_mb is not None:
            return self.async_max_payload_mb * 1024 * 1024
        return self.max_payload_bytes

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServeSettings:
        strategy = env.get(BATCH_STRATEGY_ENV, "MULTI_RECORD").strip().upper()
        if strategy not in ("SINGLE_RECORD", "MULTI_RECORD"):
            raise ConfigError(
                f"{BATCH_STRATEGY_ENV}={strategy!r}: expected SINGLE_RECORD or MULTI_RECORD"
            )
        max_payload = env_int(env, MAX_PAYLOAD_ENV, 6)
        if max_payload > BATCH_PAYLOAD_BUDGET_MB:
            raise ConfigError(f"{MAX_PAYLOAD_ENV}={max_payload} exceeds SageMaker's 100 MB")
        port = env_int(env, BIND_TO_PORT_ENV, DEFAULT_PORT)
        if port > 65535:
            raise ConfigError(f"{BIND_TO_PORT_ENV}={port} is not a TCP port")
        concurrent = env.get(MAX_CONCURRENT_TRANSFORMS_ENV)
        async_limit = env.get(ASYNC_MAX_PAYLOAD_ENV, "").strip()
        async_mb = env_int(env, ASYNC_MAX_PAYLOAD_ENV, 1) if async_limit else None
        if async_mb is not None and async_mb > ASYNC_MAX_PAYLOAD_MB:
            raise ConfigError(
                f"{ASYNC_MAX_PAYLOAD_ENV}={async_mb} exceeds asynchronous inference's "
                f"{ASYNC_MAX_PAYLOAD_MB} MB (1 GB)"
            )
        return cls(
            model_dir=Path(env.get("MPG_MODEL_DIR") or ml_root(env) / MODEL_DIR),
            port=port,
            workers=env_int(env, MODEL_SERVER_WORKERS_ENV, available_cpus()),
            timeout=env_int(env, MODEL_SERVER_TIMEOUT_ENV, 60),
            max_payload_mb=max_payload,
            default_accept=env.get(DEFAULT_ACCEPT_ENV) or None,
            batch=env.get(BATCH_ENV, "").strip().lower() == "true",
            batch_strategy=strategy,
            max_concurrent_transforms=(
                env_int(env, MAX_CONCURRENT_TRANSFORMS_ENV, 1) if concurrent else None
            ),
            log_level=env.get("MPG_LOG_LEVEL", "INFO"),
            async_max_payload_mb=async_mb,
            csv_header=env.get(CSV_HEADER_ENV, "").strip() or None,
        )
