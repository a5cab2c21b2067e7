"""The last line of defence in logging: emails, phones and secret-named keys never get out."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from worker.logs import configure_logging, scrub_event, username_hash
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
