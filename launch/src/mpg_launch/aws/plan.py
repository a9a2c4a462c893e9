"""A command's plan: what it will do to AWS (or the local double), in order, built before the
first thing is done. A command observes (reads what exists), plans (pure: a list of
:class:`Step`), then hands the plan to :meth:`mpg_launch.aws.submit.Runner.apply`, which
checks every request, then sends them step by step, or, under ``--dry-run``, prints the plan
and stops the command there (:class:`PlanShown`): no command tests for a dry run itself.

Standard library only, beside the :class:`Submission` type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Submission:
    operation: str  # botocore operation name, e.g. CreateTrainingJob
    request: dict[str, Any]
    service: str = "sagemaker"  # botocore service name

    @property
    def method(self) -> str:
        return "".join("_" + c.lower() if c.isupper() else c for c in self.operation)[1:]


@dataclass(frozen=True)
class Step:
    """One thing a command does, in its plan's order.

    Without ``act``, the step sends ``requests`` (one batch) through the Runner. With ``act``,
    applying the step calls it (an upload through S3's transfer manager, a wait, a removal,
    a request whose value comes from an earlier answer), and ``requests`` are what it stands
    for in the printed plan. A dry run prints ``requests`` as one block, else ``text``, else
    nothing (a wait, a cleanup)."""

    requests: tuple[Submission, ...] = ()
    act: Callable[[], Any] | None = None
    text: str | None = None


def send(*submissions: Submission) -> Step:
    """A step that sends ``submissions`` as they are."""
    return Step(tuple(submissions))


def do(act: Callable[[], Any], *shown: Submission, text: str | None = None) -> Step:
    """A step that calls ``act``; a dry run prints ``shown`` (or ``text``) in its place."""
    return Step(tuple(shown), act, text)


class PlanShown(BaseException):
    """A dry run printed the plan: the command stops here, and the CLI exits 0. A
    BaseException, so that no ``except Exception`` on the way (a restore after a failed
    update) takes it for a failure."""


def _shown(value: Any) -> str:
    """A value JSON has no type for: bytes (InvokeEndpointAsync's Body) as the text sent."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def requests_text(submissions: Sequence[Submission]) -> str:
    """Requests as a dry run prints them: one JSON document each, keys sorted."""
    return "\n".join(
        json.dumps(
            {"operation": s.operation, "request": s.request, "service": s.service},
            indent=2,
            sort_keys=True,
            default=_shown,
        )
        for s in submissions
    )


def plan_lines(plan: Sequence[Step]) -> list[str]:
    """The printed plan: one chunk per step that shows something."""
    shown = []
    for step in plan:
        if step.requests:
            shown.append(requests_text(step.requests))
        elif step.text is not None:
            shown.append(step.text)
    return shown
