"""``preprocess``: the processing image's command.

Arguments default to SageMaker Processing paths and can be overridden the way
``AppSpecification.ContainerArguments`` passes them::

    preprocess --fit /opt/ml/processing/input/fit \\
               --train /opt/ml/processing/input/train \\
               --validation /opt/ml/processing/input/validation \\
               --test /opt/ml/processing/input/test \\
               --features /opt/ml/processing/output/features \\
               --preprocessor /opt/ml/processing/output/preprocessor \\
               --schema /opt/ml/processing/input/schema

``--fit`` (the whole train split, on every host) defaults to ``--train``, which is right for
one instance; with several, ``--train/--validation/--test`` are each host's ShardedByS3Key
share and ``--fit`` a FullyReplicated copy of the train split.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpg_core.errors import ConfigError, MpgError
from mpg_core.exits import failure_reported, raise_on_stop_signals
from mpg_core.logs import configure_logging
from mpg_core.platform import (
    FAILURE_FILE,
    MESSAGE_FILE,
    OUTPUT_DIR,
    PROCESSING_CONFIG_DIR,
    PROCESSING_DIR,
    PROCESSING_JOB_CONFIG,
    RESOURCE_CONFIG,
    Resources,
    ml_root,
    read_json,
)

if TYPE_CHECKING:
    from mpg_preprocessing.job import PreprocessConfig

log = logging.getLogger("mpg_preprocessing")


def parse_args(argv: Sequence[str], root: Path) -> argparse.Namespace:
    base = root / PROCESSING_DIR
    parser = argparse.ArgumentParser(prog="preprocess", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fit",
        type=Path,
        default=None,
        help="folder of the whole raw train split to fit on, the same on every host "
        "(default: --train)",
    )
    parser.add_argument(
        "--train",
        type=Path,
        default=base / "input/train",
        help="raw train tables this host transforms (may be empty with several instances)",
    )
    parser.add_argument(
        "--validation",
        type=Path,
        default=base / "input/validation",
        help="raw validation tables this host transforms (skipped when absent or empty)",
    )
    parser.add_argument(
        "--test",
        type=Path,
        default=base / "input/test",
        help="raw test tables this host transforms (skipped when absent or empty)",
    )
    parser.add_argument(
        "--features",
        type=Path,
        default=base / "output/features",
        help="output folder; features go to <split>/<split>.csv",
    )
    parser.add_argument(
        "--features-file",
        default=None,
        metavar="TEMPLATE",
        help="features file name, {split} and {host} filled in (default {split}.csv, "
        "or {split}-{host}.csv with several instances)",
    )
    parser.add_argument(
        "--preprocessor",
        type=Path,
        default=base / "output/preprocessor",
        help="output folder for the fitted preprocessor's model.tar.gz",
    )
    parser.add_argument(
        "--schema",
        type=Path,
        default=base / "input/schema",
        help="folder holding the table's schema (*.toml); absent or empty: Auto MPG's",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def config_from(
    args: argparse.Namespace, root: Path, job_config: Mapping[str, Any] | None = None
) -> PreprocessConfig:
    """The job's settings from its arguments and the platform's config files;
    ``job_config`` is processingjobconfig.json, whose inputs say how they were spread."""
    from mpg_core.table_schema import schema_in
    from mpg_preprocessing.distribution import check_distribution, input_distributions
    from mpg_preprocessing.job import PreprocessConfig

    template = args.features_file
    if template is not None:
        try:
            template.format(split="train", host="algo-1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"--features-file {template!r}: only {{split}} and {{host}} "
                f"may be filled in ({exc})"
            ) from None

    config_dir = root / PROCESSING_CONFIG_DIR
    config = PreprocessConfig(
        train_dir=args.train,
        validation_dir=args.validation,
        test_dir=args.test,
        features_dir=args.features,
        preprocessor_dir=args.preprocessor,
        features_file=args.features_file,
        resources=Resources.from_file(config_dir / RESOURCE_CONFIG),
        fit_dir=args.fit,
        schema=schema_in(args.schema),
    )
    check_distribution(config, input_distributions(job_config or {}, root))
    return config


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    raise_on_stop_signals()  # first: until then PID 1 ignores SIGTERM
    env = os.environ if env is None else env
    root = ml_root(env)
    args = parse_args(sys.argv[1:] if argv is None else argv, root)
    configure_logging(args.log_level)
    # Processing shows /opt/ml/output/message as ExitMessage; write the failure file too.
    try:
        with failure_reported(root / OUTPUT_DIR, (FAILURE_FILE, MESSAGE_FILE)):
            job_info = read_json(root / PROCESSING_CONFIG_DIR / PROCESSING_JOB_CONFIG) or {}
            # pandas and scikit-learn load here, after the stop handlers are in place.
            from mpg_preprocessing import job

            config = config_from(args, root, job_info)
            result = job.run(config)
    except MpgError as exc:
        return exc.exit_code
    except Exception:
        return 1
    log.info(
        "preprocessing complete",
        extra={
            "job": job_info.get("ProcessingJobName"),
            "host": config.resources.current_host,
            "rows": result.rows,
            "features": len(result.feature_names),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
