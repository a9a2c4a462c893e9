"""How the inputs must reach several instances, checked against the job's own request.

With several instances, each host fits on the whole train split (``--fit``, FullyReplicated)
and transforms only its ShardedByS3Key share of each split. Any other spreading gives a wrong
answer without an error: a FullyReplicated split makes every host write every row, a sharded
fit input makes each host fit a different preprocessor. ``processingjobconfig.json`` (the
request, as SageMaker writes it) says how each input was spread, so the job refuses those
cases before it reads a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from mpg_core.errors import ConfigError
from mpg_core.platform import DEFAULT_ML_ROOT

if TYPE_CHECKING:
    from mpg_preprocessing.job import PreprocessConfig

FULLY_REPLICATED: Final = "FullyReplicated"
SHARDED: Final = "ShardedByS3Key"


def input_distributions(job_config: Mapping[str, Any], root: Path) -> dict[Path, str]:
    """Each S3 input's LocalPath (under ``root``, which relocates /opt/ml) and its
    S3DataDistributionType (FullyReplicated when absent, the API's default)."""
    found = {}
    for item in job_config.get("ProcessingInputs") or []:
        s3_input = item.get("S3Input") or {}
        if not s3_input.get("LocalPath"):
            continue
        path = Path(s3_input["LocalPath"])
        if path.is_relative_to(DEFAULT_ML_ROOT):
            path = root / path.relative_to(DEFAULT_ML_ROOT)
        found[path] = s3_input.get("S3DataDistributionType") or FULLY_REPLICATED
    return found


def check_distribution(config: PreprocessConfig, distributions: Mapping[Path, str]) -> None:
    """A ConfigError naming the fix when several instances would give wrong features. Inputs
    the job config does not list (no processingjobconfig.json, local folders) are trusted."""
    hosts = len(config.resources.hosts)
    if hosts == 1:
        return
    if config.fits_on_train_dir:
        raise ConfigError(
            f"{hosts} instances need --fit: the whole train split (FullyReplicated) to fit "
            f"on, apart from --train {config.train_dir}, this host's ShardedByS3Key share"
        )
    fit = distributions.get(config.fit_path, FULLY_REPLICATED)
    if fit != FULLY_REPLICATED:
        raise ConfigError(
            f"--fit {config.fit_path} is {fit} over {hosts} instances, so each would fit a "
            f"different preprocessor; make that input {FULLY_REPLICATED}"
        )
    for split, directory in config.splits().items():
        if directory is not None and distributions.get(directory) == FULLY_REPLICATED:
            raise ConfigError(
                f"--{split} {directory} is {FULLY_REPLICATED} over {hosts} instances, so every "
                f"host would write every row; make that input {SHARDED}"
            )
