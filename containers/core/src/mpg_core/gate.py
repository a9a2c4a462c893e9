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
# The absolute threshold each task's pipeline parameter holds (RmseThreshold,
# BalancedAccuracyThreshold): the metric and whether lower is better.
ABSOLUTE_METRICS = {"regression": ("rmse", True), "classification": ("balanced_accuracy", False)}


@dataclass(frozen=True)
class Bound:
    """An absolute bound on one metric: ``metric <= value`` (lower is better) or ``>=``."""

    metric: str
    value: float
    lower_is_better: bool

    @classmethod
    def for_task(cls, task: str, value: float) -> Bound:
        metric, lower = ABSOLUTE_METRICS[task]
        return cls(metric, float(value), lower)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    decided_by: str  # "baseline", "approved", "absolute" or "all" (every check passed)
    metric: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """One sentence: the check that decided (the first that failed), or that all passed."""
        failed = [c for c in self.checks if not c["passed"]]
        if not failed:
            return "passed every check: " + "; ".join(_described(c) for c in self.checks)
        return f"failed the {failed[0]['check']} check: {_described(failed[0])}"

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "metric": self.metric,
            "checks": self.checks,
        }


def _described(check: Mapping[str, Any]) -> str:
    relation = ("" if check["passed"] else "not ") + ("<=" if check["lower_is_better"] else ">=")
    return (
        f"{check['metric']} {check['value']:.6g} {relation} {check['bound']:.6g} ({check['rule']})"
    )


def gate_verdict(
    task: str,
    model: Mapping[str, float],
    baseline: Mapping[str, float],
    approved: Mapping[str, float] | None = None,
    absolute: float | Bound | None = None,
    margin: float = BASELINE_MARGIN,
    tolerance: float = APPROVED_TOLERANCE,
) -> Verdict:
    """Compare ``model``'s test metrics with the ``baseline``'s, the ``approved`` version's
    (when given) and an ``absolute`` bound (when given: a number bounds the gate's metric, a
    :class:`Bound` any metric, as the pipeline's RmseThreshold or BalancedAccuracyThreshold);
    the first failing check decides, else every check passed ("all")."""
    metric, lower = GATE_METRICS[task]
    value = float(model[metric])
    checks: list[dict[str, Any]] = []

    def check(
        name: str, bound: float, text: str, on: str = metric, lower_is_better: bool = lower
    ) -> None:
        seen = value if on == metric else float(model.get(on, math.nan))
        ok = math.isfinite(seen) and (seen <= bound if lower_is_better else seen >= bound)
        checks.append(
            {
                "check": name,
                "passed": ok,
                "metric": on,
                "value": seen,
                "bound": bound,
                "lower_is_better": lower_is_better,
                "rule": text,
            }
        )

    base = float(baseline[metric])
    check("baseline", base * (1 - margin), f"{metric} at least {margin:.0%} below the baseline's")
    if approved is not None and metric in approved:
        mark = float(approved[metric])
        check(
            "approved",
            mark * (1 + tolerance),
            f"{metric} no more than {tolerance:.0%} above the approved version's",
        )
    if isinstance(absolute, Bound):
        word = "at most" if absolute.lower_is_better else "at least"
        check(
            "absolute",
            absolute.value,
            f"{absolute.metric} {word} {absolute.value:g}",
            absolute.metric,
            absolute.lower_is_better,
        )
    elif absolute is not None:
        check("absolute", float(absolute), f"{metric} at most {absolute}")
    failed = [c for c in checks if not c["passed"]]
    return Verdict(not failed, failed[0]["check"] if failed else "all", metric, checks)
