from pathlib import Path

import pytest

from mpg_core.errors import ConfigError
from mpg_serving.app import execution_parameters
from mpg_serving.gunicorn_conf import gunicorn_options
from mpg_serving.settings import ServeSettings


def test_defaults_follow_sagemaker() -> None:
    s = ServeSettings.from_env({})
    assert s.port == 8080
    assert s.model_dir == Path("/opt/ml/model")
    assert s.max_payload_bytes == 6 * 1024 * 1024
    assert s.timeout == 60 and s.workers >= 1 and not s.batch


def test_environment_overrides() -> None:
    s = ServeSettings.from_env(
        {
            "SAGEMAKER_BIND_TO_PORT": "9001",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_BATCH_STRATEGY": "single_record",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "4",
            "SAGEMAKER_BASE_DIR": "/tmp/ml",
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json",
        }
    )
    assert (s.port, s.workers, s.timeout, s.max_payload_mb) == (9001, 3, 120, 20)
    assert s.batch and s.batch_strategy == "SINGLE_RECORD" and s.max_concurrent_transforms == 4
    assert s.model_dir == Path("/tmp/ml/model") and s.default_accept == "application/json"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SAGEMAKER_BIND_TO_PORT": "http"}, "is not an integer"),
        ({"SAGEMAKER_BIND_TO_PORT": "70000"}, "is not a TCP port"),
        ({"SAGEMAKER_MODEL_SERVER_WORKERS": "0"}, "must be at least 1"),
        ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "101"}, "exceeds SageMaker's 100 MB"),
        ({"SAGEMAKER_BATCH_STRATEGY": "ALL"}, "expected SINGLE_RECORD or MULTI_RECORD"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServeSettings.from_env(env)


def test_gunicorn_options_meet_the_platform_limits() -> None:
    s = ServeSettings.from_env(
        {"SAGEMAKER_BIND_TO_PORT": "9001", "SAGEMAKER_MODEL_SERVER_WORKERS": "3"}
    )
    options = gunicorn_options(s)
    assert options["bind"] == ["0.0.0.0:9001"]
    assert options["workers"] == 3
    assert options["graceful_timeout"] < 30  # SIGKILL comes 30 s after SIGTERM
    assert options["preload_app"] is True  # model loaded before the port opens
    assert options["timeout"] >= 60


def test_execution_parameters_stay_within_the_100_mb_budget() -> None:
    s = ServeSettings.from_env(
        {"SAGEMAKER_MODEL_SERVER_WORKERS": "40", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "6"}
    )
    params = execution_parameters(s)
    assert params == {
        "MaxConcurrentTransforms": 16,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }
    assert params["MaxConcurrentTransforms"] * params["MaxPayloadInMB"] <= 100
