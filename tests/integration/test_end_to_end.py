"""The worker over real HTTP against the devstack: one result per request, nothing lost."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from devstack import DevResources
from worker.secret_hash import secret_hash

from .harness import Harness

pytestmark = pytest.mark.integration


def request(
    resources: DevResources, username: str, request_id: str, **extra: Any
) -> dict[str, Any]:
    return {"ClientId": resources.client_id, "Username": username, "RequestId": request_id, **extra}


def by_request(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    mapping: dict[str, dict[str, Any]] = {}
    for result in results:
        assert result["RequestId"] not in mapping, f"two results for {result['RequestId']}"
        mapping[result["RequestId"]] = result
    return mapping


async def test_happy_path(harness: Harness) -> None:
    resources = harness.resources
    user = resources.unconfirmed_users[0]
    await harness.start()
    message_id = await harness.send(request(resources, user.username, "r-happy"))

    [result] = await harness.results(1)
    assert result["Outcome"] == "sent"
    assert (result["RequestId"], result["MessageId"]) == ("r-happy", message_id)
    assert (result["ClientId"], result["Username"]) == (resources.client_id, user.username)
    assert result["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert result["CodeDeliveryDetails"]["AttributeName"] == "email"
    assert "***" in result["CodeDeliveryDetails"]["Destination"]
    assert user.email not in result["CodeDeliveryDetails"]["Destination"]
    assert result["Error"] is None and result["Attempts"] == 1
    assert result["_attributes"] == {"outcome": "sent"}
    # The SECRET_HASH came from Secrets Manager: the devstack checks it.
    assert harness.admin.calls().sent_by_user == {user.username: 1}
    await asyncio.sleep(0.2)
    assert await harness.depth() == (0, 0)


@pytest.mark.parametrize(
    ("who", "code", "reason"),
    [
        ("unknown", "UserNotFoundException", None),
        ("confirmed", "InvalidParameterException", "already_confirmed"),
    ],
)
async def test_permanent_cognito_errors(
    harness: Harness, who: str, code: str, reason: str | None
) -> None:
    resources = harness.resources
    username = "nobody-here" if who == "unknown" else resources.confirmed_users[0].username
    await harness.start()
    await harness.send(request(resources, username, f"r-{who}"))
    [result] = await harness.results(1)
    assert result["Outcome"] == "failed"
    assert result["Error"]["Code"] == code
    assert result["Error"].get("Reason") == reason
    assert result["_attributes"] == {"outcome": "failed", "error_code": code}
    await asyncio.sleep(0.2)
    assert await harness.depth() == (0, 0)


async def test_wrong_secret_is_not_authorized(harness: Harness) -> None:
    resources = harness.resources
    await harness.start(
        RESEND_CLIENT_SECRETS=json.dumps({resources.client_id: "not-the-secret"}),
    )
    await harness.send(request(resources, resources.unconfirmed_users[0].username, "r-secret"))
    [result] = await harness.results(1)
    assert (result["Outcome"], result["Error"]["Code"]) == ("failed", "NotAuthorizedException")


async def test_producer_secret_hash_and_public_client(harness: Harness) -> None:
    resources = harness.resources
    user = resources.unconfirmed_users[0].username
    # No secrets configured: the producer's own SecretHash is passed through.
    await harness.start(RESEND_CLIENT_SECRETS="{}")
    good = secret_hash(resources.client_secret, user, resources.client_id)
    await harness.send(request(resources, user, "r-own-hash", SecretHash=good))
    await harness.send(
        {
            "ClientId": resources.public_client_id,
            "Username": resources.unconfirmed_users[1].username,
            "RequestId": "r-public",
        }
    )
    results = by_request(await harness.results(2))
    assert results["r-own-hash"]["Outcome"] == "sent"
    assert results["r-public"]["Outcome"] == "sent"


async def test_unknown_client_id(harness: Harness) -> None:
    await harness.start()
    await harness.send(
        {"ClientId": "nosuchclient1234", "Username": "jane", "RequestId": "r-client"}
    )
    [result] = await harness.results(1)
    assert (result["Outcome"], result["Error"]["Code"]) == ("failed", "ResourceNotFoundException")


INVALID_BODIES = {
    "not-json": ("{this is not json", "body: not valid JSON"),
    "a-list": ('[{"ClientId": "abc", "Username": "jane"}]', "must be a JSON object, got an array"),
    "no-username": ('{"ClientId": "abc"}', "Username: required member missing"),
    "long-client": (
        json.dumps({"ClientId": "c" * 129, "Username": "j"}),
        "ClientId: String should have at most 128",
    ),
    "wrong-type": (
        '{"ClientId": "abc", "Username": 42}',
        "Username: Input should be a valid string",
    ),
    "unknown-member": (
        '{"ClientId": "abc", "Username": "j", "Password": "x"}',
        "unknown member (1 member not in the contract, named with 8 characters)",
    ),
}


async def test_invalid_bodies_are_answered_and_dead_lettered(harness: Harness) -> None:
    await harness.start()
    ids = {name: await harness.send(body) for name, (body, _) in INVALID_BODIES.items()}
    results = {r["MessageId"]: r for r in await harness.results(len(ids))}
    assert len(results) == len(ids)
    for name, (_, problem) in INVALID_BODIES.items():
        result = results[ids[name]]
        assert result["Outcome"] == "invalid", name
        assert result["Error"]["Code"] == "InvalidRequest"
        assert problem in result["Error"]["Message"], (name, result["Error"]["Message"])
        assert result["_attributes"]["error_code"] == "InvalidRequest"
    # Every raw body sits in the dead-letter queue with its reason; the source queue is empty.
    copies = await harness.sqs.receive_message(
        QueueUrl=harness.resources.dead_letter_queue_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )
    bodies = {m["Body"]: m["MessageAttributes"] for m in copies["Messages"]}
    assert set(bodies) == {body for body, _ in INVALID_BODIES.values()}
    for body, problem in INVALID_BODIES.values():
        assert bodies[body]["error_code"]["StringValue"] == "InvalidRequest"
        assert problem in bodies[body]["error_message"]["StringValue"]
    await asyncio.sleep(0.2)
    assert await harness.depth() == (0, 0)


async def test_invalid_body_without_our_dead_letter_queue_is_left_for_redrive(
    harness: Harness,
) -> None:
    await harness.start(
        unset=("RESEND_DEAD_LETTER_QUEUE_URL",),
        RESEND_VISIBILITY_TIMEOUT_SECONDS="10",
        RESEND_RETRY_MAX_SECONDS="4",
    )
    message_id = await harness.send("{broken")
    [result] = await harness.results(1)
    assert (result["Outcome"], result["MessageId"]) == ("invalid", message_id)
    # Not deleted: it stays in flight until the queue's redrive policy takes it.
    assert await harness.depth() == (0, 1)


async def test_sns_envelope(harness: Harness) -> None:
    resources = harness.resources
    inner = request(resources, resources.unconfirmed_users[0].username, "r-envelope")
    envelope = {
        "Type": "Notification",
        "MessageId": "6c8b2d0e-0000-0000-0000-000000000000",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:producer-topic",
        "Message": json.dumps(inner),
        "Timestamp": "2026-11-26T06:00:00.000Z",
    }
    await harness.start()
    await harness.send(envelope)
    [result] = await harness.results(1)
    assert (result["RequestId"], result["Outcome"]) == ("r-envelope", "sent")


async def test_trace_headers_travel_to_the_result(harness: Harness) -> None:
    resources = harness.resources
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await harness.start()
    await harness.send(
        request(resources, resources.unconfirmed_users[0].username, "r-trace"),
        MessageAttributes={"traceparent": {"DataType": "String", "StringValue": traceparent}},
    )
    [result] = await harness.results(1)
    assert result["_attributes"]["traceparent"] == traceparent


async def test_slow_call_outlives_the_visibility_timeout_without_redelivery(
    harness: Harness,
) -> None:
    resources = harness.resources
    harness.admin.set_faults(latency_ms=12_500)
    await harness.start(
        RESEND_VISIBILITY_TIMEOUT_SECONDS="10",
        RESEND_RETRY_MAX_SECONDS="4",
        RESEND_COGNITO_READ_TIMEOUT_SECONDS="20",
    )
    await harness.send(request(resources, resources.unconfirmed_users[0].username, "r-slow"))
    results = await harness.results(1, timeout=30)
    assert [r["Outcome"] for r in results] == ["sent"]
    assert results[0]["Attempts"] == 1  # first delivery: never redelivered
    assert harness.admin.calls().total == 1
