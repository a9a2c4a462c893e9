"""Whether a pipeline execution that already ended failed: the exit code of ``pipeline start``.

SageMaker answers StartPipelineExecution at once, with the execution Executing; the local
engine answers once the execution has ended. Either way one DescribePipelineExecution tells
``start`` whether it may exit 0: an execution that already ended Failed, Stopped or
CompletedWithFailures is exit 1, as ``follow`` makes it, so ``start && registry deploy`` stops.
"""

from __future__ import annotations

from typing import Any

from mpg_launch.errors import JobFailed

ENDED_BADLY = ("Failed", "Stopped", "CompletedWithFailures")


def execution_outcome(sagemaker: Any, arn: str) -> str:
    """The execution's status; JobFailed (exit 1) with its FailureReason when it ended badly."""
    execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    status = str(execution.get("PipelineExecutionStatus", ""))
    if status in ENDED_BADLY:
        reason = " ".join(str(execution.get("FailureReason") or "no FailureReason given").split())
        raise JobFailed(
            f"pipeline execution {arn} {status}: {reason} (`mpg-launch pipeline follow "
            f"{arn}` shows each step)"
        )
    return status
