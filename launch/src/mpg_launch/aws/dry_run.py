"""``--dry-run`` as clients that refuse every call: dry by construction, not by an ``if`` in
each command.

Under ``--dry-run`` every subcommand gets :func:`refusing_clients`. A command's plan goes through
:class:`mpg_launch.aws.submit.Runner`, which prints it and stops: its requests never reach a
client.
Any other call (a Describe, a List, a delete issued straight on a client) lands here: the
request is checked against botocore's service model, and :class:`DryRunStop` carries it to the
CLI, which prints it and exits 0. Nothing past that call runs, because what follows would need
AWS's answer, and nothing was sent. An attribute that is no API operation (``upload_file``,
``meta``...) is refused outright, with the name of the code path that tried it.
"""

from __future__ import annotations

import functools
from typing import Any

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.plan import Submission, requests_text
from mpg_launch.aws.validation import validate_request

# The boto3 client names of Clients' fields.
SERVICES = {
    "sagemaker": "sagemaker",
    "runtime": "sagemaker-runtime",
    "s3": "s3",
    "logs": "logs",
    "ecr": "ecr",
    "autoscaling": "application-autoscaling",
}


class DryRunStop(BaseException):
    """A dry run reached a call on a client: ``submission`` is the request it would send.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way (a
    listing that reports unreadable metrics, a restore after a failed update) can swallow it
    and carry on as if AWS had answered."""

    def __init__(self, submission: Submission) -> None:
        super().__init__(submission.operation)
        self.submission = submission

    @property
    def text(self) -> str:
        return requests_text([self.submission])


class DryRunRefused(BaseException):
    """A dry run touched a client attribute that is no API call; a launcher bug, not the
    user's: the CLI names the attribute and exits 1."""


@functools.cache
def _operations(service: str) -> dict[str, str]:
    """boto3 method name -> operation name (``describe_endpoint`` -> ``DescribeEndpoint``)."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def _printable(request: dict[str, Any]) -> dict[str, Any]:
    """Bytes (InvokeEndpoint's Body) shown as text, so the printed request reads as sent."""
    return {
        k: v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v
        for k, v in request.items()
    }


class RefusingClient:
    """A boto3-shaped client for ``service`` whose every call stops the dry run."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        operation = _operations(self._service).get(name)
        if operation is None:
            raise DryRunRefused(
                f"--dry-run: {self._service} client attribute {name!r} would reach AWS and is "
                "not an API call the dry run can print; nothing was sent (a launcher bug: "
                "please report it)"
            )

        def refuse(**request: Any) -> Any:
            # Checked like a real call (boto3 validates before sending), then stopped.
            validate_request(self._service, operation, request)
            raise DryRunStop(Submission(operation, _printable(request), self._service))

        return refuse

    def __repr__(self) -> str:
        return f"RefusingClient({self._service!r})"


def refusing_clients() -> Clients:
    """Every client a command can ask for, each refusing every call."""
    return Clients(**{field: RefusingClient(service) for field, service in SERVICES.items()})
