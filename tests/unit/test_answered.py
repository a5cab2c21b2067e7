"""A message answered once is never answered again by this replica, whatever the edge does.

While DeleteMessage fails, every redelivery used to be answered again (only ``sent`` results were
remembered); while the dead-letter queue refused copies, invalid bodies got two results and some
were never copied. Real Processor and Consumer, fake SQS and SNS that fail on demand.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from resend_contract.models import ErrorInfo, Outcome, Result

from worker.cognito import NotSent
from worker.consumer import Consumer
from worker.dead_letters import copy_attributes
from worker.delivery import Delivery
from worker.dispositions import AnswerAndDeadLetter, Defer, DeleteOnly
from worker.health import Health
from worker.processor import Processor
from worker.recent import AnsweredMessages
from worker.redrive import RedriveLimit, RedriveMismatch, check, max_receive_count
from worker.redrive_watch import RedriveWatch
from worker.retry import Action, Verdict

from .test_processor import FakeCaller, make


def delivery(message_id: str, body: str, receive_count: int = 1) -> Delivery:
    return Delivery(
        message_id, f"rh-{message_id}-{receive_count}", body, receive_count, time.time()
    )


def valid(username: str = "jane", request_id: str | None = None) -> str:
    request_id = request_id or f"r-{username}"
    return json.dumps({"ClientId": "client1", "Username": username, "RequestId": request_id})


@dataclass
class EdgeQueue:
    """SQS whose deletes or dead-letter copies fail while ``failing_*`` is above zero."""

    failing_deletes: int = 0
    failing_copies: int = 0
    visibility_timeout: int = 30
    deleted: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    visibility: list[tuple[str, int]] = field(default_factory=list)

    async def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.visibility.append((receipt_handle, seconds))

    async def delete(self, receipt_handle: str) -> None:
        if self.failing_deletes:
            self.failing_deletes -= 1
            raise ConnectionError("delete refused")
        self.deleted.append(receipt_handle)

    async def dead_letter(self, item: Delivery, error: ErrorInfo) -> None:
        if self.failing_copies:
            self.failing_copies -= 1
            raise ConnectionError("dead-letter queue refused")
        self.copies.append(item.message_id)

    async def drain(self) -> None:
        return None


@dataclass
class Topic:
    published: list[tuple[str, str]] = field(default_factory=list)

    async def publish(self, result: Result, trace: dict[str, str]) -> None:
        self.published.append((result.MessageId, result.Outcome.value))

    async def drain(self) -> None:
        return None


async def deliver_until_settled(
    processor: Processor, queue: EdgeQueue, message_id: str, body: str, *, receives: int = 6
) -> Topic:
    """Deliver one message again and again (a redelivery after each failure) until it is gone."""
    topic = Topic()
    consumer = Consumer(
        queue,  # type: ignore[arg-type]
        topic,  # type: ignore[arg-type]
        processor,
        Health(stale_after_seconds=60),
        concurrency=1,
        wait_seconds=1,
        fifo=False,
    )
    for receive in range(1, receives + 1):
        item = delivery(message_id, body, receive)
        await consumer._handle_one(item)
        if item.receipt_handle in queue.deleted:
            break
    return topic


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("invalid", '{"ClientId": "abc", "Username": "ab\\ud800cd"}'),
        ("sent", valid("jane")),
    ],
)
async def test_delete_outage_gets_one_result(kind: str, body: str) -> None:
    processor = await make(FakeCaller(), dead_letter_queue_url="http://dlq")
    queue = EdgeQueue(failing_deletes=3)
    topic = await deliver_until_settled(processor, queue, "m1", body)
    assert len(topic.published) == 1, topic.published
    assert queue.deleted, "the message was never deleted"
    if kind == "invalid":
        assert queue.copies == ["m1"]


async def test_delete_outage_duplicate_and_failed_get_one_result_each() -> None:
    caller = FakeCaller()
    processor = await make(caller, dead_letter_queue_url="http://dlq")
    await deliver_until_settled(processor, EdgeQueue(), "first", valid("jane"))
    duplicate = await deliver_until_settled(
        processor, EdgeQueue(failing_deletes=3), "second", valid("jane", "r-again")
    )
    assert duplicate.published == [("second", "duplicate")]
    caller.answer = NotSent(
        Verdict(Action.PERMANENT, "UserNotFoundException", "User does not exist."), 1
    )
    failed = await deliver_until_settled(
        processor, EdgeQueue(failing_deletes=3), "third", valid("bob")
    )
    assert failed.published == [("third", "failed")]
    assert len(caller.calls) == 2  # jane once, bob once


async def test_dead_letter_outage_one_result_and_one_copy() -> None:
    processor = await make(FakeCaller(), dead_letter_queue_url="http://dlq")
    queue = EdgeQueue(failing_copies=3)
    topic = await deliver_until_settled(processor, queue, "m1", "not json")
    assert topic.published == [("m1", "invalid")]
    assert queue.copies == ["m1"]
    assert queue.deleted


async def test_body_too_large_for_the_dead_letter_queue_is_left_to_redrive() -> None:
    processor = await make(
        FakeCaller(), dead_letter_queue_url="http://dlq", dead_letter_max_message_bytes=4096
    )
    queue = EdgeQueue()
    topic = await deliver_until_settled(processor, queue, "m1", "x" * 5000, receives=3)
    assert topic.published == [("m1", "invalid")]
    assert queue.copies == [] and queue.deleted == []


def test_answered_messages_are_bounded_and_expire() -> None:
    now = [0.0]
    answered = AnsweredMessages(2, 10, clock=lambda: now[0])
    for n in range(3):
        answered.remember(
            Result(
                Outcome=Outcome.SENT,
                RequestId=None,
                MessageId=f"m{n}",
                ClientId="c",
                Username="jane@example.com",
            )
        )
    assert answered.get("m0") is None and len(answered) == 2
    kept = answered.get("m2")
    assert kept is not None and kept.result.Username is None
    now[0] = 11
    assert answered.get("m2") is None


@pytest.mark.parametrize("size", [1000, 262_000, 262_100, 262_144 - 90, 262_144])
def test_dead_letter_copy_always_fits(size: int) -> None:
    error = ErrorInfo(Code="InvalidRequest", Message="body: not valid JSON (line 1 column 1)")
    fitted = copy_attributes("x" * size, "0f8a3a2c-6b2f-4e7c-9a51-3c2f1e0b9d77", error, 262_144)
    assert fitted is not None
    attributes, _ = fitted
    total = size + sum(
        len(name) + len(a["DataType"]) + len(a["StringValue"]) for name, a in attributes.items()
    )
    assert total <= 262_144
    if size <= 262_000:
        assert set(attributes) == {"source_message_id", "error_code", "error_message"}
    if size == 262_100:
        assert set(attributes) == {"error_code"}
    assert copy_attributes("x" * 262_145, "m", error, 262_144) is None


def test_redrive_policy_against_the_budget() -> None:
    assert max_receive_count({"RedrivePolicy": '{"maxReceiveCount": "5"}'}) == 5
    assert max_receive_count({"RedrivePolicy": "{nope"}) is None
    assert max_receive_count({}) is None
    check(8, 8)
    check(None, 8)
    with pytest.raises(RedriveMismatch, match="below RESEND_MAX_ATTEMPTS"):
        check(5, 8)


async def test_final_receive_is_answered_failed_and_copied_instead_of_deferred() -> None:
    caller = FakeCaller(
        NotSent(Verdict(Action.DEFER, "LimitExceededException", "Attempt limit exceeded", "x"), 1)
    )
    config: dict[str, Any] = {"dead_letter_queue_url": "http://dlq", "max_attempts": 8}
    processor = await make(caller, **config)
    processor._redrive = RedriveLimit(3)
    early = await processor.process(delivery("m1", valid("jane"), 2))
    assert isinstance(early, Defer)
    final = await processor.process(delivery("m1", valid("jane"), 3))
    assert isinstance(final, AnswerAndDeadLetter) and final.result.Outcome is Outcome.FAILED
    assert final.error.Code == "LimitExceededException"


async def test_a_repeat_however_often_is_only_deleted() -> None:
    processor = await make(FakeCaller(), dead_letter_queue_url="http://dlq")
    await deliver_until_settled(processor, EdgeQueue(), "m1", "not json")
    for receive in range(2, 1002):
        repeat = await processor.process(delivery("m1", "not json", receive))
        assert isinstance(repeat, DeleteOnly), repeat


async def test_redrive_watch_follows_a_changed_policy_even_a_mismatched_one() -> None:
    watch = RedriveWatch(max_attempts=8, refresh_seconds=0.01)
    watch.read({"RedrivePolicy": '{"maxReceiveCount": 12}'})
    assert watch.limit.max_receive == 12 and not watch.limit.is_final_receive(11)
    policies = iter([{"RedrivePolicy": '{"maxReceiveCount": 3}'}])

    async def attributes() -> dict[str, str]:
        try:
            return next(policies)
        except StopIteration:
            raise ConnectionError("queue unreachable") from None

    refresher = asyncio.create_task(watch.refresh_forever(attributes))
    await asyncio.sleep(0.1)
    refresher.cancel()
    assert watch.limit.max_receive == 3  # kept through the later failed reads
    assert watch.limit.is_final_receive(3)
    with pytest.raises(RedriveMismatch):
        watch.read({"RedrivePolicy": '{"maxReceiveCount": 3}'})
