"""Deduplication across replicas: one code per user per window, exactly one result per request."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session

from worker import metrics

from .harness import Harness, spawn_worker

pytestmark = pytest.mark.integration


def interleaved(
    harness: Harness, names: list[str], copies: int, *, vary_case: bool = True
) -> list[dict[str, Any]]:
    """``copies`` requests per user, round-robin; the third copy upper-cased if ``vary_case``."""
    bodies = []
    for copy in range(copies):
        for name in names:
            username = name.upper() if vary_case and copy == 2 else name
            bodies.append(
                {
                    "ClientId": harness.resources.client_id,
                    "Username": username,
                    "RequestId": f"{name}-{copy}",
                }
            )
    return bodies


@pytest.mark.parametrize("backend", ["redis", "dynamodb"])
async def test_two_replicas_fifty_users_five_requests_each(
    harness: Harness, tmp_path: Path, backend: str
) -> None:
    names = harness.add_users("dup", 50)
    store = {
        "RESEND_DEDUPE_BACKEND": backend,
        "RESEND_REDIS_URL": "redis://127.0.0.1:6379/0",
        "RESEND_DEDUPE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "RESEND_COGNITO_MAX_RPS": "200",
        # Small receives spread each user's copies over both replicas.
        "RESEND_CONCURRENCY": "4",
    }
    workers = [
        await spawn_worker(harness.resources, tmp_path, f"{backend}{i}", **store) for i in range(2)
    ]
    try:
        await harness.send_batch(interleaved(harness, names, 5, vary_case=False))
        results = await harness.results(250, timeout=60)
    finally:
        codes = [await w.terminate() for w in workers]
    assert codes == [0, 0]
    calls = harness.admin.calls()
    assert calls.total == 50, calls.by_result
    by_request: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_request.setdefault(result["RequestId"], []).append(result)
    assert len(by_request) == 250, "every request answered"
    # SQS delivers at least once: a message answered "duplicate" and delivered again is answered
    # "duplicate" again (same message, same outcome). Nothing else may be repeated.
    for answers in by_request.values():
        assert len({(a["MessageId"], a["Outcome"]) for a in answers}) == 1, answers
        assert len(answers) == 1 or answers[0]["Outcome"] == "duplicate", answers
    assert len(results) - 250 <= 2, "redeliveries are rare, not the rule"
    outcomes = [answers[0]["Outcome"] for answers in by_request.values()]
    assert (outcomes.count("sent"), outcomes.count("duplicate")) == (50, 200)
    sent = {r["RequestId"]: r for r in results if r["Outcome"] == "sent"}
    for result in results:
        if result["Outcome"] == "duplicate":
            original = result["Original"]
            assert original["RequestId"] in sent
            assert original["Outcome"] == "sent"
            assert (
                result["CodeDeliveryDetails"] == sent[original["RequestId"]]["CodeDeliveryDetails"]
            )
    assert await harness.depth() == (0, 0)
    # Both replicas took part, and both called Cognito: the claims really were contended.
    assert all('"outcome": "sent"' in w.log() for w in workers)


async def test_same_batch_one_call(harness: Harness) -> None:
    [name] = harness.add_users("batch", 1)
    await harness.send_batch(interleaved(harness, [name], 2)[:2])
    await harness.start()
    results = await harness.results(2)
    assert sorted(r["Outcome"] for r in results) == ["duplicate", "sent"]
    assert harness.admin.calls().total == 1


async def test_sigkill_frees_claims_when_leases_expire(harness: Harness, tmp_path: Path) -> None:
    names = harness.add_users("killed", 6)
    store = {
        "RESEND_DEDUPE_BACKEND": "redis",
        "RESEND_REDIS_URL": "redis://127.0.0.1:6379/0",
        "RESEND_DEDUPE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "RESEND_VISIBILITY_TIMEOUT_SECONDS": "10",
        "RESEND_RETRY_MAX_SECONDS": "4",
        "RESEND_COGNITO_CONNECT_TIMEOUT_SECONDS": "1",
        "RESEND_COGNITO_READ_TIMEOUT_SECONDS": "1",
    }
    # One call a second: the first worker claims every user at once, then waits for tokens.
    first = await spawn_worker(
        harness.resources, tmp_path, "first", RESEND_COGNITO_MAX_RPS="1", **store
    )
    await harness.send_batch(interleaved(harness, names, 1))
    while harness.admin.calls().total < 2:
        await asyncio.sleep(0.05)
    await first.kill()
    called_before = {c.username for c in harness.admin.calls().calls}
    assert len(called_before) < len(names), "the kill must leave claims behind"

    second = await spawn_worker(
        harness.resources, tmp_path, "second", RESEND_COGNITO_MAX_RPS="50", **store
    )
    try:
        results = await harness.results(len(names), timeout=60)
    finally:
        assert await second.terminate() == 0
    by_user: dict[str, int] = {}
    for call in harness.admin.calls().calls:
        by_user[call.username] = by_user.get(call.username, 0) + 1
    assert by_user == dict.fromkeys(names, 1), "one Cognito call per user in all"
    assert sorted(r["RequestId"] for r in results if r["Outcome"] != "duplicate") == sorted(
        f"{n}-0" for n in names
    )
    assert await harness.depth() == (0, 0)


async def test_publish_failure_after_cognito_success_republishes_stored_result(
    harness: Harness,
) -> None:
    resources = harness.resources
    [name] = harness.add_users("publish", 1)
    harness.admin.set_faults(latency_ms=700)
    redeliveries = metrics.dedupe_hits.labels("redelivery")._value.get()
    await harness.start(RESEND_VISIBILITY_TIMEOUT_SECONDS="10", RESEND_RETRY_MAX_SECONDS="4")
    async with get_session().create_client("sns", region_name=resources.region) as sns:
        await harness.send_batch(interleaved(harness, [name], 1))
        # While Cognito answers, the topic disappears: the publish fails after the success.
        await asyncio.sleep(0.3)
        await sns.delete_topic(TopicArn=resources.result_topic_arn)
        await asyncio.sleep(2.5)
        assert harness.admin.calls().total == 1
        topic = await sns.create_topic(Name=resources.result_topic_arn.rsplit(":", 1)[1])
        assert topic["TopicArn"] == resources.result_topic_arn
        await sns.subscribe(
            TopicArn=resources.result_topic_arn,
            Protocol="sqs",
            Endpoint=resources.results_queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        results = await harness.results(1, timeout=30)
    assert [r["Outcome"] for r in results] == ["sent"]
    assert results[0]["RequestId"] == f"{name}-0"
    assert results[0]["Attempts"] == 1  # the stored result of the first delivery
    assert harness.admin.calls().total == 1, "Cognito must not be called again"
    assert metrics.dedupe_hits.labels("redelivery")._value.get() == redeliveries + 1


@pytest.fixture
def throwaway_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own, so that it can go away mid-run."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed (see the README)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("fail_open", [False, True], ids=["fail-closed", "fail-open"])
async def test_unreachable_store_defers_unless_fail_open(
    harness: Harness, throwaway_redis: tuple[str, subprocess.Popen[bytes]], fail_open: bool
) -> None:
    url, redis_process = throwaway_redis
    [name] = harness.add_users("storeless", 1)
    deferrals = metrics.deferrals.labels("dedupe_unavailable")._value.get()
    errors = metrics.dedupe_store_errors.labels("claim")._value.get()
    await harness.start(
        RESEND_DEDUPE_BACKEND="redis",
        RESEND_REDIS_URL=url,
        RESEND_DEDUPE_FAIL_OPEN=str(fail_open).lower(),
    )
    redis_process.kill()
    redis_process.wait()
    await harness.send_batch(interleaved(harness, [name], 1))
    if fail_open:
        [result] = await harness.results(1, timeout=20)
        assert result["Outcome"] == "sent"
        assert harness.admin.calls().total == 1
    else:
        deadline = time.monotonic() + 20
        while metrics.deferrals.labels("dedupe_unavailable")._value.get() == deferrals:
            assert time.monotonic() < deadline, "the message was not deferred"
            await asyncio.sleep(0.1)
        assert await harness.all_results() == []
        assert harness.admin.calls().total == 0, "no Cognito call without the store"
        assert await harness.depth() == (0, 1)  # deferred, not lost
    assert metrics.dedupe_store_errors.labels("claim")._value.get() > errors
