"""Every request goes the same way: built (pure), validated against the service model, then
printed (dry run) or sent; :class:`Runner` does the last two steps and waits for jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.validation import validate_request
from mpg_launch.aws.waiting import Out, wait_for_job
from mpg_launch.errors import LaunchError
from mpg_launch.images.ecr import check_images_exist, images_in
from mpg_launch.settings.config import LaunchConfig

T = TypeVar("T")


@dataclass(frozen=True)
class Submission:
    operation: str  # botocore operation name, e.g. CreateTrainingJob
    request: dict[str, Any]
    service: str = "sagemaker"  # botocore service name

    @property
    def method(self) -> str:
        return "".join("_" + c.lower() if c.isupper() else c for c in self.operation)[1:]


def dry_run_text(submissions: list[Submission]) -> str:
    return "\n".join(
        json.dumps(
            {"operation": s.operation, "request": s.request, "service": s.service},
            indent=2,
            sort_keys=True,
            default=str,
        )
        for s in submissions
    )


@dataclass(frozen=True)
class Runner:
    """Sends validated requests (or prints them when ``dry_run``) and waits."""

    config: LaunchConfig
    clients: Clients | None
    out: Out = print
    dry_run: bool = False
    poll_seconds: float = 10.0

    @staticmethod
    def check(*submissions: Submission) -> None:
        """Validate every request of a command before the first is sent (submit validates
        each again as it goes, which costs microseconds)."""
        for s in submissions:
            validate_request(s.service, s.operation, s.request)

    def observe(self, look: Callable[[Clients], T], dry: Callable[[], T]) -> T:
        """What a command reads before it plans (does the endpoint exist? what does it
        serve?): ``look`` at the clients, or under ``--dry-run``, which has no answers,
        ``dry()``. With :meth:`submit` (which prints instead of sending) this is where a dry
        run parts from a real one; commands do not test ``dry_run`` themselves."""
        if self.dry_run:
            return dry()
        assert self.clients is not None
        return look(self.clients)

    def submit(self, *submissions: Submission) -> list[dict[str, Any]]:
        self.check(*submissions)
        if self.dry_run:
            self.out(dry_run_text(list(submissions)))
            return []
        assert self.clients is not None
        if self.clients.ecr is not None:  # --local has no ECR: it checks local images
            for s in submissions:
                check_images_exist(self.clients.ecr, images_in(s.request))
        return [getattr(self._client(s.service), s.method)(**s.request) for s in submissions]

    def _client(self, service: str) -> Any:
        assert self.clients is not None
        clients = {
            "sagemaker": self.clients.sagemaker,
            "application-autoscaling": self.clients.autoscaling,
            "cloudwatch": self.clients.cloudwatch,
        }
        if clients.get(service) is None:
            raise LaunchError(f"no {service} client here (--local has none)")
        return clients[service]

    def wait_job(self, kind: str, name: str) -> dict[str, Any]:
        assert self.clients is not None
        return wait_for_job(
            self.clients.sagemaker,
            kind,
            name,
            logs=self.clients.logs,
            out=self.out,
            poll_seconds=self.poll_seconds,
        )
