"""The local AWS stack in its own process, and the producer and result reader that use it.

Scenarios that need Cognito's behaviour (the quota, the call record, dedupe against real calls)
run against the devstack, ``python -m devstack``, in a child process of its own so moto's
CPU does not share a GIL with the benchmark's producer or with the worker. Each scenario
provisions its own resources and users under a unique name, so runs never see each other's
messages, and reads Cognito's call record from the devstack's admin routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypedDict

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from bench.procs import Children
from devstack import AsyncDevStackAdmin, DevResources, DevUser, provision

LISTENING = "devstack listening on "


class _Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str


DUMMY_CREDENTIALS: _Credentials = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}
SEND_BATCH = 10


async def start_devstack(children: Children) -> str:
    """Start the devstack and answer its endpoint URL."""
    child = children.python("devstack", "-m", "devstack", "--port", "0")
    line = await child.line_starting(LISTENING, within=60)
    return line.removeprefix(LISTENING).strip()


async def prepare(
    endpoint_url: str, admin: AsyncDevStackAdmin, usernames: Sequence[str]
) -> DevResources:
    """Fresh queues, topic and pool under a unique name, with these unconfirmed users."""
    name = f"b{uuid.uuid4().hex[:10]}"
    resources = await provision(endpoint_url, name=name, users=0, user_prefix=name)
    users = [DevUser(u, f"{u}@example.com") for u in usernames]
    for start in range(0, len(users), 2000):
        await admin.add_users(resources.user_pool_id, users[start : start + 2000])
    return resources


def request_body(resources: DevResources, username: str, request_id: str) -> str:
    return json.dumps(
        {"ClientId": resources.client_id, "Username": username, "RequestId": request_id}
    )


@dataclass
class Received:
    """A result read from the results queue: when we read it, and when SNS put it there.

    ``queued_at`` is the results-queue message's SentTimestamp (milliseconds, truncated): with
    raw delivery the devstack writes it while answering the worker's PublishBatch, so it is the
    moment the result was published, on this machine's clock.
    """

    at: float
    queued_at: float
    body: dict[str, Any]

    @property
    def request_id(self) -> str:
        return str(self.body.get("RequestId"))

    @property
    def outcome(self) -> str:
        return str(self.body.get("Outcome"))


@dataclass
class ResultReader:
    """Reads the results queue with a few long-polling loops until stopped."""

    sqs: Any
    queue_url: str
    # Only results whose RequestId contains this are kept: the results queue outlives a run.
    run_tag: str = ""
    received: list[Received] = field(default_factory=list)
    on_result: Callable[[Received], None] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False

    def start(self, loops: int = 2) -> None:
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(loops)]

    async def wait_for(self, count: int, within: float) -> bool:
        """True once ``count`` results are in; False after ``within`` seconds without."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self) -> None:
        while not self._stopping:
            answer = await self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=5,
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            now = time.time()
            messages = answer.get("Messages", [])
            for message in messages:
                sent_ms = message.get("Attributes", {}).get("SentTimestamp")
                queued_at = int(sent_ms) / 1000 if sent_ms else float("nan")
                result = Received(now, queued_at, json.loads(message["Body"]))
                if self.run_tag not in result.request_id:
                    continue
                self.received.append(result)
                if self.on_result is not None:
                    self.on_result(result)
            if messages:
                asyncio.create_task(self._delete(messages))  # noqa: RUF006 (best effort)

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        # A result read twice is counted once (by RequestId), so a failed delete is harmless.
        with contextlib.suppress(Exception):
            await self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)


@asynccontextmanager
async def sqs_client(endpoint_url: str) -> AsyncIterator[Any]:
    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=32
    )
    async with get_session().create_client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=config,
        **DUMMY_CREDENTIALS,
    ) as client:
        yield client


async def enqueue(sqs: Any, queue_url: str, bodies: Sequence[str], parallel: int = 8) -> None:
    """Send a backlog in batches of ten, a few batches at a time, in order of ``bodies``.

    Batches go out in order (one sender per slot, each taking the next batch), which keeps the
    queue close to the given order; moto returns messages oldest first.
    """
    batches = [bodies[i : i + SEND_BATCH] for i in range(0, len(bodies), SEND_BATCH)]
    position = 0

    async def sender() -> None:
        nonlocal position
        while position < len(batches):
            batch = batches[position]
            position += 1
            answer = await sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)],
            )
            if answer.get("Failed"):
                raise RuntimeError(f"send_message_batch failed: {answer['Failed'][:1]}")

    await asyncio.gather(*(sender() for _ in range(parallel)))


async def queue_depth(sqs: Any, queue_url: str) -> int:
    """Visible plus in-flight messages."""
    answer = await sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    attributes = answer["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
