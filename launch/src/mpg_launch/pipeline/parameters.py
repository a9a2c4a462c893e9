"""The pipeline's parameters (what a user changes between executions) and ``-P NAME=VALUE``
overrides, checked against the declared parameters and their types before a run starts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mpg_launch.aws import names
from mpg_launch.errors import ConfigError
from mpg_launch.pipeline.format import Expression, parameter
from mpg_launch.settings.config import LaunchConfig
from mpg_launch.table import tasks

ParameterType = Literal["String", "Integer", "Float", "Boolean"]

INPUT_DATA = "InputData"
BATCH_INPUT_DATA = "BatchInputData"
PROCESSING_INSTANCE_TYPE = "ProcessingInstanceType"
PROCESSING_INSTANCE_COUNT = "ProcessingInstanceCount"
TRAINING_INSTANCE_TYPE = "TrainingInstanceType"
N_ESTIMATORS = "NEstimators"
MAX_DEPTH = "MaxDepth"
RMSE_THRESHOLD = "RmseThreshold"
MODEL_APPROVAL_STATUS = "ModelApprovalStatus"
APPROVED_MODEL_DATA = "ApprovedModelData"
TRANSFORM_INSTANCE_TYPE = "TransformInstanceType"
TRANSFORM_INSTANCE_COUNT = "TransformInstanceCount"
# Hyperparameters a run may change, by parameter name (values are strings, as on the wire).
HYPERPARAMETERS = {N_ESTIMATORS: "n_estimators", MAX_DEPTH: "max_depth"}
# The regression gate's threshold (test RMSE in mpg): mpg_launch.table.tasks holds every
# task's gate.
DEFAULT_RMSE_THRESHOLD = tasks.REGRESSION.gate.default


# The evaluate step's approved-model input when the registry has no approved version. A
# ProcessingInput must name an S3 prefix that holds objects (SageMaker and the local engine
# refuse an empty one), so the default is a prefix of the kit's own, apart from InputData,
# where `pipeline upsert` writes only this README: the evaluate step finds no model there and
# makes no comparison. `pipeline start` passes the approved version's model data when the
# group has one.
NO_APPROVED_MODEL_README = "README.txt"
NO_APPROVED_MODEL_TEXT = """\
No approved model.

mpg-launch's pipeline reads this prefix as its ApprovedModelData parameter's default: the
evaluate step finds no model.tar.gz here, so its gate makes no "no worse than the approved
version" comparison. `mpg-launch pipeline upsert` writes this file; `pipeline start` passes
the model package group's newest Approved version instead when there is one. Keep this
prefix free of models.
"""


def no_approved_model(config: LaunchConfig) -> str:
    return names.no_approved_model_uri(config)


# Prefixes the definition appends split folders to ("<InputData>/train/"), so no trailing "/".
_PREFIXES = (INPUT_DATA,)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParameterType
    default: str | int | float | bool

    def declaration(self) -> dict[str, Any]:
        return {"Name": self.name, "Type": self.type, "DefaultValue": self.default}

    @property
    def ref(self) -> Expression:
        return parameter(self.name)


def _hyperparameter_default(config: LaunchConfig, name: str) -> str:
    """The configured value, else "" (the training image reads an empty value as not given), so
    an execution without overrides trains what ``train`` trains: the defaults resolved once, in
    the image (its size rule and early stopping apply only to what was not given)."""
    return str(config.hyperparameters[name]) if name in config.hyperparameters else ""


def pipeline_parameters(config: LaunchConfig) -> tuple[Parameter, ...]:
    """Defaults come from the config, so an execution without overrides runs what the
    single-stage commands would."""
    processing = config.instance("processing")
    transform = config.instance("transform")
    gate = tasks.goals(config).gate  # RmseThreshold, or the classification score's threshold
    return (
        Parameter(INPUT_DATA, "String", names.s3_uri(config, config.raw_prefix)),
        Parameter(BATCH_INPUT_DATA, "String", names.batch_input_uri(config)),
        Parameter(PROCESSING_INSTANCE_TYPE, "String", processing.type),
        Parameter(PROCESSING_INSTANCE_COUNT, "Integer", processing.count),
        Parameter(TRAINING_INSTANCE_TYPE, "String", config.instance("training").type),
        *(
            Parameter(name, "String", _hyperparameter_default(config, key))
            for name, key in HYPERPARAMETERS.items()
        ),
        Parameter(gate.parameter, "Float", tasks.absolute_default(config)),
        Parameter(MODEL_APPROVAL_STATUS, "String", "PendingManualApproval"),
        Parameter(APPROVED_MODEL_DATA, "String", no_approved_model(config)),
        Parameter(TRANSFORM_INSTANCE_TYPE, "String", transform.type),
        Parameter(TRANSFORM_INSTANCE_COUNT, "Integer", transform.count),
    )


def _typed(name: str, kind: str, value: str) -> str | int | float | bool:
    """``value`` as the parameter's type, or a ConfigError naming the parameter and the fix."""
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
    except ValueError:
        article = "an integer" if kind == "Integer" else "a number"
        raise ConfigError(f"-P {name}={value!r}: {name} is {kind}; give {article}") from None
    if kind == "Boolean":
        if value.lower() not in ("true", "false"):
            raise ConfigError(f"-P {name}={value!r}: {name} is Boolean; give true or false")
        return value.lower() == "true"
    if name in _PREFIXES and value.endswith("/"):
        raise ConfigError(
            f"-P {name}={value!r}: give the prefix without the trailing '/' "
            f"(the splits are read from <{name}>/train/ ...)"
        )
    return value


def parse_overrides(
    pairs: Sequence[str], declared: Sequence[Mapping[str, Any]]
) -> dict[str, str | int | float | bool]:
    """``-P NAME=VALUE`` flags as typed values, checked against the definition's declared
    parameters (``[{"Name", "Type", "DefaultValue"}]``)."""
    kinds = {str(p["Name"]): str(p["Type"]) for p in declared}
    values: dict[str, str | int | float | bool] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"-P {pair!r}: write NAME=VALUE")
        if name not in kinds:
            raise ConfigError(
                f"-P {name}: the pipeline declares no such parameter; declared: {sorted(kinds)}"
            )
        values[name] = _typed(name, kinds[name], value)
    return values


def wire_value(value: str | int | float | bool) -> str:
    """StartPipelineExecution takes every value as a string (booleans lower case)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def with_values(
    definition: Mapping[str, Any], values: Mapping[str, str | int | float | bool]
) -> dict[str, Any]:
    """A copy of ``definition`` whose parameter defaults are ``values``: what an execution with
    these overrides runs, so :func:`~mpg_launch.pipeline.checks.check_definition` can check it."""
    parameters = [
        {**p, "DefaultValue": values[p["Name"]]} if p["Name"] in values else dict(p)
        for p in definition.get("Parameters", [])
    ]
    return {**definition, "Parameters": parameters}
