"""Check a request against botocore's service model before anything is sent (no AWS call).

botocore's own :class:`ParamValidator` (what boto3 runs before each call) checks required
members, unknown members, types and minimum sizes. It does not check maximum lengths, patterns
or enums, which the service then rejects after the job was submitted; :func:`_constraints`
adds those, so a bad name fails here, on the laptop, with the member's path. Rules the model
cannot express (batch transform's 100 MB budget, DataProcessing filters) come from
:mod:`mpg_launch.aws.transform_rules`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator

from mpg_launch.aws import identifiers, transform_rules
from mpg_launch.errors import RequestInvalid

# Long enums (instance types) are cut in messages: the first few show the spelling.
_ENUM_SHOWN = 8
# SageMaker's documented rules beyond the service model, per operation.
_SERVICE_RULES = {("sagemaker", "CreateTransformJob"): transform_rules.request_errors}


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation)


# The model's regexes are Java's: the classes Python's re lacks, as ranges Python reads.
_JAVA_CLASSES = {"Print": r"\x20-\x7e", "ASCII": r"\x00-\x7f", "Alnum": "a-zA-Z0-9"}
_JAVA_CLASS = re.compile(r"\\p\{(\w+)\}")


def _python_regex(pattern: str) -> str:
    """``\\p{Print}`` as a range (bracketed unless already in a set), ``\\z`` as ``\\Z``;
    other ``\\p{..}`` classes are left, and such a pattern is skipped."""
    out, in_set, i = [], False, 0
    while i < len(pattern):
        match = _JAVA_CLASS.match(pattern, i)
        if match and match.group(1) in _JAVA_CLASSES:
            body = _JAVA_CLASSES[match.group(1)]
            out.append(body if in_set else f"[{body}]")
            i = match.end()
            continue
        if pattern.startswith("\\z", i):
            out.append("\\Z")
            i += 2
            continue
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        in_set = (in_set and pattern[i] != "]") or pattern[i] == "["
        out.append(pattern[i])
        i += 1
    return "".join(out)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(_python_regex(pattern))
    except re.error:  # a few Java classes (\p{L}...) Python cannot read: skipped
        return None


def _identifier_problems(value: str, shape: Shape) -> list[str]:
    """AWS's rules the model's patterns are looser than (see mpg_launch.aws.identifiers)."""
    name = shape.name
    if value.startswith("s3://"):
        return identifiers.s3_uri_problems(value)
    if name == "BucketName":
        return identifiers.bucket_problems(value)
    if name == "ObjectKey":
        return identifiers.key_problems(value)
    if name.endswith("KmsKeyId") and value:
        return identifiers.kms_key_problems(value)
    if name == "SubnetId":
        return identifiers.ec2_id_problems(value, "subnet")
    if name == "SecurityGroupId":
        return identifiers.ec2_id_problems(value, "sg")
    return []


def _constraints(value: Any, shape: Shape, path: str) -> list[str]:
    errors: list[str] = []
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                errors += _constraints(value[name], member, f"{path}.{name}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path} has {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            errors += _constraints(item, shape.member, f"{path}[{i}]")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path} has {len(value)} entries, at most {meta['max']} allowed")
        for key, item in value.items():
            errors += _constraints(key, shape.key, f"{path} key {key!r}")
            errors += _constraints(item, shape.value, f"{path}[{key!r}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path} is {len(value)} characters, at most {meta['max']} allowed")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            known = enum if len(enum) <= _ENUM_SHOWN else [*enum[:_ENUM_SHOWN], "..."]
            errors.append(f"{path}={value!r} is not one of the {len(enum)} values {known}")
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled and not compiled.fullmatch(value):
            errors.append(f"{path}={value!r} does not match {meta['pattern']!r}")
        errors += [f"{path}: {p}" for p in _identifier_problems(value, shape)]
    elif shape.type_name in ("integer", "long", "float", "double") and isinstance(
        value, int | float
    ):
        errors += identifiers.finite_problems(value, path)
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}={value} is above the maximum {meta['max']}")
    return errors


def value_errors(service: str, shape_name: str, value: Any, path: str) -> list[str]:
    """What the model (and :mod:`identifiers`) finds wrong with one value of a named shape,
    for a flag checked before any request is built."""
    shape = botocore.session.get_session().get_service_model(service).shape_for(shape_name)
    errors = _constraints(value, shape, path)
    if isinstance(value, str) and len(value) < shape.metadata.get("min", 0):
        errors.insert(0, f"{path}={value!r} is shorter than {shape.metadata['min']} characters")
    return errors


def request_errors(service: str, operation: str, request: Mapping[str, Any]) -> list[str]:
    """Every problem the service model finds in ``request`` (empty when valid)."""
    shape = operation_model(service, operation).input_shape
    assert shape is not None  # every operation the launchers call takes input
    report = ParamValidator().validate(dict(request), shape)
    errors = report.generate_report().splitlines() if report.has_errors() else []
    rules = _SERVICE_RULES.get((service, operation))
    return errors + _constraints(request, shape, operation) + (rules(request) if rules else [])


def validate_request(service: str, operation: str, request: Mapping[str, Any]) -> None:
    """Raise :class:`RequestInvalid` (one line per problem) if the model rejects ``request``."""
    errors = request_errors(service, operation, request)
    if errors:
        raise RequestInvalid(
            f"{operation} request rejected by the {service} service model or its documented "
            "rules: " + "; ".join(errors)
        )
