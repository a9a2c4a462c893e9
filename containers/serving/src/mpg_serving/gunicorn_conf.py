"""Every gunicorn knob, computed by one pure function from the serving settings."""

from __future__ import annotations

from typing import Any

from mpg_serving.settings import ServeSettings

# SageMaker sends SIGKILL 30 s after SIGTERM: finish in-flight requests well before that.
GRACEFUL_TIMEOUT = 20


def gunicorn_options(settings: ServeSettings) -> dict[str, Any]:
    return {
        "bind": [f"0.0.0.0:{settings.port}"],
        "workers": settings.workers,
        # The sync worker: one request at a time per process is the cheapest model for CPU-bound
        # predictions; this subclass adds a read deadline so a stalled client cannot kill it.
        "worker_class": "mpg_serving.workers.DeadlineSyncWorker",
        "timeout": settings.timeout,
        "graceful_timeout": min(GRACEFUL_TIMEOUT, settings.timeout),
        # Load the model once in the master before the port opens: /ping is never answered
        # by a worker without a model, and workers share the model's pages copy-on-write.
        "preload_app": True,
        # The heartbeat file on tmpfs, not on the (possibly slow) container filesystem.
        "worker_tmp_dir": "/dev/shm",  # noqa: S108 (tmpfs, gunicorn's documented advice)
        "errorlog": "-",
        "accesslog": None,
        "loglevel": settings.log_level.lower(),
        "proc_name": "mpg-serve",
        # gunicorn's control socket would write under $HOME; nothing here uses it.
        "control_socket_disable": True,
    }
