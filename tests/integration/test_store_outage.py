"""The dedupe store goes away with calls in flight: nothing the worker sent is forgotten.

Two replicas share a redis-server of this test's own (never the shared one at 6379). Paused, it
is unreachable with its data intact; killed and restarted without persistence, it comes back
empty. The figures asserted or printed here are the README's.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import Harness, WorkerProcess, spawn_worker
from .redis_process import RedisProcess

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 15


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        server.kill()


def copies(harness: Harness, names: list[str], copy: int) -> list[dict[str, Any]]:
    client_id = harness.resources.client_id
    return [{"ClientId": client_id, "Username": n, "RequestId": f"{n}-{copy}"} for n in names]


async def replicas(harness: Harness, tmp_path: Path, url: str, tag: str) -> list[WorkerProcess]:
    store = {
        "RESEND_DEDUPE_BACKEND": "redis",
        "RESEND_REDIS_URL": url,
        "RESEND_DEDUPE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "RESEND_COGNITO_MAX_RPS": "200",
        "RESEND_CONCURRENCY": "8",
    }
    return [await spawn_worker(harness.resources, tmp_path, f"{tag}{i}", **store) for i in (0, 1)]


def check_answers(results: list[dict[str, Any]], expected: set[str]) -> None:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        grouped.setdefault(result["RequestId"], []).append(result)
    assert set(grouped) == expected, "every request answered"
    # At-least-once delivery may answer a redelivered duplicate again; nothing else repeats.
    for answers in grouped.values():
        assert len({(a["MessageId"], a["Outcome"]) for a in answers}) == 1, answers
        assert len(answers) == 1 or answers[0]["Outcome"] == "duplicate", answers


def handled(worker: WorkerProcess) -> dict[str, str]:
    """request_id -> outcome of every message this replica finished."""
    done = {}
    for line in worker.log().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "message done" and "request_id" in entry:
                done[entry["request_id"]] = entry["outcome"]
    return done


async def test_store_unreachable_with_calls_in_flight_sends_no_second_code(
    harness: Harness, tmp_path: Path, redis_process: RedisProcess
) -> None:
    names = harness.add_users("outage", 40)
    harness.admin.set_faults(latency_ms=1500)
    workers = await replicas(harness, tmp_path, redis_process.url, "outage")
    try:
        await harness.send_batch(copies(harness, names, 0) + copies(harness, names, 1))
        deadline = time.monotonic() + 20
        while (await harness.depth())[1] < 16 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # claimed, marked SENDING, requests out: now the store goes
        redis_process.pause()
        await asyncio.sleep(OUTAGE_SECONDS)
        called_by_outage_end = harness.admin.calls().total
        redis_process.resume()
        results = await harness.results(2 * len(names), timeout=150)
    finally:
        codes = [await w.terminate() for w in workers]
    assert codes == [0, 0]
    assert called_by_outage_end >= 4, "calls must have been under way when the store went"
    calls = harness.admin.calls()
    twice = [user for user, count in calls.sent_by_user.items() if count > 1]
    assert twice == [], f"{len(twice)} users got 2 codes"
    assert set(calls.sent_by_user) == set(names), "every user got a code in the end"
    check_answers(results, {f"{n}-{c}" for n in names for c in (0, 1)})
    deferred = sum(w.log().count("dedupe store write deferred") for w in workers)
    assert deferred >= 1, "completions must have met the outage"
    print(
        f"store unreachable {OUTAGE_SECONDS} s: {called_by_outage_end} calls answered by its end,"
        f" {deferred} store writes kept and written later, 0 users with 2 codes"
    )
    assert await harness.depth() == (0, 0)


async def test_store_restarted_empty_still_answers_each_replicas_own_sends(
    harness: Harness, tmp_path: Path, redis_process: RedisProcess
) -> None:
    names = harness.add_users("amnesia", 40)
    workers = await replicas(harness, tmp_path, redis_process.url, "amnesia")
    try:
        await harness.send_batch(copies(harness, names, 0))
        first = await harness.results(len(names), timeout=60)
        assert {r["Outcome"] for r in first} == {"sent"}
        redis_process.kill()  # no persistence: every record is gone
        redis_process.start()
        await harness.send_batch(copies(harness, names, 1))
        second = await harness.results(len(names), timeout=90)
    finally:
        codes = [await w.terminate() for w in workers]
    assert codes == [0, 0]
    check_answers(first + second, {f"{n}-{c}" for n in names for c in (0, 1)})
    sender = {}
    later = {}
    for index, worker in enumerate(workers):
        for request_id, outcome in handled(worker).items():
            name, copy = request_id.rsplit("-", 1)
            if copy == "0" and outcome == "sent":
                sender[name] = index
            elif copy == "1":
                later[name] = index
    own = [n for n in names if later.get(n) == sender.get(n)]
    other = [n for n in names if n not in own]
    calls = harness.admin.calls()
    assert own, "some duplicates must reach the replica that sent the first code"
    assert [n for n in own if calls.sent_by_user[n] != 1] == [], "own sends are remembered"
    twice_other = [n for n in other if calls.sent_by_user[n] > 1]
    # Unprotected by design: the store was the only thing the two replicas shared.
    print(
        f"store restarted empty: {len(own)} duplicates at the sending replica, 0 second codes;"
        f" {len(other)} at the other replica, {len(twice_other)} second codes"
    )
