"""LaunchConfig: precedence (flags > env > file > defaults) and one-line errors naming the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LOCAL_ROLE_ARN, Instances, load_config

ROLE = "arn:aws:iam::111122223333:role/SageMakerExecution"
BASE_ENV = {"MPG_REGION": "eu-west-1", "MPG_ROLE_ARN": ROLE, "MPG_BUCKET": "my-bucket"}


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mpg.toml"
    path.write_text(text)
    return path


def test_env_alone_is_enough_and_defaults_are_safe() -> None:
    config = load_config(env=BASE_ENV)
    assert (config.region, config.role_arn, config.bucket) == ("eu-west-1", ROLE, "my-bucket")
    assert config.network_isolation is True
    assert config.instance("training") == Instances("ml.m5.large", 1)
    assert config.account == "111122223333"
    assert config.image_uri("training") == (
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mpg-training:latest"
    )


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
region = "us-west-2"
bucket = "file-bucket"
prefix = "/from-file/"
image_tag = "git-abc"
[instances.training]
type = "ml.c5.xlarge"
count = 2
[tags]
project = "mpg"
""",
    )
    config = load_config(
        path,
        {"MPG_BUCKET": "env-bucket", "MPG_ROLE_ARN": ROLE},
        {"bucket": "flag-bucket", "region": None},
    )
    assert config.region == "us-west-2"  # file, since the flag was not given
    assert config.bucket == "flag-bucket"
    assert config.prefix == "from-file"
    assert config.instance("training") == Instances("ml.c5.xlarge", 2)
    assert config.tags == {"project": "mpg"}
    assert config.image_uri("serving").endswith("/mpg-serving:git-abc")


def test_mpg_region_wins_over_aws_region() -> None:
    config = load_config(env={**BASE_ENV, "AWS_REGION": "us-east-1"})
    assert config.region == "eu-west-1"


def test_json_config_file(tmp_path: Path) -> None:
    path = tmp_path / "mpg.json"
    path.write_text(
        json.dumps(
            {
                "region": "us-east-1",
                "role_arn": ROLE,
                "bucket": "b-json",
                "subnets": ["subnet-0123abcd"],
                "security_group_ids": ["sg-0123abcd"],
            }
        )
    )
    config = load_config(path, {})
    assert config.subnets == ("subnet-0123abcd",)


@pytest.mark.parametrize(
    ("env", "fix"),
    [
        ({"MPG_ROLE_ARN": ROLE, "MPG_BUCKET": "b1c"}, "--region"),
        ({"MPG_REGION": "us-east-1", "MPG_BUCKET": "b1c"}, "--role"),
        ({"MPG_REGION": "us-east-1", "MPG_ROLE_ARN": ROLE}, "--bucket"),
        ({**BASE_ENV, "MPG_ROLE_ARN": "SageMakerRole"}, "fix MPG_ROLE_ARN"),
        ({**BASE_ENV, "MPG_REGION": "Ireland"}, "fix MPG_REGION"),
        ({**BASE_ENV, "MPG_BUCKET": "Bad_Bucket"}, "fix MPG_BUCKET"),
    ],
)
def test_missing_or_bad_settings_name_the_fix(env: dict[str, str], fix: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env=env)
    message = str(caught.value)
    assert fix in message
    assert "\n" not in message


def test_local_runs_need_no_role() -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != "MPG_ROLE_ARN"}
    config = load_config(env=env, overrides={"local": True})
    assert config.role_arn == LOCAL_ROLE_ARN
    assert config.image_uri("serving") == "mpg-serving:latest"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('region = "us-east-1"\nbucket = ', "malformed"),
        ('regoin = "us-east-1"', "unknown key(s) ['regoin']"),
        ('[instances.trianing]\ntype = "ml.m5.large"', "unknown stage"),
        ('[images]\ntrainer = "x"', "unknown image"),
        ('network_isolation = "perhaps"', "network_isolation"),
    ],
)
def test_malformed_config_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_toml(tmp_path, text), BASE_ENV)
    assert expected in str(caught.value)


def test_missing_config_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_config(tmp_path / "absent.toml", BASE_ENV)


def test_spot_defaults_max_wait_and_checks_it(tmp_path: Path) -> None:
    config = load_config(write_toml(tmp_path, "spot = true\nmax_runtime_seconds = 600"), BASE_ENV)
    assert config.max_wait_seconds == 1200
    with pytest.raises(ConfigError, match="max_wait_seconds"):
        load_config(
            write_toml(tmp_path, "spot = true\nmax_runtime_seconds = 600\nmax_wait_seconds = 60"),
            BASE_ENV,
        )


def test_vpc_needs_subnets_and_security_groups() -> None:
    with pytest.raises(ConfigError, match="security_group_ids"):
        load_config(env=BASE_ENV, overrides={"subnets": "subnet-0123abcd"})


def test_image_registry_changes_only_the_push_target() -> None:
    config = load_config(env={**BASE_ENV, "MPG_IMAGE_REGISTRY": "127.0.0.1:5000"})
    assert config.image_uri("training") == "127.0.0.1:5000/mpg-training:latest"


def test_config_hyperparameters_are_checked_by_the_images_parser(tmp_path: Path) -> None:
    good = write_toml(
        tmp_path,
        '[hyperparameters]\nalgorithm = "random_forest"\nn_estimators = 200\n'
        'max_features = "sqrt"\n',
    )
    # Unchanged, as strings: the wire format; the image parses them again.
    assert load_config(good, BASE_ENV).hyperparameters == {
        "algorithm": "random_forest",
        "n_estimators": "200",
        "max_features": "sqrt",
    }
    bad = write_toml(tmp_path, '[hyperparameters]\nn_estimators = "many"\n')
    with pytest.raises(ConfigError) as err:
        load_config(bad, BASE_ENV)
    assert str(err.value) == (
        f"config file {bad} [hyperparameters]: "
        "hyperparameter n_estimators='many' must be an integer"
    )
    assert err.value.exit_code == 2
    unknown = write_toml(
        tmp_path, '[hyperparameters]\nalgorithm = "random_forest"\nlearning_rate = 0.1\n'
    )
    with pytest.raises(ConfigError, match=r"learning_rate does not apply to algorithm=random_f"):
        load_config(unknown, BASE_ENV)
