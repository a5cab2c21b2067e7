"""Priority lanes end to end: real worker processes, the devstack over HTTP, real Redis.

Order is read from the devstack's call record (the sequence of ResendConfirmationCode calls
Cognito saw), not from clocks: "interactive overtakes the backlog" means its calls come within a
few calls of its enqueue, where FIFO would put them behind every bulk request the worker holds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .harness import Harness, WorkerProcess, spawn_worker

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"


def lanes(**overrides: str) -> dict[str, str]:
    return {"RESEND_COGNITO_MAX_RPS": "10", **overrides}


async def start(harness: Harness, tmp_path: Path, name: str, **overrides: str) -> WorkerProcess:
    env = harness.resources.worker_env(bulk_lane=True)
    return await spawn_worker(harness.resources, tmp_path, name, **env, **lanes(**overrides))


def request(harness: Harness, username: str) -> dict[str, Any]:
    return {
        "ClientId": harness.resources.client_id,
        "Username": username,
        "RequestId": str(uuid.uuid4()),
    }


async def send_all(harness: Harness, queue_url: str, bodies: list[dict[str, Any]]) -> None:
    for start_at in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(body)}
            for i, body in enumerate(bodies[start_at : start_at + 10])
        ]
        answer = await harness.sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        assert not answer.get("Failed")


async def wait_for_calls(harness: Harness, count: int, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if harness.admin.calls(with_calls=False).total >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} Cognito calls after {timeout}s")


async def results_for(
    harness: Harness, usernames: set[str], timeout: float = 30
) -> list[dict[str, Any]]:
    """The results for these users, read from the results queue among everyone else's."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found += [r for r in await harness.results(1, timeout=1) if r["Username"] in usernames]
        if {r["Username"] for r in found} == usernames:
            return found
    raise AssertionError(f"results for {len(usernames)} users did not all arrive in {timeout}s")


def call_order(harness: Harness) -> list[str]:
    return [call.username for call in harness.admin.calls().calls]


async def test_interactive_requests_overtake_a_bulk_backlog(
    harness: Harness, tmp_path: Path
) -> None:
    bulk = harness.add_users("campaign", 80)
    interactive = harness.add_users("person", 3)
    worker = await start(harness, tmp_path, "lanes")
    try:
        await send_all(
            harness, harness.resources.bulk_queue_url, [request(harness, u) for u in bulk]
        )
        await wait_for_calls(harness, 10)  # the backlog is draining: the worker holds ~20 of it
        before = harness.admin.calls(with_calls=False).total
        for username in interactive:
            await harness.send(request(harness, username))
        answered = await results_for(harness, set(interactive))
        await wait_for_calls(harness, before + 3 + 5)
        order = call_order(harness)
        positions = [order.index(username) for username in interactive]
        # FIFO would put them behind the ~20 bulk requests held for tokens (2 s at 10 RPS);
        # with lanes each goes within a few calls of its arrival.
        assert max(positions) < before + 10, (before, positions)
        # The backlog was still there: they overtook it rather than arriving after it.
        visible, in_flight = await harness.depth(harness.resources.bulk_queue_url)
        assert visible + in_flight >= 20
        assert {r["Outcome"] for r in answered} == {"sent"}
    finally:
        assert await worker.terminate() == 0


async def test_bulk_keeps_its_floor_under_a_saturating_interactive_stream(
    harness: Harness, tmp_path: Path
) -> None:
    people = harness.add_users("person", 120)
    campaign = harness.add_users("campaign", 30)
    worker = await start(harness, tmp_path, "floor", RESEND_BULK_MIN_SHARE="0.2")
    try:
        await send_all(harness, harness.resources.queue_url, [request(harness, u) for u in people])
        await wait_for_calls(harness, 5)
        await send_all(
            harness, harness.resources.bulk_queue_url, [request(harness, u) for u in campaign]
        )
        start_at = harness.admin.calls(with_calls=False).total
        await wait_for_calls(harness, start_at + 60)
        window = call_order(harness)[start_at + 10 : start_at + 60]  # once bulk is received
        bulk_calls = sum(1 for username in window if username in set(campaign))
        # Interactive always had requests waiting (120 at 10 RPS), yet bulk moved at its floor.
        assert 0.1 * len(window) <= bulk_calls <= 0.35 * len(window), bulk_calls
    finally:
        assert await worker.terminate() == 0


async def test_bulk_messages_stay_in_the_queue_until_they_can_start(
    harness: Harness, tmp_path: Path
) -> None:
    campaign = harness.add_users("campaign", 150)
    worker = await start(
        harness, tmp_path, "horizon", RESEND_COGNITO_MAX_RPS="5", RESEND_BULK_HORIZON_SECONDS="2"
    )
    try:
        await send_all(
            harness, harness.resources.bulk_queue_url, [request(harness, u) for u in campaign]
        )
        await wait_for_calls(harness, 10)
        held = []
        for _ in range(5):
            _, in_flight = await harness.depth(harness.resources.bulk_queue_url)
            held.append(in_flight)
            await asyncio.sleep(0.3)
        # 2 s at 5 RPS is 10 messages; the interactive lane would hold 32 (its concurrency).
        assert max(held) <= 10 + 2, held
        visible, _ = await harness.depth(harness.resources.bulk_queue_url)
        assert visible >= 100  # left for other replicas
    finally:
        assert await worker.terminate() == 0


async def test_a_user_in_both_lanes_gets_one_code(harness: Harness, tmp_path: Path) -> None:
    [username] = harness.add_users("both", 1)
    store = {
        "RESEND_DEDUPE_BACKEND": "redis",
        "RESEND_REDIS_URL": REDIS,
        "RESEND_DEDUPE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
    }
    workers = [await start(harness, tmp_path, f"replica-{i}", **store) for i in range(2)]
    try:
        bodies = [request(harness, username) for _ in range(6)]
        await asyncio.gather(
            send_all(harness, harness.resources.bulk_queue_url, bodies[:3]),
            send_all(harness, harness.resources.queue_url, bodies[3:]),
        )
        results = await harness.results(len(bodies), timeout=30)
    finally:
        for worker in workers:
            assert await worker.terminate() == 0
    assert harness.admin.calls(with_calls=False).sent_by_user.get(username) == 1
    outcomes = sorted(r["Outcome"] for r in results)
    assert outcomes == ["duplicate"] * 5 + ["sent"]
    assert {r["RequestId"] for r in results} == {b["RequestId"] for b in bodies}
