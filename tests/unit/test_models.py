"""The request model and the shipped JSON Schema accept and reject the same bodies."""

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
from resend_contract.models import InvalidRequest, Outcome, Result, parse_body

SCHEMA = json.loads(
    resources.files("resend_contract").joinpath("schemas/request.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

GOOD: list[dict[str, Any]] = [
    {"ClientId": "abc", "Username": "jane"},
    {"ClientId": "a_b+c", "Username": "Jane.Doe@example.com", "RequestId": "req-1"},
    {"ClientId": "c" * 128, "Username": "u" * 128},
    {"ClientId": "abc", "Username": "ünïcødé-用户", "SecretHash": "ab+/=="},
    {
        "ClientId": "abc",
        "Username": "jane",
        "SecretHash": "Rzt+fPDNEu47M2tFcmGaaH6mn61rqNF4ZbvjHnbqEZE=",
        "UserContextData": {"IpAddress": "192.0.2.1", "EncodedData": "xyz"},
        "AnalyticsMetadata": {"AnalyticsEndpointId": "e1"},
        "ClientMetadata": {"k": "v", "empty": ""},
        "RequestId": "3f1c:9/a@b",
    },
    {"ClientId": "abc", "Username": "jane", "UserContextData": {}},
]

BAD: list[tuple[Any, str]] = [
    ({"ClientId": "abc"}, "Username: required member missing"),
    ({"Username": "jane"}, "ClientId: required member missing"),
    ({"ClientId": "", "Username": "jane"}, "ClientId"),
    ({"ClientId": "c" * 129, "Username": "jane"}, "ClientId: String should have at most 128"),
    ({"ClientId": "a-b", "Username": "jane"}, "ClientId: must contain only"),
    ({"ClientId": "abc\n", "Username": "jane"}, "ClientId: must contain only"),
    ({"ClientId": "abc", "Username": "u" * 129}, "Username"),
    ({"ClientId": "abc", "Username": "jane doe"}, "Username: must not contain whitespace"),
    ({"ClientId": "abc", "Username": "jane\n"}, "Username: must not contain whitespace"),
    ({"ClientId": "abc", "Username": ""}, "Username"),
    ({"ClientId": 7, "Username": "jane"}, "ClientId: Input should be a valid string"),
    ({"ClientId": "abc", "Username": ["jane"]}, "Username: Input should be a valid string"),
    ({"ClientId": "abc", "Username": "jane", "SecretHash": "not base64!"}, "SecretHash"),
    ({"ClientId": "abc", "Username": "jane", "SecretHash": "h" * 129}, "SecretHash"),
    ({"ClientId": "abc", "Username": "jane", "Extra": 1}, "unknown member (1 member"),
    ({"ClientId": "abc", "Username": "jane", "clientid": "x"}, "did you mean ClientId?"),
    (
        {"ClientId": "abc", "Username": "jane", "ClientMetadata": {"k": 1}},
        "ClientMetadata.(a key): Input should be a valid string",
    ),
    ({"ClientId": "abc", "Username": "jane", "ClientMetadata": ["k"]}, "ClientMetadata"),
    (
        {"ClientId": "abc", "Username": "jane", "UserContextData": {"Ip": "x"}},
        "unknown member (1 member",
    ),
    (
        {"ClientId": "abc", "Username": "jane", "ClientMetadata": {f"k{i}": "" for i in range(51)}},
        "ClientMetadata: more than 50 entries",
    ),
    ({"ClientId": "abc", "Username": "jane", "AnalyticsMetadata": "x"}, "AnalyticsMetadata"),
    ({"ClientId": "abc", "Username": "jane", "RequestId": "has space"}, "RequestId"),
    ({"ClientId": "abc", "Username": "jane", "RequestId": None}, "RequestId"),
]


@pytest.mark.parametrize("body", GOOD)
def test_schema_and_model_accept(body: dict[str, Any]) -> None:
    VALIDATOR.validate(body)
    request = parse_body(json.dumps(body))
    assert request.ClientId == body["ClientId"]
    assert request.Username == body["Username"]


@pytest.mark.parametrize(("body", "problem"), BAD)
def test_schema_and_model_reject(body: Any, problem: str) -> None:
    assert not VALIDATOR.is_valid(body)
    with pytest.raises(InvalidRequest) as caught:
        parse_body(json.dumps(body))
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "body: not valid JSON"),
        ("", "body: not valid JSON"),
        ("[1, 2]", "must be a JSON object, got an array"),
        ('"a string"', "got a string"),
        ("null", "got null"),
        ("42", "got a number"),
        ("[" * 100_000, "nested deeper than"),
        ("[" * 9 + "]" * 9, "nested deeper than 8 levels"),
        ("x" * (256 * 1024 + 1), "larger than"),
    ],
)
def test_bodies_that_are_not_objects(body: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_body(body)
    assert problem in caught.value.message


def test_errors_never_echo_values() -> None:
    secretish = "Rzt+fPDNEu47M2tFcmGaaH6mn61rqNF4ZbvjHnbqEZE=" + "!"
    with pytest.raises(InvalidRequest) as caught:
        parse_body(
            json.dumps({"ClientId": "abc", "Username": "a@b.example", "SecretHash": secretish})
        )
    assert secretish not in str(caught.value)
    assert "a@b.example" not in str(caught.value)
    # What was itself valid is kept, so the result can still say whose request it was.
    assert caught.value.client_id == "abc"
    assert caught.value.username == "a@b.example"


def test_sns_envelope_is_unwrapped() -> None:
    inner = {"ClientId": "abc", "Username": "jane", "RequestId": "r1"}
    envelope = {
        "Type": "Notification",
        "MessageId": "m",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:producer",
        "Message": json.dumps(inner),
        "Timestamp": "2026-11-26T06:00:00.000Z",
    }
    request = parse_body(json.dumps(envelope))
    assert (request.ClientId, request.Username, request.RequestId) == ("abc", "jane", "r1")


def test_sns_envelope_with_bad_inner_body() -> None:
    envelope = {"Type": "Notification", "TopicArn": "arn", "Message": "{nope"}
    with pytest.raises(InvalidRequest, match="Message \\(SNS envelope\\): not valid JSON"):
        parse_body(json.dumps(envelope))


def test_cognito_params_drop_request_id_and_use_given_hash() -> None:
    request = parse_body(json.dumps({**GOOD[4]}))
    params = request.cognito_params("computed=")
    assert "RequestId" not in params
    assert params["SecretHash"] == "computed="
    assert params["ClientMetadata"] == {"k": "v", "empty": ""}
    assert "SecretHash" not in request.cognito_params(None)


def test_result_json_shape() -> None:
    result = Result(Outcome=Outcome.SENT, RequestId="r", MessageId="m", ClientId="c", Username="u")
    document = json.loads(result.to_json())
    assert set(document) == {
        "Outcome",
        "RequestId",
        "MessageId",
        "ClientId",
        "Username",
        "CodeDeliveryDetails",
        "Error",
        "Attempts",
        "ProcessedAt",
    }
    assert document["ProcessedAt"].endswith("Z")
