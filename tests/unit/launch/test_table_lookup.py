"""Every command given a table finds its schema through one lookup (explicit --schema or
MPG_SCHEMA first, then the schema remembered in the local state, else an error naming the file
and the command that writes it), and works in the table's own prefix and endpoint, as
quickstart lays them out. ``init`` remembers the schema it writes. All dry runs: nothing is
sent, and the printed requests show what each command would do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mpg_launch.cli.main import main
from mpg_launch.table.remembered import schema_path

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("nothing may be sent")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def env(state: Path) -> dict[str, str]:
    return {**ENV, "MPG_LOCAL_STATE_DIR": str(state)}


def _remember(state: Path, tables: Path, name: str) -> Path:
    """The schema ``init`` wrote for ``name``, remembered as quickstart remembers it."""
    path = schema_path(state, tables / f"{name}.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tables / f"{name}.toml", path)
    return path


def _dry_run(argv: list[str], env: dict[str, str]) -> tuple[list[str], list[dict]]:
    """The lines printed and the requests among them."""
    lines: list[str] = []
    assert main([*argv, "--dry-run"], env=env, factory=no_clients, out=lines.append) == 0
    requests = [json.loads(line)["request"] for line in lines if line.startswith("{")]
    return [line for line in lines if not line.startswith("{")], requests


def _inputs(request: dict) -> dict[str, str]:
    return {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]}


def test_preprocess_finds_the_remembered_schema_in_the_tables_prefix(
    tables: Path, state: Path, env: dict[str, str]
) -> None:
    remembered = _remember(state, tables, "iris")
    lines, (request,) = _dry_run(["preprocess", "--table", str(tables / "iris.csv")], env)
    assert lines == [f"schema: {remembered} (remembered for table iris)"]
    inputs = _inputs(request)
    assert inputs["schema"] == "s3://my-bucket/mpg/iris/data/bronze/schema/"
    assert inputs["train"] == "s3://my-bucket/mpg/iris/data/bronze/train/"
    outputs = [o["S3Output"]["S3Uri"] for o in request["ProcessingOutputConfig"]["Outputs"]]
    assert all(uri.startswith("s3://my-bucket/mpg/iris/preprocess/") for uri in outputs)
    # The table by its name, or from MPG_TABLE, is the same table.
    _, (by_name,) = _dry_run(["preprocess", "--table", "iris"], env)
    _, (by_env,) = _dry_run(["preprocess"], {**env, "MPG_TABLE": str(tables / "iris.csv")})
    assert _inputs(by_name) == _inputs(by_env) == inputs


def test_the_tables_task_sets_tuning_and_the_pipelines_gate(
    tables: Path, state: Path, env: dict[str, str]
) -> None:
    _remember(state, tables, "iris")
    argv = ["tune", "--table", "iris", "--preprocessing-job", "iris-prep-1", "--job-name", "t1"]
    _, (tuning,) = _dry_run(argv, env)
    objective = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert objective == {"Type": "Maximize", "MetricName": "validation:balanced_accuracy"}
    training = tuning["TrainingJobDefinition"]
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in training["InputDataConfig"]
    }
    assert channels["train"].startswith("s3://my-bucket/mpg/iris/preprocess/iris-prep-1/")

    lines: list[str] = []
    argv = ["pipeline", "definition", "--table", "iris"]
    assert main(argv, env=env, factory=no_clients, out=lines.append) == 0
    definition = json.loads("\n".join(line for line in lines if not line.startswith("schema:")))
    steps = {step["Name"] for step in definition["Steps"]}
    assert "CheckBalancedAccuracy" in steps and "CheckRmse" not in steps


def test_train_and_deploy_use_the_tables_prefix_and_endpoint(
    tables: Path, state: Path, env: dict[str, str]
) -> None:
    _remember(state, tables, "diabetes")
    argv = ["train", "--table", "diabetes", "--preprocessing-job", "diabetes-prep-1"]
    _, (training,) = _dry_run([*argv, "--job-name", "diabetes-train-1"], env)
    assert training["OutputDataConfig"]["S3OutputPath"].startswith("s3://my-bucket/mpg/diabetes/")
    _, requests = _dry_run(
        ["deploy", "--table", "diabetes", "--training-job", "diabetes-train-1"], env
    )
    model = requests[0]["PrimaryContainer"]["ModelDataUrl"]
    assert model.startswith("s3://my-bucket/mpg/diabetes/training/diabetes-train-1/")
    assert requests[-1]["EndpointName"] == "diabetes"
    # --endpoint still names another endpoint.
    _, requests = _dry_run(
        ["deploy", "--table", "diabetes", "--training-job", "t", "--endpoint", "other"], env
    )
    assert requests[-1]["EndpointName"] == "other"


def test_an_explicit_schema_comes_first(tables: Path, state: Path, env: dict[str, str]) -> None:
    _remember(state, tables, "iris")  # a classification schema, remembered
    argv = ["tune", "--table", "iris", "--preprocessing-job", "p", "--job-name", "t1"]
    for given in (
        ["--schema", str(tables / "diabetes.toml")],
        [],  # MPG_SCHEMA below
    ):
        run_env = env if given else {**env, "MPG_SCHEMA": str(tables / "diabetes.toml")}
        lines, (tuning,) = _dry_run([*argv, *given], run_env)
        assert lines == []  # nothing looked up, nothing said
        objective = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        assert objective["MetricName"] == "validation:rmse"  # diabetes.toml's task


@pytest.mark.parametrize(
    "argv",
    [
        ["preprocess"],
        ["train", "--preprocessing-job", "p"],
        ["tune", "--preprocessing-job", "p"],
        ["deploy", "--training-job", "t"],
        ["predict", "--file", "rows.csv"],
        ["transform", "--endpoint", "e"],
        ["pipeline", "upsert"],
        ["pipeline", "start"],
        ["pipeline", "definition"],
        ["monitor", "run", "--endpoint", "e"],
        ["data"],
    ],
)
def test_a_table_without_a_schema_says_what_to_run_and_where_it_looked(
    tmp_path: Path,
    state: Path,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    table = tmp_path / "sales.csv"
    table.write_text("a,b,y\n1,2,3\n")
    code = main([*argv, "--table", str(table), "--dry-run"], env=env, factory=no_clients)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"none remembered at {state / 'tables' / 'sales' / 'schema.toml'}" in err
    assert f"`mpg-launch quickstart --table {table} --target COLUMN`" in err
    assert f"`mpg-launch init --table {table} --target COLUMN`" in err
    assert err.count("\n") == 1


def test_init_remembers_the_schema_it_writes_and_later_commands_find_it(
    tables: Path, tmp_path: Path, state: Path, env: dict[str, str]
) -> None:
    lines: list[str] = []
    out = tmp_path / "iris-schema.toml"
    table = tables / "iris.csv"
    argv = ["init", "--table", str(table), "--target", "species", "--out", str(out)]
    assert main(argv, env=env, out=lines.append) == 0
    remembered = state / "tables" / "iris" / "schema.toml"
    assert remembered.read_text() == out.read_text()
    assert f"remembered it at {remembered}:" in lines[-1]
    assert "replacing" not in lines[-1]

    said, (request,) = _dry_run(["preprocess", "--table", str(table)], env)
    assert said == [f"schema: {remembered} (remembered for table iris)"]
    assert _inputs(request)["schema"] == "s3://my-bucket/mpg/iris/data/bronze/schema/"

    # Again, for another target: the remembered copy is replaced, and says so.
    again = tmp_path / "again.toml"
    argv = ["init", "--table", str(table), "--target", "petal_width", "--out", str(again)]
    assert main(argv, env=env, out=lines.append) == 0
    assert "(replacing the one remembered before)" in lines[-1]
    assert 'target = "petal_width"' in remembered.read_text()


def test_data_takes_the_tables_file_and_its_prefix(
    tables: Path, state: Path, env: dict[str, str]
) -> None:
    _remember(state, tables, "iris")
    lines: list[str] = []
    argv = ["data", "--table", str(tables / "iris.csv"), "--dry-run"]
    assert main(argv, env=env, factory=no_clients, out=lines.append) == 0
    keys = [json.loads(line)["request"]["Key"] for line in lines if line.startswith("{")]
    assert "mpg/iris/data/bronze/train/train.csv" in keys
    assert all(key.startswith("mpg/iris/data/") for key in keys)


def test_quickstart_takes_an_explicit_schema_first(
    tables: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    table, schema = tables / "iris.csv", tables / "iris.toml"
    argv = ["quickstart", "--table", str(table), "--target", "species", "--schema", str(schema)]
    lines, requests = _dry_run(argv, env)
    assert lines[0] == f"schema: {schema} (given)"
    assert not any(line.startswith("[[column]]") for line in lines)  # nothing inferred
    assert _inputs(requests[-1])["schema"] == "s3://my-bucket/mpg/iris/data/bronze/schema/"

    argv[argv.index("species")] = "petal_width"
    code = main([*argv, "--dry-run"], env=env, factory=no_clients)
    err = capsys.readouterr().err
    assert code == 2 and "predicts 'species' (classification), not --target petal_width" in err


def test_a_config_files_table_is_read_from_the_files_folder(
    tables: Path, tmp_path: Path, state: Path, env: dict[str, str]
) -> None:
    _remember(state, tables, "iris")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(tables / "iris.csv", project)
    config = project / "mpg.toml"
    config.write_text('table = "iris.csv"\n')
    lines: list[str] = []
    argv = ["data", "--config", str(config), "--dry-run"]
    assert main(argv, env=env, factory=no_clients, out=lines.append) == 0
    keys = [json.loads(line)["request"]["Key"] for line in lines if line.startswith("{")]
    assert "mpg/iris/data/bronze/train/train.csv" in keys  # project/iris.csv, read
