"""The consumer loop on its own, with a fake queue, publisher and processor.

The integration suites drive the loop against the local stack; these tests pin the loop's own
rules where timing would make a real queue slow or vague: capacity, visibility extension, the
long poll that is open when shutdown begins, and FIFO groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from resend_contract.models import ErrorInfo, Outcome, Result

from worker.consumer import Consumer
from worker.delivery import Delivery
from worker.dispositions import (
    Answer,
    AnswerAndDeadLetter,
    AnswerAndLeave,
    DeadLetterAndDelete,
    Defer,
    DeleteOnly,
    Disposition,
    Leave,
    Publishing,
)
from worker.health import Health


def delivery(n: int, group: str | None = None) -> Delivery:
    return Delivery(
        message_id=f"m-{n}",
        receipt_handle=f"h-{n}",
        body="{}",
        receive_count=1,
        sent_at=None,
        group_id=group,
    )


def answer(item: Delivery) -> Answer:
    return Answer(
        Result(
            Outcome=Outcome.SENT,
            RequestId=item.message_id,
            MessageId=item.message_id,
            ClientId="c",
            Username="u",
        )
    )


@dataclass
class FakeQueue:
    """Hands out prepared receives; an empty list of them makes ``receive`` a long poll."""

    batches: list[list[Delivery]]
    visibility_timeout: int = 30
    asked: list[int] = field(default_factory=list)
    visibility: list[tuple[str, int]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    poll_open: asyncio.Event = field(default_factory=asyncio.Event)
    poll_release: asyncio.Event = field(default_factory=asyncio.Event)
    late: list[Delivery] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Delivery]:
        self.asked.append(max_messages)
        if self.batches:
            return self.batches.pop(0)
        self.poll_open.set()
        await self.poll_release.wait()
        late, self.late = self.late, []
        return late

    async def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.visibility.append((receipt_handle, seconds))

    async def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)

    async def dead_letter(self, item: Delivery, error: object) -> None:
        # Before the delete: a body is copied while the original still exists.
        assert item.receipt_handle not in self.deleted
        self.dead_lettered.append(item.receipt_handle)

    async def drain(self) -> None:
        return None


@dataclass
class FakePublisher:
    published: list[str] = field(default_factory=list)

    async def publish(self, result: Result, trace: dict[str, str]) -> None:
        self.published.append(result.MessageId)

    async def drain(self) -> None:
        return None


@dataclass
class FakeProcessor:
    """Runs ``decide`` for each message after ``hold`` seconds, counting concurrency."""

    decide: Callable[[Delivery], Disposition] = answer
    hold: float = 0.0
    order: list[str] = field(default_factory=list)
    running: int = 0
    most_running: int = 0

    calls: bool = False  # the message's Cognito call starts as soon as it is processed
    answered: list[str] = field(default_factory=list)  # told the result went out
    copied: list[str] = field(default_factory=list)  # told the dead-letter copy was made

    async def process(self, item: Delivery, on_call: Callable[[], None]) -> Disposition:
        self.order.append(item.message_id)
        if self.calls:
            on_call()
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.hold)
            return self.decide(item)
        finally:
            self.running -= 1

    async def published(self, answer: Publishing) -> None:
        self.answered.append(answer.result.MessageId)

    def dead_lettered(self, item: Delivery) -> None:
        self.copied.append(item.message_id)

    async def flush_store(self) -> None:
        return None


def consumer(
    queue: FakeQueue, processor: FakeProcessor, *, concurrency: int = 10, fifo: bool = False
) -> tuple[Consumer, FakePublisher]:
    publisher = FakePublisher()
    worker = Consumer(
        queue,  # type: ignore[arg-type]
        publisher,  # type: ignore[arg-type]
        processor,  # type: ignore[arg-type]
        Health(stale_after_seconds=60),
        concurrency=concurrency,
        wait_seconds=20,
        fifo=fifo,
    )
    return worker, publisher


async def run_until(
    worker: Consumer, queue: FakeQueue, done: Callable[[], bool], *, timeout: float = 10
) -> None:
    """Run the loop until ``done()``, then shut it down the way SIGTERM does.

    The long poll open at that moment then returns empty, as SQS's does when its wait ends.
    """
    task = asyncio.create_task(worker.run(shutdown_timeout=5))
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "the loop did not get there in time"
        await asyncio.sleep(0.01)
    worker.stop()
    queue.poll_release.set()
    await asyncio.wait_for(task, timeout)


async def test_never_holds_more_messages_than_its_concurrency() -> None:
    items = [delivery(n) for n in range(7)]
    queue = FakeQueue(batches=[items[:2], items[2:4], items[4:6], items[6:]])
    processor = FakeProcessor(hold=0.05)
    worker, publisher = consumer(queue, processor, concurrency=2)

    await run_until(worker, queue, lambda: len(queue.deleted) == 7)

    assert processor.most_running == 2
    # Every receive asked for no more than the free slots.
    assert all(1 <= asked <= 2 for asked in queue.asked)
    assert sorted(publisher.published) == sorted(i.message_id for i in items)


async def test_a_slow_message_has_its_visibility_extended_before_it_runs_out() -> None:
    queue = FakeQueue(batches=[[delivery(1)]], visibility_timeout=2)
    processor = FakeProcessor(hold=2.6)
    worker, _ = consumer(queue, processor)

    await run_until(worker, queue, lambda: queue.deleted == ["h-1"])

    extensions = [seconds for handle, seconds in queue.visibility if handle == "h-1"]
    assert extensions, "the message was never extended"
    assert all(seconds == 2 for seconds in extensions)


async def test_shutdown_during_a_long_poll_hands_its_messages_back_unprocessed() -> None:
    queue = FakeQueue(batches=[])
    processor = FakeProcessor()
    worker, publisher = consumer(queue, processor)
    task = asyncio.create_task(worker.run(shutdown_timeout=5))
    await asyncio.wait_for(queue.poll_open.wait(), 5)

    worker.stop()
    # The poll SQS was already answering returns after the signal, with two messages.
    queue.late = [delivery(1), delivery(2)]
    queue.poll_release.set()
    await asyncio.wait_for(task, 5)

    assert processor.order == []
    assert publisher.published == []
    assert sorted(queue.visibility) == [("h-1", 0), ("h-2", 0)]
    assert queue.deleted == []


async def test_a_fifo_group_runs_in_order_and_stops_at_its_first_deferral() -> None:
    group_a = [delivery(1, "a"), delivery(2, "a"), delivery(3, "a")]
    group_b = [delivery(4, "b"), delivery(5, "b")]
    queue = FakeQueue(batches=[[group_a[0], group_b[0], group_a[1], group_b[1], group_a[2]]])

    def decide(item: Delivery) -> Disposition:
        if item.message_id == "m-2":
            return Defer(delay=30, reason="test")
        return answer(item)

    processor = FakeProcessor(decide=decide, hold=0.01)
    worker, publisher = consumer(queue, processor, fifo=True)

    await run_until(
        worker, queue, lambda: ("h-3", 0) in queue.visibility and len(queue.deleted) == 3
    )

    a_order = [m for m in processor.order if m in {"m-1", "m-2", "m-3"}]
    assert a_order == ["m-1", "m-2"]  # m-3 never starts once m-2 is deferred
    assert [m for m in processor.order if m in {"m-4", "m-5"}] == ["m-4", "m-5"]
    assert ("h-2", 30) in queue.visibility
    assert sorted(queue.deleted) == ["h-1", "h-4", "h-5"]
    assert sorted(publisher.published) == ["m-1", "m-4", "m-5"]


@pytest.mark.parametrize("fifo", [False, True])
async def test_a_message_whose_processing_raises_comes_back_later(fifo: bool) -> None:
    queue = FakeQueue(batches=[[delivery(1, "g" if fifo else None)]])

    def decide(item: Delivery) -> Disposition:
        raise RuntimeError("boom")

    worker, publisher = consumer(queue, FakeProcessor(decide=decide), fifo=fifo)

    await run_until(worker, queue, lambda: bool(queue.visibility))

    assert queue.visibility == [("h-1", 30)]
    assert publisher.published == []
    assert queue.deleted == []


@pytest.mark.parametrize("calling", [False, True])
async def test_shutdown_cancels_only_messages_whose_call_never_started(calling: bool) -> None:
    queue = FakeQueue(batches=[[delivery(1)]])
    processor = FakeProcessor(hold=1.5, calls=calling)
    worker, publisher = consumer(queue, processor)
    task = asyncio.create_task(worker.run(shutdown_timeout=0.3))
    while not processor.running:
        await asyncio.sleep(0.01)

    worker.stop()
    queue.poll_release.set()
    await asyncio.wait_for(task, 5)

    if calling:
        # Waited for past the shutdown timeout, answered and deleted.
        assert publisher.published == ["m-1"]
        assert queue.deleted == ["h-1"]
    else:
        # Cancelled and handed back at once.
        assert publisher.published == []
        assert ("h-1", 0) in queue.visibility


async def test_each_disposition_publishes_and_deletes_what_its_name_says() -> None:
    items = [delivery(n) for n in range(1, 7)]
    error = ErrorInfo(Code="InvalidJson", Message="not JSON")
    named: dict[str, Callable[[Result], Disposition]] = {
        "m-1": Answer,
        "m-2": lambda result: AnswerAndDeadLetter(result, error),
        "m-3": AnswerAndLeave,
        "m-4": Leave,
        "m-5": DeleteOnly,
        "m-6": lambda result: DeadLetterAndDelete(result, error),
    }
    queue = FakeQueue(batches=[items])
    processor = FakeProcessor(decide=lambda item: named[item.message_id](answer(item).result))
    worker, publisher = consumer(queue, processor)

    await run_until(worker, queue, lambda: len(processor.order) == 6 and not worker._in_flight)

    assert sorted(publisher.published) == ["m-1", "m-2", "m-3"]
    assert sorted(processor.answered) == ["m-1", "m-2", "m-3"]
    assert sorted(queue.dead_lettered) == ["h-2", "h-6"]
    assert sorted(processor.copied) == ["m-2", "m-6"]
    assert sorted(queue.deleted) == ["h-1", "h-2", "h-5", "h-6"]
    # Left to the queue's redrive policy: never handed back early either.
    assert not [change for change in queue.visibility if change[0] in {"h-3", "h-4"}]
