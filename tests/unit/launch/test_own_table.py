"""A table of one's own in the launcher: ``init`` writes the schema, ``--schema`` (or
MPG_SCHEMA, or the config file's ``schema``) is checked before anything is sent, uploaded beside
the raw splits and handed to preprocessing; the pipeline's gate and the tuner's objective
follow the schema's task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpg_core.table_schema import load_schema
from mpg_launch.cli.main import main
from mpg_launch.pipeline.checks import check_definition
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.settings.config import load_config

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}
SCHEMA_LOCAL_PATH = "/opt/ml/processing/input/schema"


def no_clients(config: object, out: object) -> object:
    raise AssertionError("nothing may be sent")


def _dry_run(argv: list[str], env: dict[str, str] | None = None) -> list[dict]:
    lines: list[str] = []
    assert main([*argv, "--dry-run"], env=env or ENV, factory=no_clients, out=lines.append) == 0
    return [json.loads(chunk) for chunk in lines]


# --- init ---------------------------------------------------------------------------------------


def test_init_infers_the_task_and_the_roles(tables: Path) -> None:
    iris = load_schema(tables / "iris.toml")
    assert (iris.target, iris.task) == ("species", "classification")
    assert iris.feature_columns == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    diabetes = load_schema(tables / "diabetes.toml")
    assert (diabetes.target, diabetes.task) == ("progression", "regression")
    assert len(diabetes.feature_columns) == 10
    text = (tables / "iris.toml").read_text()
    assert "# the target 'species' holds text" in text  # the reason, beside the inference


def test_init_task_flag_overrides_the_inference(tables: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.toml"
    argv = ["init", "--table", str(tables / "diabetes.csv"), "--target", "sex"]
    assert main([*argv, "--task", "classification", "--out", str(out)], out=print) == 0
    assert load_schema(out).task == "classification"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--target", "colour"], "target column 'colour' is not in the table"),
        (["--target", "species", "--out", "{tables}/iris.toml"], "exists; pass --force"),
        (["--target", "species", "--task", "regression"], "needs a numeric target"),
    ],
)
def test_init_errors_are_one_line_and_exit_2(
    tables: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    argv = [a.replace("{tables}", str(tables)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "x.toml")]
    assert main(["init", "--table", str(tables / "iris.csv"), *argv]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1, err


def test_init_on_a_missing_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.csv"
    assert main(["init", "--table", str(missing), "--target", "y"]) == 2
    assert str(missing) in capsys.readouterr().err


def test_init_on_a_constant_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "t.csv"
    table.write_text("a,b,y\n1,2,x\n3,4,x\n5,6,x\n")
    assert (
        main(["init", "--table", str(table), "--target", "y", "--out", str(tmp_path / "s.toml")])
        == 2
    )
    assert "constant" in capsys.readouterr().err


# --- the schema on its way to the first job ----------------------------------------------------


def _schema_inputs(request: dict) -> list[dict]:
    return [i for i in request["ProcessingInputs"] if i["InputName"] == "schema"]


def test_preprocess_gets_the_schema_as_a_processing_input(tables: Path) -> None:
    (printed,) = _dry_run(["preprocess", "--schema", str(tables / "iris.toml")])
    (schema,) = _schema_inputs(printed["request"])
    assert schema["S3Input"]["S3Uri"] == "s3://my-bucket/mpg/data/bronze/schema/"
    assert schema["S3Input"]["LocalPath"] == SCHEMA_LOCAL_PATH
    assert schema["S3Input"]["S3DataDistributionType"] == "FullyReplicated"
    # The job reads it from its SageMaker path, its default; no argument is added.
    arguments = printed["request"]["AppSpecification"]["ContainerArguments"]
    assert not [a for a in arguments if "schema" in a]


def test_without_a_schema_the_request_is_as_before() -> None:
    (printed,) = _dry_run(["preprocess"])
    assert _schema_inputs(printed["request"]) == []


def test_mpg_schema_and_the_config_file_key_name_it_too(tables: Path, tmp_path: Path) -> None:
    (printed,) = _dry_run(["preprocess"], {**ENV, "MPG_SCHEMA": str(tables / "iris.toml")})
    assert _schema_inputs(printed["request"])
    config_file = tables / "launch.toml"  # a relative path is read from the file's folder
    config_file.write_text('schema = "iris.toml"\n')
    config = load_config(config_file, ENV)
    assert config.schema == str(tables / "iris.toml")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (None, "no such file; write one with `mpg-launch init"),
        ('target = "y"\ntask = "ranking"\n', "ranking"),
        ("target = \n", "not valid TOML"),
    ],
)
def test_a_bad_schema_is_refused_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, named: str
) -> None:
    path = tmp_path / "bad.toml"
    if text is not None:
        path.write_text(text)
    for argv in (["preprocess"], ["pipeline", "upsert"], ["pipeline", "start"], ["data"]):
        assert main([*argv, "--schema", str(path)], env=ENV, factory=no_clients) == 2
        err = capsys.readouterr().err
        assert f"schema {path}" in err and named in err, err


# --- per task: the pipeline's gate and the tuner's objective -----------------------------------


def _steps(definition: dict) -> dict[str, dict]:
    steps = {s["Name"]: s for s in definition["Steps"]}
    for step in list(steps.values()):
        for branch in ("IfSteps", "ElseSteps"):
            steps.update({s["Name"]: s for s in step["Arguments"].get(branch, [])})
    return steps


def test_a_classification_pipeline_gates_on_balanced_accuracy(tables: Path) -> None:
    config = load_config(None, {**ENV, "MPG_SCHEMA": str(tables / "iris.toml")})
    definition = build_definition(config)
    check_definition(definition)
    steps = _steps(definition)
    assert "CheckRmse" not in steps and "RmseThreshold" not in json.dumps(definition)
    # The condition reads the evaluate step's verdict; the absolute threshold on balanced
    # accuracy is the evaluate step's to apply.
    (condition,) = steps["CheckBalancedAccuracy"]["Arguments"]["Conditions"]
    assert condition["Type"] == "Equals" and condition["RightValue"] is True
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "gate.passed"
    flags = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert {
        "Std:Join": {
            "On": "",
            "Values": ["--absolute-threshold=", {"Get": "Parameters.BalancedAccuracyThreshold"}],
        }
    } in flags
    # No absolute bar by default: the baseline and approved checks gate a user's table.
    assert {"Name": "BalancedAccuracyThreshold", "Type": "Float", "DefaultValue": 0.0} in (
        definition["Parameters"]
    )
    message = steps["BalancedAccuracyTooLow"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[0] == "Test balanced accuracy"
    assert message[1]["Std:JsonGet"]["Path"] == "classification_metrics.balanced_accuracy.value"
    assert message[3]["Std:JsonGet"]["Path"] == "gate.reason"
    # The preprocessing step reads the schema beside whatever data the run is given.
    (schema,) = _schema_inputs(steps["Preprocess"]["Arguments"])
    assert schema["S3Input"]["S3Uri"] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.InputData"}, "/schema/"]}
    }


def test_the_launcher_checks_each_gates_threshold_by_its_name() -> None:
    # preflight cannot import tasks (config imports preflight, tasks imports config): the
    # names it checks -P values under must stay the gates' own.
    from mpg_launch.settings import preflight
    from mpg_launch.table import tasks

    assert tasks.REGRESSION.gate.parameter == preflight.RMSE_THRESHOLD
    assert tasks.CLASSIFICATION.gate.parameter == preflight.BALANCED_ACCURACY_THRESHOLD


def test_a_regression_schema_keeps_auto_mpgs_gate(tables: Path) -> None:
    mine = build_definition(load_config(None, {**ENV, "MPG_SCHEMA": str(tables / "diabetes.toml")}))
    auto_mpg = build_definition(load_config(None, ENV))
    assert [s["Name"] for s in mine["Steps"]] == [s["Name"] for s in auto_mpg["Steps"]]
    assert _steps(mine)["CheckRmse"]["Arguments"] == _steps(auto_mpg)["CheckRmse"]["Arguments"]
    # Auto MPG's absolute bar is in mpg; a user's table has no absolute bar unless they set one
    # (a diabetes progression score's RMSE is about 55: "at most 4.0" would refuse every model).
    defaults = {p["Name"]: p["DefaultValue"] for p in mine["Parameters"]}
    assert defaults["RmseThreshold"] == 0.0
    assert {p["Name"]: p["DefaultValue"] for p in auto_mpg["Parameters"]}["RmseThreshold"] == 4.0


@pytest.mark.parametrize(
    ("table", "direction", "metric"),
    [("iris", "Maximize", "validation:balanced_accuracy"), (None, "Minimize", "validation:rmse")],
)
def test_the_tuner_objective_follows_the_task(
    tables: Path, table: str | None, direction: str, metric: str
) -> None:
    env = {**ENV, "MPG_SCHEMA": str(tables / f"{table}.toml")} if table else ENV
    (printed,) = _dry_run(["tune", "--preprocessing-job", "p1"], env)
    objective = printed["request"]["HyperParameterTuningJobConfig"][
        "HyperParameterTuningJobObjective"
    ]
    assert objective == {"Type": direction, "MetricName": metric}
    names = {
        d["Name"]
        for d in printed["request"]["TrainingJobDefinition"]["AlgorithmSpecification"][
            "MetricDefinitions"
        ]
    }
    assert metric in names  # the objective is a metric the job's logs are read for


def test_the_schema_file_is_read_once_per_command(
    tables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The processing request, the tuner's objective and the pipeline's gate all need the
    schema; the file is read once, and again only when it changes."""
    import mpg_core.table_schema

    schema = tmp_path / "iris.toml"
    schema.write_bytes((tables / "iris.toml").read_bytes())
    reads: list[Path] = []
    real = mpg_core.table_schema.load_schema

    def counted(path: Path) -> object:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(mpg_core.table_schema, "load_schema", counted)
    env = {**ENV, "MPG_SCHEMA": str(schema)}
    _dry_run(["pipeline", "definition"], env)
    assert len(reads) == 1
    schema.write_text(schema.read_text() + "\n# edited\n")
    _dry_run(["pipeline", "definition"], env)
    assert len(reads) == 2
