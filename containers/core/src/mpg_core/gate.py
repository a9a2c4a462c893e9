"""The gate before a model is registered: a comparison with something meaningful.

By default a model must beat a trivial baseline (regression: the train mean; classification:
the train class priors, answering the majority class) by a margin on the test rows; when the
registry holds an approved version, it must also be no worse than that version on the same
rows. Absolute thresholds stay available. The verdict says which comparison decided.

Pure and standard library only: the training image writes a verdict into evaluation.json,
and the launcher's pipeline step can call the same function on the reports it reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The metric each task is gated on, and whether lower is better.
GATE_METRICS = {"regression": ("rmse", True), "classification": ("log_loss", True)}
# How much better than the baseline a model must be (relative): 5% lower RMSE or log loss.
BASELINE_MARGIN = 0.05
# How much worse than the approved version a model may be (relative), for the noise of a
# retrain on the same rows.
APPROVED_TOLERANCE = 0.01


@dataclass(frozen=True)
class Verdict:
    passed: bool
    decided_by: str  # "baseline", "approved", "absolute" or "all" (every check passed)
    metric: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "decided_by": self.decided_by,
            "metric": self.metric,
            "checks": self.checks,
        }


def gate_verdict(
    task: str,
    model: Mapping[str, float],
    baseline: Mapping[str, float],
    approved: Mapping[str, float] | None = None,
    absolute: float | None = None,
    margin: float = BASELINE_MARGIN,
    tolerance: float = APPROVED_TOLERANCE,
) -> Verdict:
    """Compare ``model``'s test metrics with the ``baseline``'s, the ``approved`` version's
    (when given) and an ``absolute`` bound on the metric (when given); the first failing
    check decides, else every check passed ("all")."""
    metric, lower = GATE_METRICS[task]
    value = float(model[metric])
    checks: list[dict[str, Any]] = []

    def check(name: str, bound: float, text: str) -> None:
        ok = math.isfinite(value) and (value <= bound if lower else value >= bound)
        checks.append({"check": name, "passed": ok, "value": value, "bound": bound, "rule": text})

    base = float(baseline[metric])
    check("baseline", base * (1 - margin), f"{metric} at least {margin:.0%} below the baseline's")
    if approved is not None and metric in approved:
        mark = float(approved[metric])
        check(
            "approved",
            mark * (1 + tolerance),
            f"{metric} no more than {tolerance:.0%} above the approved version's",
        )
    if absolute is not None:
        check("absolute", float(absolute), f"{metric} at most {absolute}")
    failed = [c for c in checks if not c["passed"]]
    return Verdict(not failed, failed[0]["check"] if failed else "all", metric, checks)
