"""What the launcher does differently per task (the schema's ``task``): the tuner's objective
and the names of the pipeline's gate.

The gate itself is the evaluate step's verdict (:mod:`mpg_core.gate`, ``gate.passed`` in the
evaluation report): the model must beat the trivial baseline by a margin, be no worse than the
registry's approved version on the same test rows when there is one, and meet the task's
absolute threshold (a pipeline parameter handed to the evaluate step). The pipeline and
``evaluate`` therefore decide the same way.

The metric names are the training image's log lines (``validation:<metric>=<value>``, read by
:data:`mpg_core.metrics.METRIC_DEFINITIONS`); the report paths are the evaluation report's
(``evaluation.json`` in SageMaker Studio's model quality format).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mpg_launch.settings.config import LaunchConfig
from mpg_launch.table.schema import config_schema

Task = Literal["regression", "classification"]


# JsonGet paths of the evaluate step's verdict in evaluation.json (mpg_core.gate.Verdict).
GATE_PASSED_PATH = "gate.passed"
GATE_REASON_PATH = "gate.reason"


# The absolute threshold's "none": the evaluate step applies no absolute check (an RMSE of at
# most 0 or a balanced accuracy of at least 0 would mean nothing).
NO_ABSOLUTE_BAR = 0.0


@dataclass(frozen=True)
class Gate:
    """The pipeline's condition before registering (the evaluate step's verdict) and the
    task's absolute threshold, a pipeline parameter the evaluate step applies."""

    step: str  # the Condition step
    fail_step: str  # the Fail step when the model falls short
    parameter: str  # the pipeline parameter holding the absolute threshold
    default: float  # Auto MPG's; 0 (no absolute bar) for a user's own table, see absolute_default
    label: str  # the metric as the failure message names it
    report_path: str  # JsonGet path of that metric in the evaluation report


@dataclass(frozen=True)
class Goals:
    objective_metric: str
    objective_type: Literal["Minimize", "Maximize"]
    gate: Gate


# Regression keeps the names and figures Auto MPG's pipeline always had. Test RMSE in mpg above
# 4.0 is not registered: a mean predictor scores about 7.8 on Auto MPG, a forest about 2.5-3.
REGRESSION = Goals(
    objective_metric="validation:rmse",
    objective_type="Minimize",
    gate=Gate(
        step="CheckRmse",
        fail_step="RmseTooHigh",
        parameter="RmseThreshold",
        default=4.0,
        label="Test RMSE",
        report_path="regression_metrics.rmse.value",
    ),
)
# Balanced accuracy: the mean of the per-class recalls, so a model that answers the majority
# class scores 1/K whatever the class balance. No absolute bar by default (0): what a table
# allows is the table's; the baseline and approved checks gate every table alike.
CLASSIFICATION = Goals(
    objective_metric="validation:balanced_accuracy",
    objective_type="Maximize",
    gate=Gate(
        step="CheckBalancedAccuracy",
        fail_step="BalancedAccuracyTooLow",
        parameter="BalancedAccuracyThreshold",
        default=NO_ABSOLUTE_BAR,
        label="Test balanced accuracy",
        report_path="classification_metrics.balanced_accuracy.value",
    ),
)
GOALS: dict[str, Goals] = {"regression": REGRESSION, "classification": CLASSIFICATION}


def config_task(config: LaunchConfig) -> Task:
    """The task of the config's schema (``schema``: a file path); regression, Auto MPG's,
    when none is given."""
    schema = config_schema(config)
    return "regression" if schema is None else schema.task


def goals(config: LaunchConfig) -> Goals:
    return GOALS[config_task(config)]


def absolute_default(config: LaunchConfig) -> float:
    """The absolute threshold's default: RMSE 4.0 mpg for Auto MPG (no schema given), none for
    a user's own table, whose target's units the kit cannot know; the evaluate step's baseline
    and approved-version checks gate it."""
    if config_schema(config) is None:
        return REGRESSION.gate.default
    return NO_ABSOLUTE_BAR
