"""What the local runner remembers between CLI invocations (``deploy`` in one process,
``predict`` and ``delete`` in others): one JSON file per resource under the state folder."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_STATE_DIR = Path.home() / ".cache" / "mpg-launch" / "local"
# Response fields boto3 gives as datetimes (the state files hold them as text).
# The CloudWatch alarms the local clients store and a local rollout evaluates.
ALARMS = "alarms"
TIMESTAMP_KEYS = ("CreationTime", "LastModifiedTime", "LastRunTime", "StartTime", "EndTime")


def state_label(root: Path) -> str:
    """A short, stable id of a state folder for container labels."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def not_found(operation: str, message: str) -> ClientError:
    """The error SageMaker answers for a missing resource, so callers handle both alike."""
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


def with_datetimes(value: Any) -> Any:
    """``value`` with the timestamps of :data:`TIMESTAMP_KEYS` (at any depth) as datetimes."""
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v)
            if k in TIMESTAMP_KEYS and isinstance(v, str)
            else with_datetimes(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [with_datetimes(v) for v in value]
    return value


class LocalState:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, name: str) -> Path:
        return self.root / kind / f"{name}.json"

    def put(self, kind: str, name: str, record: dict[str, Any]) -> None:
        path = self._path(kind, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        tmp.replace(path)  # readers in other processes never see half a file

    def get(self, kind: str, name: str, operation: str) -> dict[str, Any]:
        path = self._path(kind, name)
        if not path.is_file():
            raise not_found(
                operation, f'Could not find {kind[:-1].replace("-", " ")} "{name}" (local).'
            )
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def exists(self, kind: str, name: str) -> bool:
        return self._path(kind, name).is_file()

    def delete(self, kind: str, name: str) -> None:
        self._path(kind, name).unlink(missing_ok=True)

    def names(self, kind: str) -> list[str]:
        folder = self.root / kind
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    def work_dir(self, kind: str, name: str) -> Path:
        """A folder for a resource's files (staged inputs, extracted models)."""
        path = self.root / "work" / kind / name
        path.mkdir(parents=True, exist_ok=True)
        return path
