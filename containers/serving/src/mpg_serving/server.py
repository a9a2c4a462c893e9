"""The server behind ``serve``, the serving image's command (``docker run IMAGE serve``):
gunicorn as a library, in this process, so the server is PID 1 and receives SageMaker's
SIGTERM. The artifact is opened once, before the port opens, and shared by the workers.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from mpg_core.artifact.reader import open_artifact
from mpg_core.errors import MpgError
from mpg_core.logs import configure_logging
from mpg_serving.app import create_app
from mpg_serving.gunicorn_conf import gunicorn_options
from mpg_serving.settings import ServeSettings

log = logging.getLogger("mpg_serving")


class ServingApplication(BaseApplication):
    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        app = create_app(open_artifact(self.settings.model_dir), self.settings)
        # Everything loaded so far lives as long as the server: move it out of the garbage
        # collector's reach, so collections in the forked workers do not touch (and so copy)
        # the pages they share with the master.
        gc.collect()
        gc.freeze()
        return app


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        settings = ServeSettings.from_env(env)
    except MpgError as exc:
        configure_logging()
        log.error("bad serving settings", extra={"reason": str(exc)})
        return 2
    configure_logging(settings.log_level)
    log.info(
        "starting server",
        extra={
            "port": settings.port,
            "workers": settings.workers,
            "timeout": settings.timeout,
            "max_payload_mb": settings.max_payload_mb,
            "batch": settings.batch,
            "async_max_payload_mb": settings.async_max_payload_mb,
        },
    )
    sys.argv = sys.argv[:1]  # gunicorn parses argv; the settings came from the environment
    try:
        ServingApplication(settings).run()
    except MpgError as exc:
        log.error("cannot start serving", extra={"reason": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
