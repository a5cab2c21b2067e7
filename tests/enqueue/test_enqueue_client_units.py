"""The client's batching and retry rules, against an in-process stand-in for SQS's batch call.

Only what moto cannot be made to do lives here: failing some entries of a batch, throttling,
refusing a call. Everything else about the client runs against the devstack.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from resend_client.client import (
    BulkOutcome,
    EnqueueError,
    ResendClient,
    parse_result,
    region_from_queue_url,
    user_group_id,
)

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/requests"
Behaviour = Callable[[int, list[dict[str, Any]]], dict[str, Any]]


def ok(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Successful": [{"Id": e["Id"], "MessageId": f"m-{call}-{e['Id']}"} for e in entries]}


def client_error(code: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "nope"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "SendMessageBatch")


class FakeSQS:
    """Answers SendMessageBatch with ``behaviour(call number, entries)``; records every call."""

    def __init__(self, behaviour: Behaviour = ok) -> None:
        self.behaviour = behaviour
        self.calls: list[list[dict[str, Any]]] = []
        self.active = 0
        self.max_active = 0

    async def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        assert QueueUrl == QUEUE
        self.calls.append(Entries)
        call = len(self.calls)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            for _ in range(3):
                await asyncio.sleep(0)  # let other calls start, as real I/O would
            return self.behaviour(call, Entries)
        finally:
            self.active -= 1


def requests(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"ClientId": "abc", "Username": f"user-{i}", "RequestId": f"r-{i}", **extra}
        for i in range(count)
    ]


def make(sqs: FakeSQS, **options: Any) -> ResendClient:
    return ResendClient(QUEUE, sqs_client=sqs, retry_base_delay=0, **options)


async def test_entries_failed_on_the_sqs_side_are_retried_alone() -> None:
    def behaviour(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if call == 1:
            failed = [e for e in entries if e["Id"] in ("0", "3")]
            answer = ok(call, [e for e in entries if e not in failed])
            answer["Failed"] = [
                {"Id": e["Id"], "Code": "InternalError", "Message": "x", "SenderFault": False}
                for e in failed
            ]
            return answer
        return ok(call, entries)

    sqs = FakeSQS(behaviour)
    async with make(sqs) as client:
        report = await client.enqueue_many(requests(5))
    assert (report.sent, report.failed) == (5, 0)
    assert len(sqs.calls) == 2
    assert [json.loads(e["MessageBody"])["RequestId"] for e in sqs.calls[1]] == ["r-0", "r-3"]


async def test_sender_faults_are_not_retried() -> None:
    def behaviour(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        answer = ok(call, entries[1:])
        answer["Failed"] = [
            {"Id": entries[0]["Id"], "Code": "InvalidParameterValue", "SenderFault": True}
        ]
        return answer

    sqs = FakeSQS(behaviour)
    async with make(sqs) as client:
        report = await client.enqueue_many(requests(3))
    assert (report.sent, report.failed) == (2, 1)
    assert len(sqs.calls) == 1
    [problem] = report.problems
    assert (problem.position, problem.request_id, problem.outcome) == (0, "r-0", "failed")
    assert problem.reason.startswith("InvalidParameterValue")


@pytest.mark.parametrize(
    "error", [client_error("RequestThrottled"), client_error("InternalError", 500)]
)
async def test_throttling_and_server_errors_are_retried(error: ClientError) -> None:
    def behaviour(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if call < 3:
            raise error
        return ok(call, entries)

    sqs = FakeSQS(behaviour)
    async with make(sqs) as client:
        receipt = await client.enqueue("abc", "jane", request_id="once")
    assert receipt.request_id == "once"
    assert receipt.message_id == "m-3-0"
    assert len(sqs.calls) == 3


async def test_gives_up_after_max_attempts() -> None:
    def behaviour(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        raise client_error("RequestThrottled")

    sqs = FakeSQS(behaviour)
    async with make(sqs, max_attempts=3) as client:
        report = await client.enqueue_many(requests(2))
        with pytest.raises(EnqueueError) as caught:
            await client.enqueue("abc", "jane")
    assert report.failed == 2
    assert "gave up after 3 attempts" in report.problems[0].reason
    assert caught.value.code == "RequestThrottled"
    assert len(sqs.calls) == 6


async def test_a_refused_call_stops_further_calls() -> None:
    def behaviour(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        raise client_error("AccessDenied", 403)

    sqs = FakeSQS(behaviour)
    async with make(sqs, concurrency=1) as client:
        report = await client.enqueue_many(requests(50))
    assert (report.sent, report.failed) == (0, 50)
    assert len(sqs.calls) == 1
    assert all(p.reason.startswith("AccessDenied") for p in report.problems)


async def test_batches_hold_ten_entries_and_stay_under_the_byte_limit() -> None:
    sqs = FakeSQS()
    async with make(sqs, concurrency=1) as client:
        await client.enqueue_many(requests(25))
        big = requests(5, UserContextData={"EncodedData": "e" * 100_000})
        await client.enqueue_many(big)
    sizes = [len(call) for call in sqs.calls]
    assert sizes == [10, 10, 5, 2, 2, 1]
    for call in sqs.calls:
        assert sum(len(e["MessageBody"].encode()) for e in call) <= 256 * 1024


async def test_calls_run_concurrently_up_to_the_bound() -> None:
    sqs = FakeSQS()
    async with make(sqs, concurrency=3) as client:
        report = await client.enqueue_many(requests(200))
    assert report.sent == 200
    assert sqs.max_active == 3


async def test_the_input_is_read_only_as_fast_as_it_is_sent() -> None:
    consumed = 0
    answered = 0
    most_in_flight = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal consumed, most_in_flight
        for request in requests(3000):
            consumed += 1
            most_in_flight = max(most_in_flight, consumed - answered)
            yield request

    def on_outcome(outcome: BulkOutcome) -> None:
        nonlocal answered
        answered += 1

    sqs = FakeSQS()
    async with make(sqs, concurrency=2) as client:
        report = await client.enqueue_many(source(), on_outcome=on_outcome)
    assert report.sent == answered == 3000
    # Two calls of ten under way, one batch being filled, and the item in hand.
    assert most_in_flight <= 2 * 10 + 10 + 1


async def test_async_iterables_and_invalid_items() -> None:
    async def source() -> Any:
        yield {"ClientId": "abc", "Username": "a"}
        yield {"ClientId": "a b", "Username": "b"}
        yield "not a request"
        yield {"ClientId": "abc", "Username": "c", "RequestId": "mine"}

    seen: list[BulkOutcome] = []
    sqs = FakeSQS()
    async with make(sqs) as client:
        report = await client.enqueue_many(source(), on_outcome=seen.append)
    assert (report.sent, report.invalid) == (2, 2)
    assert sorted(o.position for o in seen) == [0, 1, 2, 3]
    assert {p.position: p.reason for p in report.problems} == {
        1: "ClientId: must contain only letters, digits, '_' and '+'",
        2: "request: must be a ResendRequest or a mapping",
    }
    bodies = [json.loads(e["MessageBody"]) for call in sqs.calls for e in call]
    assert [b["Username"] for b in bodies] == ["a", "c"]
    assert bodies[1]["RequestId"] == "mine"


async def test_options_are_checked_before_sending() -> None:
    sqs = FakeSQS()
    async with make(sqs) as client:
        with pytest.raises(ValueError, match="delay_seconds: must be between 0 and 900"):
            await client.enqueue_many(requests(1), delay_seconds=901)
        with pytest.raises(ValueError, match="only for FIFO"):
            await client.enqueue("abc", "jane", message_group_id="g")
    async with ResendClient(QUEUE + ".fifo", sqs_client=sqs) as fifo:
        with pytest.raises(ValueError, match="FIFO queues take no per-message delay"):
            await fifo.enqueue_many(requests(1), delay_seconds=1)
    assert sqs.calls == []


def test_region_from_queue_urls() -> None:
    assert region_from_queue_url(QUEUE) == "eu-west-1"
    assert region_from_queue_url("https://sqs.cn-north-1.amazonaws.com.cn/1/q") == "cn-north-1"
    assert region_from_queue_url("https://us-west-2.queue.amazonaws.com/1/q") == "us-west-2"
    assert region_from_queue_url("http://127.0.0.1:4566/000000000000/q") is None


def test_user_group_id_hides_the_username() -> None:
    group = user_group_id("abc", "jane@example.com")
    assert len(group) == 64
    assert "jane" not in group
    assert group == user_group_id("abc", "jane@example.com")
    assert group != user_group_id("abc", "john@example.com")
    assert group != user_group_id("abd", "jane@example.com")


def test_parse_result_raw_enveloped_and_garbage() -> None:
    raw = json.dumps(
        {
            "Outcome": "sent",
            "RequestId": "r",
            "MessageId": "m",
            "ClientId": "c",
            "Username": "u",
            # Fixed, or two parses a millisecond apart would differ in their defaults.
            "ProcessedAt": "2026-12-02T06:00:00.000Z",
        }
    )
    envelope = json.dumps(
        {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": raw}
    )
    parsed = parse_result(raw)
    assert parsed is not None and parsed.RequestId == "r"
    assert parse_result(envelope) == parsed
    assert parse_result("not json") is None
    assert parse_result('{"Outcome": "unheard-of"}') is None


def test_the_client_needs_nothing_of_the_worker_runtime() -> None:
    """Producers install pydantic and aiobotocore; nothing else of the worker may be imported."""
    forbidden = [
        "structlog",
        "tenacity",
        "prometheus_client",
        "redis",
        "yaml",
        "pydantic_settings",
        "moto",
    ]
    program = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {forbidden!r}:
            raise ImportError("refused: " + name)
sys.meta_path.insert(0, Refuse())
import resend_client.client
from resend_client.client import SyncResendClient, build_request
assert build_request({{"ClientId": "abc", "Username": "u"}}).ClientId == "abc"
print(sorted(m for m in sys.modules if m.startswith("worker")))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
