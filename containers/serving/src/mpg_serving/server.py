"""The server behind ``serve``, the serving image's command (``docker run IMAGE serve``):
gunicorn as a library, in this process, so the server is PID 1 and receives SageMaker's
SIGTERM. The artifact is opened once, before the port opens, and shared by the workers.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# Light on purpose: ``serve`` is PID 1, which ignores SIGTERM until it installs a handler, so
# main() installs one before gunicorn, Flask, pandas and the artifact are imported or loaded.
from mpg_core.errors import JobStopped, MpgError
from mpg_core.exits import raise_on_stop_signals
from mpg_core.logs import configure_logging

if TYPE_CHECKING:
    from mpg_serving.settings import ServeSettings

log = logging.getLogger("mpg_serving")


def application(settings: ServeSettings) -> Any:
    """gunicorn as a library, configured from ``settings``; the artifact is opened in
    ``load``, before the port opens, and shared by the forked workers."""
    import gc

    from gunicorn.app.base import BaseApplication

    from mpg_core.artifact.reader import open_artifact
    from mpg_serving.app import create_app
    from mpg_serving.gunicorn_conf import gunicorn_options

    class ServingApplication(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            app = create_app(open_artifact(settings.model_dir), settings)
            # Everything loaded so far lives as long as the server: move it out of the garbage
            # collector's reach, so collections in the forked workers do not touch (and so
            # copy) the pages they share with the master.
            gc.collect()
            gc.freeze()
            return app

    return ServingApplication()


def main(env: Mapping[str, str] | None = None) -> int:
    # Until gunicorn installs its own (graceful) handlers, SIGTERM or SIGINT ends start-up
    # at once, as SageMaker expects of any container it stops.
    raise_on_stop_signals()
    try:
        return _serve(os.environ if env is None else env)
    except JobStopped as exc:  # stopped while starting: a clean, prompt exit
        configure_logging()
        log.info("stopped before serving", extra={"reason": str(exc)})
        return 0


def _serve(env: Mapping[str, str]) -> int:
    try:
        from mpg_serving.settings import ServeSettings

        settings = ServeSettings.from_env(env)
    except JobStopped:
        raise
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
        application(settings).run()
    except JobStopped:
        raise
    except MpgError as exc:
        log.error("cannot start serving", extra={"reason": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
