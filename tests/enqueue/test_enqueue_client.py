"""The Python client against the devstack: enqueue, enqueue_many, results, the sync wrapper."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.session import get_session
from resend_client.client import (
    BulkOutcome,
    EnqueueError,
    ResendClient,
    SyncResendClient,
)
from resend_contract.models import InvalidRequest, Outcome, ResendRequest, Result

from .helpers import CREDENTIALS, KEY_ID, REGION, SECRET_KEY, Queues

pytestmark = pytest.mark.integration

CLIENT_ID = "1example23456789"


def result_json(request_id: str, outcome: Outcome = Outcome.SENT) -> str:
    return Result(
        Outcome=outcome,
        RequestId=request_id,
        MessageId=f"m-{request_id}",
        ClientId=CLIENT_ID,
        Username="jane",
        ProcessedAt="2026-01-01T00:00:00.000Z",
    ).to_json()


async def test_enqueue_sends_a_validated_request(queues: Queues) -> None:
    queue = queues.create()
    async with ResendClient(queue, endpoint_url=queues.endpoint_url) as client:
        receipt = await client.enqueue(
            CLIENT_ID,
            "jane@example.com",
            client_metadata={"source": "test"},
            user_context_data={"IpAddress": "192.0.2.1"},
            analytics_metadata={"AnalyticsEndpointId": "e-1"},
        )
    assert uuid.UUID(receipt.request_id).version == 4
    [message] = queues.drain(queue)
    assert message["MessageId"] == receipt.message_id
    assert json.loads(message["Body"]) == {
        "ClientId": CLIENT_ID,
        "Username": "jane@example.com",
        "UserContextData": {"IpAddress": "192.0.2.1"},
        "AnalyticsMetadata": {"AnalyticsEndpointId": "e-1"},
        "ClientMetadata": {"source": "test"},
        "RequestId": receipt.request_id,
    }


async def test_invalid_requests_never_reach_the_queue(queues: Queues) -> None:
    queue = queues.create()
    async with ResendClient(queue, endpoint_url=queues.endpoint_url) as client:
        with pytest.raises(InvalidRequest) as caught:
            await client.enqueue(CLIENT_ID, "jane doe@example.com")
        with pytest.raises(InvalidRequest, match="SecretHash"):
            await client.enqueue(CLIENT_ID, "jane", secret_hash="not base64!")
    assert caught.value.message == "Username: must not contain whitespace or control characters"
    assert "example.com" not in str(caught.value)
    assert queues.depth(queue) == 0


async def test_enqueue_many_sends_each_valid_request_once(queues: Queues) -> None:
    queue = queues.create()
    items: list[Any] = [
        {"ClientId": CLIENT_ID, "Username": f"user-{i}", "RequestId": f"r-{i}"} for i in range(23)
    ]
    items.insert(5, {"ClientId": CLIENT_ID})
    items.insert(9, ResendRequest(ClientId=CLIENT_ID, Username="model-user"))
    outcomes: list[BulkOutcome] = []
    async with ResendClient(queue, endpoint_url=queues.endpoint_url) as client:
        report = await client.enqueue_many(items, on_outcome=outcomes.append)
    assert (report.sent, report.invalid, report.failed) == (24, 1, 0)
    assert [(p.position, p.reason) for p in report.problems] == [
        (5, "Username: required member missing")
    ]
    assert sorted(o.position for o in outcomes) == list(range(25))
    receipts = {o.receipt.request_id: o.receipt for o in outcomes if o.receipt is not None}
    messages = queues.drain(queue)
    assert len(messages) == 24
    for message in messages:
        body = json.loads(message["Body"])
        assert receipts[body["RequestId"]].message_id == message["MessageId"]
    usernames = sorted(json.loads(m["Body"])["Username"] for m in messages)
    assert usernames == sorted([f"user-{i}" for i in range(23)] + ["model-user"])


async def test_enqueue_many_from_an_async_generator(queues: Queues) -> None:
    queue = queues.create(fifo=True)

    async def source() -> AsyncIterator[dict[str, str]]:
        for i in range(12):
            yield {"ClientId": CLIENT_ID, "Username": f"user-{i}"}

    async with ResendClient(queue, endpoint_url=queues.endpoint_url) as client:
        report = await client.enqueue_many(source())
    assert report.sent == 12
    assert len(queues.drain(queue)) == 12


async def test_an_open_aiobotocore_client_can_be_shared(queues: Queues, async_sqs: Any) -> None:
    queue = queues.create()
    async with ResendClient(queue, sqs_client=async_sqs) as client:
        await client.enqueue(CLIENT_ID, "jane")
    # Still open: the caller owns it.
    attributes = await async_sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"


async def test_a_given_session_is_used(queues: Queues) -> None:
    queue = queues.create()
    session = get_session()
    session.set_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    async with ResendClient(
        queue, session=session, region=REGION, endpoint_url=queues.endpoint_url
    ) as client:
        await client.enqueue(CLIENT_ID, "jane")
    assert queues.depth(queue) == 1


async def test_a_missing_queue_is_an_enqueue_error(queues: Queues) -> None:
    missing = f"{queues.endpoint_url}/123456789012/missing-{uuid.uuid4().hex}"
    async with ResendClient(missing, endpoint_url=queues.endpoint_url) as client:
        with pytest.raises(EnqueueError) as caught:
            await client.enqueue(CLIENT_ID, "jane")
        report = await client.enqueue_many(
            [{"ClientId": CLIENT_ID, "Username": f"u{i}"} for i in range(15)]
        )
    assert not caught.value.retryable
    assert "NonExistentQueue" in caught.value.code or "QueueDoesNotExist" in caught.value.code
    assert (report.sent, report.failed) == (0, 15)


# Waiting for results.


async def test_wait_finds_its_result_and_leaves_the_others(queues: Queues) -> None:
    results = queues.create()
    for other in ("other-1", "other-2", "other-3"):
        queues.sqs.send_message(QueueUrl=results, MessageBody=result_json(other))
    queues.sqs.send_message(QueueUrl=results, MessageBody="not a result at all")
    queues.sqs.send_message(QueueUrl=results, MessageBody=result_json("mine", Outcome.DUPLICATE))
    async with ResendClient(queues.create(), endpoint_url=queues.endpoint_url) as client:
        result = await client.wait_for_result("mine", results_queue_url=results, wait_seconds=10)
    assert result is not None
    assert (result.RequestId, result.Outcome) == ("mine", Outcome.DUPLICATE)
    # Everything else is visible again at once, and only the matching result is gone.
    left = [m["Body"] for m in queues.drain(results)]
    assert sorted(left) == sorted(
        [
            result_json("other-1"),
            result_json("other-2"),
            result_json("other-3"),
            "not a result at all",
        ]
    )


async def test_wait_understands_the_sns_envelope(queues: Queues) -> None:
    """A subscription without raw delivery, fed by a real SNS publish."""
    results = queues.create()
    results_arn = queues.sqs.get_queue_attributes(QueueUrl=results, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    async with get_session().create_client(
        "sns",
        region_name=REGION,
        endpoint_url=queues.endpoint_url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    ) as sns:
        topic = (await sns.create_topic(Name=f"results-{uuid.uuid4().hex[:8]}"))["TopicArn"]
        await sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=results_arn)
        await sns.publish(TopicArn=topic, Message=result_json("enveloped"))
    async with ResendClient(queues.create(), endpoint_url=queues.endpoint_url) as client:
        result = await client.wait_for_result(
            "enveloped", results_queue_url=results, wait_seconds=10
        )
    assert result is not None and result.RequestId == "enveloped"
    assert queues.depth(results) == 0


async def test_wait_times_out_and_releases_what_it_held(queues: Queues) -> None:
    results = queues.create()
    queues.sqs.send_message(QueueUrl=results, MessageBody=result_json("someone-else"))
    async with ResendClient(queues.create(), endpoint_url=queues.endpoint_url) as client:
        result = await client.wait_for_result(
            "never-sent", results_queue_url=results, wait_seconds=1
        )
    assert result is None
    assert [m["Body"] for m in queues.drain(results)] == [result_json("someone-else")]


# The synchronous wrapper.


def test_sync_client(queues: Queues) -> None:
    queue = queues.create()
    results = queues.create()
    queues.sqs.send_message(QueueUrl=results, MessageBody=result_json("sync-1"))
    with SyncResendClient(queue, endpoint_url=queues.endpoint_url) as client:
        receipt = client.enqueue(CLIENT_ID, "jane", request_id="sync-1")
        report = client.enqueue_many(
            [{"ClientId": CLIENT_ID, "Username": f"u{i}"} for i in range(11)]
        )
        result = client.wait_for_result("sync-1", results_queue_url=results, wait_seconds=5)
    assert receipt.request_id == "sync-1"
    assert report.sent == 11
    assert result is not None and result.RequestId == "sync-1"
    assert len(queues.drain(queue)) == 12
    with pytest.raises(RuntimeError, match="closed"):
        client.enqueue(CLIENT_ID, "jane")


async def test_sync_client_works_even_inside_a_running_event_loop(queues: Queues) -> None:
    queue = queues.create()
    with SyncResendClient(queue, endpoint_url=queues.endpoint_url) as client:
        client.enqueue(CLIENT_ID, "jane")
    assert queues.depth(queue) == 1


def test_sync_client_reports_invalid_requests(queues: Queues) -> None:
    queue = queues.create()
    with (
        SyncResendClient(queue, endpoint_url=queues.endpoint_url) as client,
        pytest.raises(InvalidRequest, match="ClientId"),
    ):
        client.enqueue("bad id", "jane")
    assert queues.depth(queue) == 0
