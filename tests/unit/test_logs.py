"""The last line of defence in logging: emails, phones and secret-named keys never get out."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import structlog
from botocore.exceptions import ClientError

from worker import logs
from worker.logs import (
    MAX_FIELD_CHARS,
    configure_logging,
    describe_error,
    scrub_event,
    username_hash,
)
from worker.settings import Settings


def test_scrub_masks_emails_phones_and_secret_keys() -> None:
    event = scrub_event(
        None,
        "info",
        {
            "event": "failed for jane.doe+x@example.co.uk at +447700900123",
            "client_secret": "abc",
            "SecretHash": "xyz=",
            "user": "1234abcd",
        },
    )
    assert event["event"] == "failed for <email> at <phone>"
    assert event["client_secret"] == "<redacted>" and event["SecretHash"] == "<redacted>"
    assert event["user"] == "1234abcd"


def test_username_hash_is_stable_and_not_the_name() -> None:
    one = username_hash("client", "jane@example.com")
    assert one == username_hash("client", "jane@example.com")
    assert one != username_hash("other", "jane@example.com")
    assert one is not None and "jane" not in one and len(one) == 16


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    root_handlers = logging.getLogger().handlers[:]
    settings = Settings(
        queue_url="http://q",
        result_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        log_format="json",
        log_level="INFO",
    )
    configure_logging(settings)
    try:
        structlog.get_logger("worker.test").info("hello", message_id="m1", mail="a@b.example")
        line = capsys.readouterr().out.strip().splitlines()[-1]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = root_handlers
    document = json.loads(line)
    assert document["event"] == "hello" and document["message_id"] == "m1"
    assert document["mail"] == "<email>" and document["level"] == "info"


@pytest.mark.parametrize(
    "value",
    [
        "a" * 64_000 + "+",
        "a" * 200_000 + "@",
        "a@" * 100_000,
        ("x." * 50_000) + "@" + ("y." * 50_000),
        "+" + "1" * 300_000,
    ],
    ids=["plus", "at", "many-ats", "dots", "digits"],
)
def test_scrub_is_linear_on_hostile_values(value: str) -> None:
    started = time.perf_counter()
    event = scrub_event(None, "info", {"traceparent": value, "event": value})
    elapsed = time.perf_counter() - started
    assert elapsed < 0.2, f"{elapsed:.2f} s to scrub {len(value)} characters"
    assert len(event["traceparent"]) <= MAX_FIELD_CHARS + 40


def test_long_values_are_cut_and_still_masked() -> None:
    event = scrub_event(None, "info", {"detail": "jane@example.com " + "z" * 5000})
    assert event["detail"].startswith("<email> zzz")
    assert len(event["detail"]) <= MAX_FIELD_CHARS + 40
    assert "characters cut" in event["detail"]


def test_describe_error_names_the_type_not_the_value() -> None:
    secret = "jane.doe@example.com TOPSECRETVALUE"
    assert describe_error(ValueError(secret)) == "ValueError"
    response: Any = {"Error": {"Code": "InternalError", "Message": secret}}
    text = describe_error(ClientError(response, "SendMessage"))
    assert text == "ClientError InternalError (SendMessage)"


def test_logged_exceptions_carry_frames_and_type_but_no_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root_handlers = logging.getLogger().handlers[:]
    settings = Settings(
        queue_url="http://q",
        result_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        log_format="json",
        log_level="INFO",
    )
    configure_logging(settings)
    try:
        secret = "client_secret=" + "TOPSECRET" + "VALUE"
        try:
            raise ValueError(secret)
        except ValueError:
            structlog.get_logger("worker.test").exception("it broke")
        line = capsys.readouterr().out.strip().splitlines()[-1]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = root_handlers
    document = json.loads(line)
    assert "TOPSECRETVALUE" not in line
    assert document["exception"].endswith("ValueError")
    assert "test_logs.py" in document["exception"]


def test_secret_key_names_are_redacted_every_time_and_made_up_names_stay_bounded() -> None:
    for _ in range(3):  # decided once per name, then remembered: the same answer each line
        event = scrub_event(None, "info", {"Api_Token": "t", "tokenizer_id": "x", "outcome": "s"})
        assert event == {"Api_Token": "<redacted>", "tokenizer_id": "<redacted>", "outcome": "s"}
    for i in range(5000):
        scrub_event(None, "info", {f"field{i}": "v"})
    assert len(logs._SECRET_KEY) <= logs._SECRET_KEY_MAX
    assert scrub_event(None, "info", {"my_password_9999": "p"}) == {
        "my_password_9999": "<redacted>"
    }
