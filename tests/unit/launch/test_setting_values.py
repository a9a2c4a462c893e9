"""One coercion for every setting: the config reader and the [autoscaling], [serverless],
[data_capture], [async] and [rollout] readers take and refuse the same values (the stricter
rule of the three coercers that were)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from mpg_launch.cli.main import build_parser
from mpg_launch.errors import ConfigError
from mpg_launch.settings import declared, values
from mpg_launch.settings.config import LaunchConfig, load_config
from mpg_launch.settings.readme import generated as generated_readme

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}
# A whole-number setting and a switch of each reader, as a config file spells them.
WHOLE_NUMBERS = {
    "instances": "[instances.processing]\ncount = {}\n",
    "config": "volume_size_gb = {}\n",
    "autoscaling": "[autoscaling]\ntarget_invocations_per_instance = 5\nmax_instances = {}\n",
    "serverless": "[serverless]\nmax_concurrency = {}\n",
    "rollout": '[rollout]\nmode = "canary"\nstep_percent = {}\n',
    "async": "[async]\nmax_capacity = {}\n",
}
SWITCHES = {
    "config": "network_isolation = {}\n",
    "data_capture": "[data_capture]\ncapture_input = {}\n",
    "rollout": "[rollout]\ncreate_alarms = {}\n",
}


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "mpg.toml"
    path.write_text(text)
    return load_config(path, ENV)


@pytest.mark.parametrize("reader", sorted(WHOLE_NUMBERS))
@pytest.mark.parametrize("spelled", ["2", '"2"'])
def test_every_reader_takes_a_whole_number(tmp_path: Path, reader: str, spelled: str) -> None:
    _load(tmp_path, WHOLE_NUMBERS[reader].format(spelled))


@pytest.mark.parametrize("reader", sorted(WHOLE_NUMBERS))
@pytest.mark.parametrize("spelled", ["2.0", '"2.0"', "2.5", "true"])
def test_every_reader_refuses_what_is_not_a_whole_number(
    tmp_path: Path, reader: str, spelled: str
) -> None:
    with pytest.raises(ConfigError):
        _load(tmp_path, WHOLE_NUMBERS[reader].format(spelled))


@pytest.mark.parametrize("reader", sorted(SWITCHES))
@pytest.mark.parametrize("spelled", ["false", '"false"', '"False"'])
def test_every_reader_takes_true_or_false(tmp_path: Path, reader: str, spelled: str) -> None:
    _load(tmp_path, SWITCHES[reader].format(spelled))


@pytest.mark.parametrize("reader", sorted(SWITCHES))
@pytest.mark.parametrize("spelled", ['"yes"', '"no"', '"1"', "1", "0.5"])
def test_every_reader_refuses_what_is_not_true_or_false(
    tmp_path: Path, reader: str, spelled: str
) -> None:
    with pytest.raises(ConfigError):
        _load(tmp_path, SWITCHES[reader].format(spelled))


def test_a_string_setting_is_not_made_from_a_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give a string"):
        _load(tmp_path, "prefix = 5\n")
    with pytest.raises(ConfigError, match="destination=5 is not a string"):
        _load(tmp_path, "[data_capture]\ndestination = 5\n")


@pytest.mark.parametrize(
    ("hint", "value", "expected"),
    [
        (int, " 7 ", 7),
        (int | None, "-3", -3),
        (float, "0.25", 0.25),
        (float, 3, 3.0),
        (bool, "TRUE", True),
        (str, "s3://b/k", "s3://b/k"),
        (tuple[str, ...], "a, b,,", ("a", "b")),
        (tuple[str, ...], ["a", "b"], ("a", "b")),
    ],
)
def test_the_one_coercion(hint: object, value: object, expected: object) -> None:
    assert values.of_type(hint, value) == expected


@pytest.mark.parametrize(
    ("hint", "value"),
    [(int, 2.0), (int, True), (float, "nan"), (float, False), (bool, "yes"), (str, 5)],
)
def test_the_one_coercion_refuses(hint: object, value: object) -> None:
    with pytest.raises(ValueError):
        values.of_type(hint, value)


def test_every_setting_is_declared_once() -> None:
    declared_keys = [s.key for s in declared.SETTINGS]
    assert len(declared_keys) == len(set(declared_keys))
    assert set(declared_keys) == {f.name for f in fields(LaunchConfig)} - {"sources"}


SAMPLES = {
    "region": "eu-west-2",
    "role_arn": "arn:aws:iam::123456789012:role/Other",
    "bucket": "other-bucket",
    "prefix": "elsewhere",
    "account_id": "123456789012",
    "image_tag": "git-1",
    "local_image_tag": "dev",
    "image_registry": "127.0.0.1:5000",
    "local_state_dir": "/tmp/state",
    "local_s3": "aws",
    "schema": "table.toml",
    "table": "diabetes.csv",
}


def test_the_environment_reader_and_the_parser_come_from_the_declarations() -> None:
    for setting in declared.SETTINGS:
        for var in setting.env:
            env = {k: v for k, v in ENV.items() if declared.ENV_KEYS.get(k) != setting.key}
            config = load_config(None, {**env, var: SAMPLES[setting.key]})
            assert getattr(config, setting.key) == SAMPLES[setting.key], var
            assert config.source(setting.key) == var
    train = build_parser().parse_args(["train", "--preprocessing-job", "p"])
    for setting in declared.SETTINGS:
        if setting.help:  # a common flag: every subcommand has it
            assert setting.dest in vars(train), setting.flag


def test_the_readmes_settings_table_matches_the_declarations() -> None:
    """Each declared setting has its row in launch/README.md's settings table, naming its flag
    and its environment variables."""
    readme = (Path(__file__).resolve().parents[3] / "launch" / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n\n### ", 1)[0]
    rows = [
        line for line in table.splitlines() if line.startswith("| `") or line.startswith("| `[")
    ]
    spelled = {"async_inference": "async", "instances": "instances.<stage>"}
    for setting in declared.SETTINGS:
        name = spelled.get(setting.key, setting.key)
        key = f"`[{name}]`" if setting.kind == declared.TABLE else f"`{name}`"
        (cells,) = [
            cells
            for cells in ([c.strip() for c in r.strip().strip("|").split("|")] for r in rows)
            if key in cells[0]
        ]
        if setting.flag:
            assert f"`{setting.flag}" in cells[1], (setting.key, cells[1])
        for var in setting.env:
            assert f"`{var}`" in cells[2], (setting.key, var)
    # Both tables are what `make readme` writes from the declarations, to the character.
    assert readme == generated_readme(readme), "launch/README.md is out of date: run make readme"


def test_local_s3_takes_a_folder_or_aws_only() -> None:
    assert load_config(None, ENV).local_s3 == "folder"
    with pytest.raises(ConfigError, match="local_s3 'moto': give one of folder, aws; fix MPG_"):
        load_config(None, {**ENV, "MPG_LOCAL_S3": "moto"})


def test_readme_exit_codes_are_the_table_s() -> None:
    """Every "exits with code N" in launch/README.md is a row of its exit-code table, and the
    rolled-back rollout exits 1, as JobFailed does."""
    import re

    from mpg_launch.errors import JobFailed

    readme = (Path(__file__).resolve().parents[3] / "launch" / "README.md").read_text()
    table = {int(code) for code in re.findall(r"^\| (\d+) \|", readme, re.MULTILINE)}
    claimed = {int(code) for code in re.findall(r"exits? with code (\d+)", readme)}
    assert table >= {0, 1, 2, 130} and claimed <= table
    rolled_back = re.search(r"rolls the update back.*?exits with code (\d+)", readme, re.DOTALL)
    assert rolled_back is not None and int(rolled_back.group(1)) == JobFailed.exit_code


def test_every_key_of_deploys_tables_is_declared_once_with_its_type() -> None:
    """[autoscaling], [serverless], [data_capture], [async] and [rollout]: one declaration per
    key (mpg_launch.settings.declared), whose type is the settings object's field's, and the
    parser's flags of those tables are the declared ones."""
    import typing

    from mpg_launch.endpoint import rollout_settings
    from mpg_launch.endpoint import settings as endpoint_settings

    objects = {**endpoint_settings.SECTIONS, "rollout": rollout_settings.Rollout}
    declared_pairs = [(k.table, k.key) for k in declared.TABLE_KEYS]
    assert len(declared_pairs) == len(set(declared_pairs))
    assert set(declared.TABLES) == set(objects)
    for table, cls in objects.items():
        hints = typing.get_type_hints(cls)
        keys = declared.table_keys(table)
        assert set(keys) == {f.name for f in fields(cls)}, table
        for name, key in keys.items():
            assert values.base(hints[name]) == key.kind, (table, name)
    deploy = build_parser().parse_args(["deploy", "--training-job", "t"])
    for key in declared.TABLE_KEYS:
        if key.flag and not key.special:
            assert key.key in vars(deploy), key.flag


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[serverless]\nmax_concurrency = 201\n", "max_concurrency=201 must be 1 to 200"),
        ("[data_capture]\nsampling_percentage = 101\n", "sampling_percentage=101 must be 0 to 100"),
        ('[rollout]\nmode = "canary"\nwait_seconds = 3601\n', "wait_seconds=3601 must be 0-3600"),
        ("[async]\nmax_payload_mb = 1025\n", "max_payload_mb=1025 must be 1 to 1024"),
    ],
)
def test_the_declared_bounds_are_the_checked_ones(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_the_generated_tables_follow_a_changed_declaration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's tables are made from the declarations: a declaration's new bounds are a
    new row (so a README that was not regenerated fails the test above)."""
    from dataclasses import replace

    from mpg_launch.settings import readme

    readme_text = (Path(__file__).resolve().parents[3] / "launch" / "README.md").read_text()
    assert readme.generated(readme_text) == readme_text
    changed = tuple(
        replace(k, maximum=300) if k.key == "max_concurrency" else k for k in declared.TABLE_KEYS
    )
    monkeypatch.setattr(declared, "TABLE_KEYS", changed)
    assert "| 1 to 300 |" in readme.table_keys_table()
    assert readme.generated(readme_text) != readme_text


def test_every_key_of_the_monitor_table_is_declared_once_with_its_type() -> None:
    """[monitor]: one declaration per key (MONITOR_KEYS), whose type is MonitorSettings'
    field's; every declared flag is a flag of every monitor action, setting its key."""
    import typing

    from mpg_launch.monitor.settings import MonitorSettings, with_flags

    keys = [k.key for k in declared.MONITOR_KEYS]
    assert len(keys) == len(set(keys))
    assert set(keys) == {f.name for f in fields(MonitorSettings)}
    hints = typing.get_type_hints(MonitorSettings)
    for key in declared.MONITOR_KEYS:
        assert values.base(hints[key.key]) == key.kind, key.key
    flagged = [k for k in declared.MONITOR_KEYS if k.flag]
    assert set(keys) - {k.key for k in flagged} == {"quality_alarms"}
    # A value each flag takes, spelled as on a command line.
    given = {k.key: "0.5" if k.kind is float else f"s3://b/{k.key}" for k in flagged}
    given |= {"monitor_name": "m-1", "schedule": "rate(2 hours)", "instance_type": "ml.c5.xlarge"}
    for action in ("run", "schedule", "list", "delete"):
        argv = ["monitor", action]
        for k in flagged:
            argv += [str(k.flag), given[k.key]]
        settings = with_flags(None, build_parser().parse_args(argv))
        for k in flagged:
            expected = float(given[k.key]) if k.kind is float else given[k.key]
            assert getattr(settings, k.key) == expected, (action, k.flag)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--window-hours", "721", "window_hours = 721.0 must be from 0.0 to 720.0"),
        ("--p-value-threshold", "1.5", "p_value_threshold = 1.5 must be from 0 to 1"),
        ("--alarm-threshold", "x", "alarm_threshold = 'x' is not a number"),
    ],
)
def test_the_monitor_flags_are_checked_by_the_declared_bounds(
    flag: str, value: str, message: str
) -> None:
    from mpg_launch.monitor.settings import with_flags

    args = build_parser().parse_args(["monitor", "run", flag, value])
    with pytest.raises(ConfigError, match=message):
        with_flags(None, args)


def test_the_monitor_table_follows_a_changed_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from mpg_launch.monitor.settings import readme_table
    from mpg_launch.settings import readme

    readme_text = (Path(__file__).resolve().parents[3] / "launch" / "README.md").read_text()
    assert readme_table() in readme_text
    changed = tuple(
        replace(k, maximum=48.0) if k.key == "window_hours" else k for k in declared.MONITOR_KEYS
    )
    monkeypatch.setattr(declared, "MONITOR_KEYS", changed)
    assert "| `window_hours` | `--window-hours` | number | 0 to 48 | 1 |" in readme_table()
    assert readme.generated(readme_text) != readme_text
