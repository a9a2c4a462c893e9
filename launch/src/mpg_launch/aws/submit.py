"""Every request goes the same way: built (pure) into a command's plan
(:mod:`mpg_launch.aws.plan`), validated against the service model, then sent, or printed by a
dry run, which stops there. :class:`Runner` does the last steps, and waits for jobs; it is the
one place where a dry run and a real one part."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mpg_launch.aws.clients import Clients, session
from mpg_launch.aws.plan import PlanShown, Step, Submission, plan_lines, send
from mpg_launch.aws.validation import validate_request
from mpg_launch.aws.waiting import Out, wait_for_job
from mpg_launch.errors import LaunchError
from mpg_launch.images.ecr import check_images_exist, images_in
from mpg_launch.settings.config import LaunchConfig

T = TypeVar("T")


@dataclass(frozen=True)
class Runner:
    """Applies a command's plan (or prints it when ``dry_run``) and waits for jobs."""

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
        ``dry()``: the world the printed plan assumes. With :meth:`apply` this is where a dry
        run parts from a real one; commands do not test ``dry_run`` themselves."""
        if self.dry_run:
            return dry()
        assert self.clients is not None
        return look(self.clients)

    def apply(self, plan: Sequence[Step]) -> list[Any]:
        """Check every request of the plan, then apply its steps in order; returns each
        step's answer (a sent batch's answers, or what its ``act`` returned). A dry run prints
        the plan instead and stops the command (:class:`PlanShown`, exit 0)."""
        self.check(*(s for step in plan for s in step.requests))
        if self.dry_run:
            for chunk in plan_lines(plan):
                self.out(chunk)
            raise PlanShown
        return [step.act() if step.act else self.send(*step.requests) for step in plan]

    def submit(self, *submissions: Submission) -> list[dict[str, Any]]:
        """A plan of one step: send ``submissions``; returns their answers."""
        (answers,) = self.apply([send(*submissions)])
        return list(answers)

    def send(self, *submissions: Submission) -> list[dict[str, Any]]:
        """Send validated requests now (a step of a plan being applied)."""
        self.check(*submissions)
        assert self.clients is not None
        if self.clients.ecr is not None:  # --local has no ECR: it checks local images
            for s in submissions:
                check_images_exist(self.clients.ecr, images_in(s.request))
        return [getattr(self._client(s.service), s.method)(**s.request) for s in submissions]

    def aws_client(self, service: str) -> Any:
        """A client of the AWS the settings reach, with or without ``--local`` (CloudWatch
        metrics, EventBridge Scheduler), made when first asked for; one that refuses every
        call under ``--dry-run``."""
        if self.dry_run:
            from mpg_launch.aws.dry_run import RefusingClient

            return RefusingClient(service)
        return session(self.config).client(service)  # type: ignore[call-overload]

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
