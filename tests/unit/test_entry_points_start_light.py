"""A container's PID 1 ignores SIGTERM until it installs a handler. The job entry points
install theirs first, so their modules must load without the heavy libraries (seconds of
imports during which a StopTrainingJob would otherwise be ignored until SIGKILL)."""

import ast
import subprocess
import sys

HEAVY = (
    "numpy",
    "pandas",
    "sklearn",
    "scipy",
    "sagemaker_training",
    "matplotlib",
    "gunicorn",
    "flask",
)


def test_job_entry_points_import_no_heavy_library() -> None:
    script = (
        "import sys, mpg_training.cli, mpg_training.evaluate, mpg_preprocessing.cli,"
        " mpg_serving.server;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# The launcher's --help, and the schema modules it shares with the images.
LAUNCHER_HEAVY = ("numpy", "pandas", "sklearn", "scipy", "boto3", "botocore")


def loaded_after(script: str, heavy: tuple[str, ...]) -> list[str]:
    """The ``heavy`` modules in ``sys.modules`` after ``script`` ran in a fresh interpreter."""
    probe = f"{script}\nimport sys\nprint([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return list(ast.literal_eval(result.stdout.strip().splitlines()[-1]))


def test_shared_schema_modules_import_no_heavy_library() -> None:
    assert loaded_after("import mpg_core.hyperparameters, mpg_core.metrics", LAUNCHER_HEAVY) == []


def test_launcher_help_imports_no_heavy_library() -> None:
    script = (
        "import contextlib, io\n"
        "from mpg_launch.cli import main as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as help_text:\n"
        "    try:\n"
        "        cli.main(['--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "assert 'usage: mpg-launch' in help_text.getvalue()\n"
        "for argv in (['train'], ['tune'], ['pipeline'], ['pipeline', 'start'], ['registry']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.main([*argv, '--help'])"
    )
    assert loaded_after(script, LAUNCHER_HEAVY) == []
