"""Concurrent long polls on one queue over real HTTP: each message goes to one receiver.

moto alone lets two receives served on two server threads take the same message; the devstack
serialises each queue's scans (``devstack.sqs_receive``), as SQS behaves within a visibility
timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devstack import DevResources

from .test_devstack_sqs_faults import sqs_client

pytestmark = pytest.mark.integration


async def test_concurrent_receives_never_share_a_message(resources: DevResources) -> None:
    total = 300
    async with sqs_client(resources) as sqs:
        for start in range(0, total, 10):
            entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
            await sqs.send_message_batch(QueueUrl=resources.queue_url, Entries=entries)
        received: list[dict[str, Any]] = []

        async def receiver() -> None:
            while len(received) < total:
                answer = await sqs.receive_message(
                    QueueUrl=resources.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    VisibilityTimeout=60,
                    AttributeNames=["ApproximateReceiveCount"],
                )
                received.extend(answer.get("Messages", []))

        await asyncio.wait_for(asyncio.gather(*(receiver() for _ in range(24))), 60)
    bodies = [message["Body"] for message in received]
    assert sorted(bodies) == sorted(f"m{i}" for i in range(total)), "a message went twice"
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in received} == {"1"}


def test_install_is_idempotent() -> None:
    from moto.sqs.models import SQSBackend

    from devstack import sqs_receive

    sqs_receive.install()
    first = SQSBackend.receive_message
    sqs_receive.install()
    assert SQSBackend.receive_message is first
