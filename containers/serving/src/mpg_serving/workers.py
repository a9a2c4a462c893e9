"""gunicorn's sync worker, with a deadline on every socket read and write.

The stock sync worker reads requests with no timeout: a client that stops sending halfway
through its body holds the worker until gunicorn's own ``timeout`` kills it (a dead worker,
and a 502 for whoever was queued behind it). Here a stalled read or write fails after
:func:`client_idle_timeout` seconds instead: the request gets a 408 if the app was reading its
body, the connection is closed, and the worker goes on serving.
"""

from __future__ import annotations

import socket
from typing import Any

from gunicorn.workers.sync import SyncWorker

# A gap this long between two packets of one request never happens with SageMaker's front end
# (or any live client); it is short of gunicorn's worker timeout, so the read fails first.
MAX_CLIENT_IDLE_SECONDS = 10.0


def client_idle_timeout(worker_timeout: float) -> float:
    return min(MAX_CLIENT_IDLE_SECONDS, worker_timeout / 2)


class DeadlineSyncWorker(SyncWorker):
    def accept(self, listener: Any) -> None:
        client, addr = listener.accept()
        client.settimeout(client_idle_timeout(self.cfg.timeout))
        # Small responses go out at once instead of waiting for Nagle's delayed ACK.
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.handle(listener, client, addr)
