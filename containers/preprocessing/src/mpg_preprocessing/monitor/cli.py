"""``monitor``: the processing image's model-monitoring command (SageMaker Processing).

Arguments default to Processing paths and can be overridden the way
``AppSpecification.ContainerArguments`` passes them::

    monitor --capture /opt/ml/processing/input/capture \\
            --baseline /opt/ml/processing/input/baseline \\
            [--ground-truth /opt/ml/processing/input/ground_truth] \\
            --output /opt/ml/processing/output/report \\
            --endpoint my-endpoint --monitor-name mpg-monitor \\
            --window-end 2026-12-07T10:00:00Z --window-hours 1

``--window-end`` takes EventBridge Scheduler's ``<aws.scheduler.scheduled-time>`` as it
substitutes it. Metrics go to CloudWatch (region and endpoint from the standard AWS
environment) when ``--endpoint`` is given, unless ``--no-metrics``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mpg_core.errors import MpgError
from mpg_core.exits import failure_reported, raise_on_stop_signals
from mpg_core.logs import configure_logging
from mpg_core.platform import FAILURE_FILE, MESSAGE_FILE, OUTPUT_DIR, PROCESSING_DIR, ml_root

if TYPE_CHECKING:
    from mpg_preprocessing.monitor.job import MonitorConfig

log = logging.getLogger("mpg_preprocessing.monitor")
# Threshold flags and the constraints-file keys they override.
THRESHOLD_FLAGS = {
    "psi_threshold": "comparison_threshold",
    "p_value_threshold": "p_value_threshold",
    "missing_rate_threshold": "completeness_threshold",
    "new_level_threshold": "domain_content_threshold",
    "quality_tolerance": "quality_tolerance",
}


def parse_args(argv: Sequence[str], root: Path) -> argparse.Namespace:
    base = root / PROCESSING_DIR
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, default=base / "input/capture")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=base / "input/baseline",
        help="folder with the model's model.tar.gz (or its files)",
    )
    parser.add_argument(
        "--ground-truth",
        type=Path,
        default=None,
        help="folder of CSV files: inference_id and the true value (default: "
        "<processing>/input/ground_truth when it exists)",
    )
    parser.add_argument("--output", type=Path, default=base / "output/report")
    parser.add_argument("--endpoint", default=None, help="the metrics' Endpoint dimension")
    parser.add_argument("--monitor-name", default="mpg-monitor")
    parser.add_argument("--window-end", default=None, help="ISO 8601 time (default: now)")
    parser.add_argument(
        "--window-hours",
        type=float,
        default=0.0,
        help="hours before --window-end to check (0: every captured record)",
    )
    parser.add_argument("--no-metrics", action="store_true", help="send no CloudWatch metrics")
    for flag in THRESHOLD_FLAGS:
        parser.add_argument(f"--{flag.replace('_', '-')}", type=float, default=None)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace, root: Path) -> MonitorConfig:
    from mpg_preprocessing.monitor.capture import Window
    from mpg_preprocessing.monitor.job import MonitorConfig, parse_time

    end = parse_time(args.window_end) if args.window_end else None
    start = None
    if args.window_hours > 0:
        end = end or datetime.now(UTC)
        start = end - timedelta(hours=args.window_hours)
    truth = args.ground_truth
    default_truth = root / PROCESSING_DIR / "input/ground_truth"
    if truth is None and default_truth.is_dir():
        truth = default_truth
    return MonitorConfig(
        capture_dir=args.capture,
        baseline_dir=args.baseline,
        output_dir=args.output,
        window=Window(start=start, end=end),
        ground_truth_dir=truth,
        endpoint=args.endpoint,
        monitor=args.monitor_name,
        thresholds={key: getattr(args, flag) for flag, key in THRESHOLD_FLAGS.items()},
        emit_metrics=not args.no_metrics,
    )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    raise_on_stop_signals()
    env = os.environ if env is None else env
    root = ml_root(env)
    args = parse_args(sys.argv[1:] if argv is None else argv, root)
    configure_logging(args.log_level)
    try:
        with failure_reported(root / OUTPUT_DIR, (FAILURE_FILE, MESSAGE_FILE)):
            from mpg_preprocessing.monitor import job

            result = job.run(config_from(args, root))
    except MpgError as exc:
        return exc.exit_code
    except Exception:
        return 1
    # Model Monitor's execution status: completed, with or without violations.
    status = "CompletedWithViolations" if result.violations else "Completed"
    print(f"{status}: {len(result.violations)} violation(s) in {result.rows} rows", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
