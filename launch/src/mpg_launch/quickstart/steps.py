"""Pure parts of ``quickstart``: the fingerprints that name each step's job (same inputs, same
name, so a finished job is reused), the report's metrics as lines, and a table row as the CSV
body the endpoint takes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Model Monitor's report keys: one per problem type (mpg_training.model_quality).
REPORT_KEYS = (
    "regression_metrics",
    "binary_classification_metrics",
    "multiclass_classification_metrics",
    "classification_metrics",
)


def fingerprint(*parts: str | bytes) -> str:
    """sha256 of the parts, each length-prefixed so ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class StepKeys:
    """Each step's input fingerprint: the data's (table, schema, seed), preprocessing's (the
    data's and its image), training's and evaluation's (preprocessing's, the image and the
    hyperparameters)."""

    data: str
    preprocess: str
    train: str

    def job(self, table: str, step: str) -> str:
        key = self.train if step in ("train", "eval") else self.preprocess
        return f"{table}-{step}-{key[:8]}"


def step_keys(
    table: bytes,
    schema: bytes,
    seed: int,
    images: Mapping[str, str],
    hyperparameters: Mapping[str, str],
) -> StepKeys:
    data = fingerprint(table, schema, str(seed))
    preprocess = fingerprint(data, images["preprocessing"])
    train = fingerprint(
        preprocess, images["training"], json.dumps(dict(hyperparameters), sort_keys=True)
    )
    return StepKeys(data, preprocess, train)


def report_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """name -> value of the report's scalar metrics (confusion matrices and curves left out),
    of its first problem-type key (the classification reports carry training's extra ones
    under ``classification_metrics`` too: those come after, names not repeated)."""
    found: dict[str, float] = {}
    for key in REPORT_KEYS:
        for name, entry in (report.get(key) or {}).items():
            if isinstance(entry, Mapping) and isinstance(entry.get("value"), int | float):
                found.setdefault(name, float(entry["value"]))
    return found


def metric_lines(metrics: Mapping[str, float]) -> list[str]:
    return [f"test {name} = {value:.6g}" for name, value in metrics.items()]


def leaderboard_lines(selection: Mapping[str, Any] | None) -> list[str]:
    """The training job's leaderboard (evaluation.json's ``selection``: each family's and the
    ensemble's row, best first), as the job's log prints it; none when the job compared no
    families (a family given by hyperparameter)."""
    if not selection or not selection.get("leaderboard"):
        return []
    metric = str(selection["metric"])
    lines = [
        f"leaderboard (chosen by {metric} on {selection.get('judged_on', 'validation rows')}):",
        f"{'model':<24}{'judged ' + metric:>16}{'valid ' + metric:>16}{'fit s':>9}"
        f"{'size KB':>10}{'µs/row':>9}",
    ]
    for row in selection["leaderboard"]:
        mark = " *" if row["model"] == selection.get("chosen") else ""
        valid = (row.get("validation") or {}).get(metric)
        lines.append(
            f"{row['model']:<24}{_number(row['judged'].get(metric), 16, 6)}"
            f"{_number(valid, 16, 6)}{_number(row.get('fit_seconds'), 9, 2)}"
            f"{_number((row.get('size_bytes') or 0) / 1024, 10, 0)}"
            f"{_number(row.get('serve_us_per_row'), 9, 1)}{mark}"
        )
    return lines


def _number(value: Any, width: int, places: int) -> str:
    """A right-aligned figure; ``nan`` where the job had none (JSON's null)."""
    return f"{value:>{width}.{places}f}" if isinstance(value, int | float) else f"{'nan':>{width}}"


def csv_row(values: list[Any]) -> str:
    """One CSV line of raw feature values, as the endpoint reads them (quoted only where a
    value holds a comma or a quote)."""
    import csv
    import io

    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(["" if v is None else v for v in values])
    return line.getvalue()
