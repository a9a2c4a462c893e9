"""The run's readable report: one HTML page, a table per check and a bar chart per column
(baseline against traffic), drawn as inline SVG so the image needs no plotting library."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from mpg_core.monitoring.drift import ColumnDrift

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}
td:first-child{text-align:left}.bad{background:#fdd}.chart{display:inline-block;margin:1em}
"""
_WIDTH, _HEIGHT = 360, 150


def bar_chart(drift: ColumnDrift) -> str:
    """Baseline (grey) and traffic (blue) share of each bin, side by side."""
    shares = [*drift.baseline_shares, *drift.current_shares]
    top = max(shares, default=0.0) or 1.0
    n = max(len(drift.labels), 1)
    slot = _WIDTH / n
    bars = []
    for i, label in enumerate(drift.labels):
        for j, (value, colour) in enumerate(
            ((drift.baseline_shares[i], "#999"), (drift.current_shares[i], "#36c"))
        ):
            h = value / top * (_HEIGHT - 30)
            x = i * slot + j * slot / 2.2 + 2
            bars.append(
                f'<rect x="{x:.1f}" y="{_HEIGHT - 20 - h:.1f}" width="{slot / 2.4:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{html.escape(label)}: '
                f"{value:.3f}</title></rect>"
            )
    first = html.escape(drift.labels[0] if drift.labels else "")
    last = html.escape(drift.labels[-1] if drift.labels else "")
    return (
        f'<div class="chart"><b>{html.escape(drift.name)}</b><br>'
        f'<svg width="{_WIDTH}" height="{_HEIGHT}" role="img">{"".join(bars)}'
        f'<text x="0" y="{_HEIGHT - 4}" font-size="10">{first}</text>'
        f'<text x="{_WIDTH}" y="{_HEIGHT - 4}" font-size="10" text-anchor="end">{last}</text>'
        "</svg></div>"
    )


def _row(cells: Sequence[Any], bad: bool) -> str:
    klass = ' class="bad"' if bad else ""
    return f"<tr{klass}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def render(
    title: str,
    summary: Mapping[str, Any],
    drift: Sequence[ColumnDrift],
    flagged: set[str],
    quality: Mapping[str, tuple[float, float | None]],
    violations: Sequence[Mapping[str, Any]],
) -> str:
    head = ["column", "role", "rows", "test", "PSI", "drift score", "statistic", "p-value"]
    head += ["missing (baseline)", "missing (traffic)", "new levels", "flagged"]
    rows = [
        _row(
            [
                d.name,
                d.role,
                d.count,
                d.test,
                f"{d.psi:.4f}",
                f"{d.drift_score:.4f}",
                f"{d.statistic:.4f}",
                f"{d.p_value:.3g}",
                f"{d.baseline_missing_rate:.3f}",
                f"{d.missing_rate:.3f}",
                ", ".join(d.new_levels) or "-",
                "yes" if d.name in flagged else "no",
            ],
            d.name in flagged,
        )
        for d in drift
    ]
    quality_rows = [
        _row([name, f"{value:.4f}", "-" if ref is None else f"{ref:.4f}"], False)
        for name, (value, ref) in quality.items()
    ]
    violation_rows = [
        _row(
            [
                v.get("feature_name") or v.get("metric_name"),
                v["constraint_check_type"],
                v["description"],
            ],
            True,
        )
        for v in violations
    ]
    facts = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in summary.items()
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1><ul>{facts}</ul>",
        f"<h2>Violations ({len(violations)})</h2>",
        "<table><tr><th>feature / metric</th><th>check</th><th>description</th></tr>",
        "".join(violation_rows) + "</table>",
        "<h2>Drift by column</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
        "".join(rows) + "</table>",
    ]
    if quality_rows:
        parts += [
            "<h2>Model quality on labelled traffic</h2>",
            "<table><tr><th>metric</th><th>traffic</th><th>baseline (test)</th></tr>",
            "".join(quality_rows) + "</table>",
        ]
    parts += ["<h2>Distributions (grey: baseline, blue: traffic)</h2>"]
    parts += [bar_chart(d) for d in drift if d.labels]
    parts.append("</body></html>")
    return "\n".join(parts)
