"""FIFO queue and topic: one group's messages are never processed concurrently or out of order."""

from __future__ import annotations

import json

import pytest

from devstack import DevStack, DevUser, provision

from .harness import Harness

pytestmark = pytest.mark.integration


async def test_fifo_queue_and_topic(harness: Harness, devstack: DevStack) -> None:
    resources = await provision(devstack.endpoint_url, name="ordered", fifo=True, users=0)
    names = [f"fifo-user-{i}" for i in range(6)]
    harness.admin.add_users(resources.user_pool_id, [DevUser(n, f"{n}@example.com") for n in names])
    fifo = Harness(resources, harness.sqs, harness.admin, harness.monkeypatch, harness.workers)
    # Latency makes concurrency visible: were one group's messages processed in parallel,
    # their calls would overlap and could finish out of order.
    harness.admin.set_faults(latency_ms=150, jitter_ms=100)
    await fifo.start(RESEND_CONCURRENCY="10")
    for index, name in enumerate(names):
        group = "group-a" if index % 2 == 0 else "group-b"
        await fifo.send(
            {"ClientId": resources.client_id, "Username": name, "RequestId": f"fifo-{index}"},
            MessageGroupId=group,
            MessageDeduplicationId=f"dedup-{index}",
        )
    results = await fifo.results(len(names), timeout=30)
    assert sorted(r["RequestId"] for r in results) == [f"fifo-{i}" for i in range(6)]
    assert all(r["Outcome"] == "sent" for r in results)

    calls = sorted(harness.admin.calls().calls, key=lambda call: call.timestamp)
    order = [call.username for call in calls]
    assert [n for n in order if n in names[0::2]] == names[0::2]
    assert [n for n in order if n in names[1::2]] == names[1::2]
    # A FIFO topic needs a group id: the results arrived, so the worker derived one.
    assert json.loads(json.dumps(results[0]))["MessageId"]
