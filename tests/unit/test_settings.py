"""Settings: defaults, precedence of the AWS variables, and one clear line per bad setting."""

import json
import re
import subprocess
import sys

import pytest

from worker.lanes import Lane
from worker.settings import DedupeBackend, SettingsError, load_settings

REQUIRED = {
    "RESEND_QUEUE_URL": "http://127.0.0.1:1/123456789012/requests",
    "RESEND_RESULT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:results",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("RESEND_", "AWS_REGION", "AWS_DEFAULT_REGION")):
            monkeypatch.delenv(name)


def test_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.dedupe_backend is DedupeBackend.MEMORY
    assert settings.region == "us-east-1"
    assert settings.user_pool_region == "us-east-1"
    assert not settings.is_fifo_queue


def test_aws_region_and_cognito_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("RESEND_COGNITO_REGION", "eu-central-1")
    settings = load_settings()
    assert (settings.region, settings.user_pool_region) == ("eu-west-1", "eu-central-1")


def test_missing_required_are_each_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.problems == [
        "RESEND_QUEUE_URL: is required but not set",
        "RESEND_RESULT_TOPIC_ARN: is required but not set",
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RESEND_CONCURRENCY", "lots", "RESEND_CONCURRENCY: Input should be a valid integer"),
        (
            "RESEND_CONCURRENCY",
            "0",
            "RESEND_CONCURRENCY: Input should be greater than or equal to 1",
        ),
        ("RESEND_RECEIVE_WAIT_SECONDS", "21", "RESEND_RECEIVE_WAIT_SECONDS"),
        ("RESEND_VISIBILITY_TIMEOUT_SECONDS", "50000", "RESEND_VISIBILITY_TIMEOUT_SECONDS"),
        ("RESEND_RESULT_TOPIC_ARN", "not-an-arn", "RESEND_RESULT_TOPIC_ARN: String should match"),
        ("AWS_REGION", "Mars", "AWS_REGION: String should match"),
        ("RESEND_DEDUPE_BACKEND", "postgres", "RESEND_DEDUPE_BACKEND: Input should be"),
        ("RESEND_DEDUPE_BACKEND", "redis", "RESEND_DEDUPE_BACKEND=redis needs RESEND_REDIS_URL"),
        ("RESEND_DEDUPE_BACKEND", "dynamodb", "needs RESEND_DEDUPE_TABLE"),
        ("RESEND_LOG_LEVEL", "loud", "RESEND_LOG_LEVEL"),
        (
            "RESEND_DEDUPE_FAIL_OPEN",
            "maybe",
            "RESEND_DEDUPE_FAIL_OPEN: Input should be a valid boolean",
        ),
        ("RESEND_METRICS_PORT", "70000", "RESEND_METRICS_PORT"),
        ("RESEND_RETRY_MAX_SECONDS", "40", "under half of RESEND_VISIBILITY_TIMEOUT_SECONDS"),
        ("RESEND_COGNITO_MAX_RPS", "-1", "RESEND_COGNITO_MAX_RPS"),
    ],
)
def test_bad_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str) -> None:
    for required, good in REQUIRED.items():
        monkeypatch.setenv(required, good)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_client_secrets_json(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RESEND_CLIENT_SECRETS", json.dumps({"client1": "topsecret"}))
    settings = load_settings()
    assert settings.client_secrets is not None
    assert settings.client_secrets["client1"].get_secret_value() == "topsecret"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"client1": "topsecret"', "RESEND_CLIENT_SECRETS: is not valid JSON"),
        ('["topsecret"]', "must be a JSON object"),
        ('{"client1": 12345}', "the secret of entry 1 must be a non-empty string"),
        ('{"client1": ""}', "must be a non-empty string"),
        ('{"client1": "\\ud800"}', "must be a non-empty string"),
        ('{"client1": 1' + "0" * 5000 + "}", "the secret of entry 1 must be"),
        ('{"client1": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"client1": 1e999999}', "the secret of entry 1 must be"),
        ('{"topsecret-value": "x"}', "the key of entry 1 is not an app client id"),
        ("   ", "RESEND_CLIENT_SECRETS: is empty"),
    ],
)
def test_bad_client_secrets_never_echo_the_secret(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    for name, good in REQUIRED.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("RESEND_CLIENT_SECRETS", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert expected in text
    assert "topsecret" not in text and "12345" not in text


def test_cli_exits_non_zero_with_one_line_per_problem() -> None:
    env = {"PATH": "/usr/bin:/bin", "RESEND_CONCURRENCY": "x", "RESEND_CLIENT_SECRETS": "{bad"}
    completed = subprocess.run(
        [sys.executable, "-m", "worker", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert lines == [
        "resend-worker: bad setting: RESEND_QUEUE_URL: is required but not set",
        "resend-worker: bad setting: RESEND_RESULT_TOPIC_ARN: is required but not set",
        "resend-worker: bad setting: RESEND_CONCURRENCY: Input should be a valid integer, "
        "unable to parse string as an integer",
        "resend-worker: bad setting: RESEND_CLIENT_SECRETS: is not valid JSON (line 1 column 2)",
    ]
    assert completed.stdout == ""


SECRET = "hunter2-do-not-print"


# Each a bad value that holds the secret; all set at once, one process start.
BAD_SECRET_VALUES = {
    "RESEND_REDIS_URL": (f"http://:{SECRET}@cache:6379", "RESEND_REDIS_URL: must be a redis://"),
    "RESEND_RATE_LIMIT_REDIS_URL": (
        f"{SECRET}@cache:6379",
        "RESEND_RATE_LIMIT_REDIS_URL: must be a redis://",
    ),
    "RESEND_CLIENT_SECRETS": (f'{{"{SECRET}": 1}}', "the key of entry 1 is not an app client"),
    "RESEND_CONCURRENCY": (SECRET, "RESEND_CONCURRENCY: Input should be a valid integer"),
    "RESEND_RESULT_TOPIC_ARN": (SECRET, "RESEND_RESULT_TOPIC_ARN: String should match"),
    "RESEND_DEDUPE_BACKEND": (SECRET, "RESEND_DEDUPE_BACKEND: Input should be"),
    "RESEND_METRICS_PORT": (SECRET, "RESEND_METRICS_PORT: Input should be a valid integer"),
}


def test_cli_never_prints_the_value_of_a_bad_setting() -> None:
    env = {"PATH": "/usr/bin:/bin", **REQUIRED}
    env.update({name: value for name, (value, _) in BAD_SECRET_VALUES.items()})
    completed = subprocess.run(
        [sys.executable, "-m", "worker", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 2
    for _, expected in BAD_SECRET_VALUES.values():
        assert expected in completed.stderr, completed.stderr
    assert SECRET not in completed.stderr + completed.stdout
    assert "Traceback" not in completed.stderr


def test_redis_urls_are_secrets_that_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    url = f"redis://:{SECRET}@cache:6379/0"
    monkeypatch.setenv("RESEND_DEDUPE_BACKEND", "redis")
    monkeypatch.setenv("RESEND_REDIS_URL", url)
    monkeypatch.setenv("RESEND_RATE_LIMIT_REDIS_URL", url.replace("redis:", "rediss:"))
    settings = load_settings()
    assert settings.redis_url is not None and settings.rate_limit_redis_url is not None
    assert settings.redis_url.get_secret_value() == url
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings!s}"):
        assert SECRET not in shown


def test_pydantic_errors_hide_the_input_too() -> None:
    from pydantic import ValidationError

    from worker.settings import Settings

    with pytest.raises(ValidationError) as caught:
        Settings(queue_url="q", result_topic_arn=SECRET, concurrency=SECRET)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


@pytest.mark.parametrize(
    ("environment", "bound"),
    [
        ({}, 6_000),  # 10 calls a second x 300 s x 2
        ({"RESEND_COGNITO_MAX_RPS": "50"}, 30_000),
        ({"RESEND_COGNITO_MAX_RPS": "0.5", "RESEND_DEDUPE_WINDOW_SECONDS": "60"}, 1_000),
        ({"RESEND_COGNITO_MAX_RPS": "10000", "RESEND_DEDUPE_WINDOW_SECONDS": "86400"}, 10_000_000),
        ({"RESEND_DEDUPE_MAX_ENTRIES": "250", "RESEND_COGNITO_MAX_RPS": "1000"}, 250),
        ({"RESEND_DEDUPE_MAX_ENTRIES": ""}, 6_000),
    ],
)
def test_dedupe_bound_follows_the_rate_and_the_window_unless_set(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], bound: int
) -> None:
    for name, value in {**REQUIRED, **environment}.items():
        monkeypatch.setenv(name, value)
    assert load_settings().dedupe_bound == bound


@pytest.mark.parametrize("value", ["0", "-7", "99", "lots", "12345678"])
def test_dedupe_max_entries_refused_without_its_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    for name, good in REQUIRED.items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv("RESEND_DEDUPE_MAX_ENTRIES", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    (problem,) = caught.value.problems
    assert problem.startswith("RESEND_DEDUPE_MAX_ENTRIES: ")
    # The value never appears as a number or word of its own (a 0 inside "100" is the bound).
    assert re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w.])", problem) is None, problem


def test_one_lane_unless_a_bulk_queue_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RESEND_BULK_QUEUE_URL", "")
    settings = load_settings()
    assert list(settings.lanes.values()) == [REQUIRED["RESEND_QUEUE_URL"]]
    assert (settings.bulk_min_share, settings.bulk_horizon_seconds) == (0.1, 2.0)
    bulk = "http://127.0.0.1:1/123456789012/requests-bulk"
    monkeypatch.setenv("RESEND_BULK_QUEUE_URL", bulk)
    assert [lane.value for lane in load_settings().lanes] == ["interactive", "bulk"]
    assert load_settings().lanes[Lane.BULK] == bulk


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"RESEND_BULK_QUEUE_URL": REQUIRED["RESEND_QUEUE_URL"]},
            "RESEND_BULK_QUEUE_URL must not be RESEND_QUEUE_URL",
        ),
        ({"RESEND_BULK_MIN_SHARE": "0"}, "RESEND_BULK_MIN_SHARE: Input should be greater than 0"),
        (
            {"RESEND_BULK_MIN_SHARE": "0.9"},
            "RESEND_BULK_MIN_SHARE: Input should be less than or equal to 0.5",
        ),
        ({"RESEND_BULK_MIN_SHARE": "nan"}, "RESEND_BULK_MIN_SHARE"),
        (
            {"RESEND_BULK_HORIZON_SECONDS": "40"},
            "RESEND_BULK_HORIZON_SECONDS must be under half of RESEND_VISIBILITY_TIMEOUT_SECONDS",
        ),
    ],
)
def test_bad_lane_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str], expected: str
) -> None:
    for name, value in {**REQUIRED, **overrides}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(expected)
