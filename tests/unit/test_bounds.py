"""Hostile bodies: each one is an ``InvalidRequest`` with a message that echoes nothing it was sent.

These are the bodies that once raised outside the invalid path (no result, redelivered until the
redrive policy), or put the producer's own text in the result's Error.Message.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from typing import Any

import jsonschema
import pytest
from resend_contract import bounds
from resend_contract.models import ErrorInfo, InvalidRequest, Outcome, Result, parse_body

OK = {"ClientId": "abc", "Username": "jane"}


def with_members(text: str) -> str:
    """A valid request's JSON text with raw ``text`` spliced in as more members."""
    return '{"ClientId": "abc", "Username": "jane", ' + text + "}"


# (name, body, phrase the message must contain, producer text that must not appear in it)
HOSTILE: list[tuple[str, str, str, str]] = [
    (
        "lone surrogate in Username",
        '{"ClientId": "abc", "Username": "ab\\ud800cd"}',
        "lone surrogate",
        "ab",
    ),
    ("lone surrogate in a member name", with_members('"\\udfff": "x"'), "lone surrogate", "udfff"),
    ("4,301-digit integer", with_members('"X": ' + "7" * 4301), "a number longer than", "7777"),
    ("huge float", with_members('"X": 1' + "0" * 500 + ".5"), "a number longer than", "0000"),
    ("NaN", with_members('"Xylophone": NaN'), "not a JSON number", "Xylophone"),
    (
        "unknown member named like an email",
        with_members('"jane.doe@example.com": "x"'),
        "unknown member (1 member not in the contract, named with 20 characters)",
        "jane.doe@example.com",
    ),
    (
        "ClientMetadata key that reads as a secret",
        with_members('"ClientMetadata": {"client_secret=TOPSECRETVALUE": 5}'),
        "ClientMetadata.(a key): Input should be a valid string",
        "TOPSECRETVALUE",
    ),
    (
        "200 KB member name",
        with_members('"' + "m" * 200_000 + '": 1'),
        "a member name longer than 128 characters",
        "mmmm",
    ),
    ("deep nesting", "[" * 50_000 + "]" * 50_000, "nested deeper than", "[["),
    ("duplicate member", with_members('"ClientId": "other"'), "appears twice", "other"),
    (
        "zero-width joiner in Username",
        '{"ClientId": "abc", "Username": "ja\\u200dne"}',
        "Username: must contain only letters",
        "ja",
    ),
    (
        "bidi override in ClientMetadata",
        with_members('"ClientMetadata": {"k": "evil\\u202etxt"}'),
        "control, zero-width or bidirectional",
        "evil",
    ),
    (
        "ClientMetadata too large",
        with_members('"ClientMetadata": ' + json.dumps({f"k{i}": "v" * 1000 for i in range(20)})),
        "larger than 16384 bytes",
        "vvvv",
    ),
    (
        "SNS envelope whose Message holds a huge integer",
        json.dumps(
            {"Type": "Notification", "TopicArn": "arn", "Message": '{"X": ' + "9" * 5000 + "}"}
        ),
        "Message (SNS envelope): a number longer than",
        "9999",
    ),
    ("262,100 bytes, not JSON", "x" * 262_100, "not valid JSON", "xxxx"),
    ("262,145 bytes", "x" * 262_145, "larger than 262144 bytes", "xxxx"),
]


@pytest.mark.parametrize(("name", "body", "phrase", "echo"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_body_is_invalid_and_echoes_nothing(
    name: str, body: str, phrase: str, echo: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidRequest) as caught:
        parse_body(body)
    elapsed = time.perf_counter() - started
    message = caught.value.message
    assert phrase in message, name
    assert echo not in message, name
    assert len(message) <= bounds.MAX_ERROR_MESSAGE_CHARS
    # The result, its log line and its hash must never meet an unencodable string.
    for kept in (caught.value.client_id, caught.value.username, caught.value.request_id):
        if kept is not None:
            kept.encode("utf-8")
    assert elapsed < 0.5, f"{name}: {elapsed:.2f} s to reject"


def test_many_unknown_members_stay_within_the_message_bound() -> None:
    members = ", ".join(f'"member-{i:05d}-{"z" * 100}": 1' for i in range(2000))
    with pytest.raises(InvalidRequest) as caught:
        parse_body(with_members(members))
    assert "2000 members not in the contract" in caught.value.message
    assert "zzz" not in caught.value.message and "member-0" not in caught.value.message


def test_surrogate_username_is_not_kept_for_the_result() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_body('{"ClientId": "abc", "Username": "ab\\ud800cd", "Extra": 1}')
    assert caught.value.username is None


def test_limits_themselves_are_accepted() -> None:
    metadata = {f"k{i:02d}": "v" * 300 for i in range(50)}
    request = parse_body(json.dumps({**OK, "ClientMetadata": metadata}))
    assert request.ClientMetadata == metadata
    assert parse_body(json.dumps({**OK, "Username": "Jöhn.Dœ+ü@example.com"})).Username


def test_error_info_is_bounded_whoever_wrote_it() -> None:
    error = ErrorInfo(Code="C" * 500, Message="m" * 100_000, Reason="r" * 500)
    assert len(error.Message) == bounds.MAX_ERROR_MESSAGE_CHARS
    assert len(error.Code) == 128 and error.Reason is not None and len(error.Reason) == 128


def test_last_resort_turns_any_exception_into_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(_: Any) -> Any:
        raise MemoryError("a value the producer chose")

    monkeypatch.setattr(bounds, "check_document", explode)
    with pytest.raises(InvalidRequest) as caught:
        parse_body(json.dumps(OK))
    assert caught.value.message == "body: could not be read (MemoryError)"


def test_a_clipped_error_still_matches_the_result_schema() -> None:
    schema = json.loads(
        resources.files("resend_contract").joinpath("schemas/result.schema.json").read_text()
    )
    result = Result(
        Outcome=Outcome.FAILED,
        RequestId="r",
        MessageId="m",
        ClientId="c",
        Username="u",
        Error=ErrorInfo(Code="X" * 300, Message="m" * 100_000, Reason="y" * 300),
    )
    jsonschema.Draft202012Validator(schema).validate(json.loads(result.to_json()))
