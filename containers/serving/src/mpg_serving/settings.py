"""Serving settings, read once from the environment SageMaker (or the user) gives the container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mpg_core.errors import ConfigError
from mpg_core.platform import (
    BATCH_ENV,
    BATCH_STRATEGY_ENV,
    BIND_TO_PORT_ENV,
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

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024

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
        )
