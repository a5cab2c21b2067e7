"""At most one code per user when a call's outcome is unknown: slow answers, SIGKILL, SIGTERM.

Real worker processes, real HTTP to the devstack, the real Redis at 6379 under a unique prefix.
The devstack's call record counts the codes Cognito really issued per user.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack import DevUser

from .harness import Harness, spawn_worker

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"


def redis_store(**overrides: str) -> dict[str, str]:
    return {
        "RESEND_DEDUPE_BACKEND": "redis",
        "RESEND_REDIS_URL": REDIS,
        "RESEND_DEDUPE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        **overrides,
    }


def body(harness: Harness, username: str, request_id: str) -> dict[str, Any]:
    return {"ClientId": harness.resources.client_id, "Username": username, "RequestId": request_id}


def by_request(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        grouped.setdefault(result["RequestId"], []).append(result)
    return grouped


async def test_an_answer_past_the_read_timeout_is_one_code_and_one_unknown_result(
    harness: Harness, tmp_path: Path
) -> None:
    [name] = harness.add_users("slow", 1)
    harness.admin.set_faults(latency_ms=2500)
    worker = await spawn_worker(
        harness.resources,
        tmp_path,
        "slow",
        **redis_store(
            RESEND_COGNITO_CONNECT_TIMEOUT_SECONDS="1",
            RESEND_COGNITO_READ_TIMEOUT_SECONDS="1",
            RESEND_SHUTDOWN_TIMEOUT_SECONDS="2",
        ),
    )
    try:
        await harness.send(body(harness, name, "slow-first"))
        first = await harness.results(1, timeout=20)
        # Cognito goes on with the call the worker stopped waiting for, and sends the code.
        deadline = time.monotonic() + 10
        while harness.admin.calls().total < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        harness.admin.set_faults(latency_ms=0)
        await harness.send(body(harness, name, "slow-later"))
        later = await harness.results(1, timeout=20)
    finally:
        assert await worker.terminate() == 0
    assert [r["Outcome"] for r in first] == ["unknown"], first
    assert first[0]["Error"]["Code"] == "ReadTimeout"
    assert first[0]["Error"]["Reason"] == "outcome_unknown"
    assert first[0]["_attributes"]["outcome"] == "unknown", "filterable by SNS attribute"
    assert [r["Outcome"] for r in later] == ["duplicate"], later
    assert later[0]["Original"]["RequestId"] == "slow-first"
    assert later[0]["Original"]["Outcome"] == "unknown"
    calls = harness.admin.calls()
    assert calls.total == 1, "the read timeout was not retried, the later request not called"
    assert calls.sent_by_user == {name: 1}
    assert await harness.depth() == (0, 0)


@pytest.mark.parametrize(
    "phase", ["before", "after"], ids=["killed-mid-call", "killed-after-cognito-sent"]
)
async def test_sigkill_during_a_call_leaves_one_code_and_one_result_each(
    harness: Harness, tmp_path: Path, phase: str
) -> None:
    """The devstack holds every call, so the kill lands mid-call deterministically.

    "before": the request reached Cognito, nothing decided yet (released after the kill, it
    sends the code). "after": Cognito sent the code, the answer is not out. Either way the store
    holds the dead worker's SENDING record, as it would for a kill between the answer and the
    completion.
    """
    names = harness.add_users(f"kill-{phase}", 4)
    store = redis_store(
        RESEND_VISIBILITY_TIMEOUT_SECONDS="10",
        RESEND_RETRY_MAX_SECONDS="4",
        RESEND_COGNITO_CONNECT_TIMEOUT_SECONDS="1",
        RESEND_COGNITO_READ_TIMEOUT_SECONDS="5",
        RESEND_SHUTDOWN_TIMEOUT_SECONDS="6",
    )
    harness.admin.set_faults(hold_users=dict.fromkeys(names, phase))
    first = await spawn_worker(harness.resources, tmp_path, "first", **store)
    await harness.send_batch([body(harness, n, f"{n}-0") for n in names])
    deadline = time.monotonic() + 20
    while set(harness.admin.held()) != set(names):
        assert time.monotonic() < deadline, harness.admin.held()
        await asyncio.sleep(0.05)
    await first.kill()
    harness.admin.release()

    second = await spawn_worker(harness.resources, tmp_path, "second", **store)
    try:
        await harness.send_batch([body(harness, n, f"{n}-1") for n in names])
        results = await harness.results(2 * len(names), timeout=90)
    finally:
        assert await second.terminate() == 0
    calls = harness.admin.calls()
    assert calls.sent_by_user == dict.fromkeys(names, 1), "one code per user"
    assert calls.total == len(names), "nobody was called again"
    grouped = by_request(results)
    assert set(grouped) == {f"{n}-{c}" for n in names for c in (0, 1)}, "nothing lost"
    assert all(len(answers) == 1 for answers in grouped.values()), "one result each"
    for name in names:
        [original] = grouped[f"{name}-0"]
        assert (original["Outcome"], original["Error"]["Code"]) == ("unknown", "CallAbandoned")
        [duplicate] = grouped[f"{name}-1"]
        assert duplicate["Outcome"] == "duplicate"
        assert duplicate["Original"]["RequestId"] == f"{name}-0"
        assert duplicate["Original"]["Outcome"] == "unknown"
    assert await harness.depth() == (0, 0)


async def test_sigterm_under_steady_load_sends_no_second_code(
    harness: Harness, tmp_path: Path
) -> None:
    """A replica stops with calls in flight; a second one drains what it handed back."""
    resources = harness.resources
    users = [DevUser(f"calm-{i:03d}", f"calm-{i:03d}@example.org") for i in range(200)]
    harness.admin.add_users(resources.user_pool_id, users)
    harness.admin.set_faults(latency_ms=400, jitter_ms=400)
    store = redis_store(
        RESEND_CONCURRENCY="8",
        RESEND_SHUTDOWN_TIMEOUT_SECONDS="3",
        RESEND_COGNITO_CONNECT_TIMEOUT_SECONDS="1",
        RESEND_COGNITO_READ_TIMEOUT_SECONDS="2",
        RESEND_COGNITO_MAX_RPS="100",
    )
    first = await spawn_worker(resources, tmp_path, "stopping", **store)

    async def produce() -> None:
        for user in users:
            await harness.send(body(harness, user.username, user.username))
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(produce())
    await asyncio.sleep(2.5)
    first.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.process.wait(), 30) == 0
    log = [json.loads(line) for line in first.log().splitlines() if line.startswith("{")]
    [finishing] = [e for e in log if e["event"] == "finishing in-flight messages"]
    assert finishing["in_flight"] >= 1, "the signal must land with calls in flight"
    before = await harness.all_results()
    await producer

    second = await spawn_worker(resources, tmp_path, "draining", **store)
    try:
        after = await harness.results(len(users) - len(before), timeout=90)
    finally:
        assert await second.terminate() == 0
    grouped = by_request(before + after)
    assert set(grouped) == {u.username for u in users}, "a request was lost"
    assert all(len(answers) == 1 for answers in grouped.values()), "a request answered twice"
    assert {r["Outcome"] for r in before + after} == {"sent"}
    calls = harness.admin.calls()
    assert calls.sent_by_user == {u.username: 1 for u in users}, "a user got a second code"
    assert calls.total == len(users)
