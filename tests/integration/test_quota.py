"""Retries, deferrals and the quota, against the devstack's injected faults over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack import DevUser
from worker import metrics
from worker.retry import DEFER, PERMANENT, RETRY_NOW

from .harness import Harness, spawn_worker

pytestmark = pytest.mark.integration

THROTTLED = "TooManyRequestsException"


async def send_all(harness: Harness, names: list[str]) -> None:
    client_id = harness.resources.client_id
    await harness.send_batch(
        [{"ClientId": client_id, "Username": name, "RequestId": name} for name in names]
    )


def counter(metric: Any, *labels: str) -> float:
    child = metric.labels(*labels) if labels else metric
    return float(child._value.get())


async def dead_letters(harness: Harness) -> int:
    visible, in_flight = await harness.depth(harness.resources.dead_letter_queue_url)
    return visible + in_flight


async def test_worker_above_quota_ends_every_request_sent(harness: Harness) -> None:
    names = harness.add_users("quota", 400)
    harness.admin.set_faults(quota_rps=20)
    await harness.start(RESEND_COGNITO_MAX_RPS="60")
    await send_all(harness, names)
    results = await harness.results(len(names), timeout=90)

    assert len(results) == len(names)
    assert {r["RequestId"] for r in results} == set(names)
    assert all(r["Outcome"] == "sent" for r in results)
    assert max(r["Attempts"] for r in results) <= 2, "a message was received more than twice"
    assert await dead_letters(harness) == 0
    calls = harness.admin.calls().calls
    first = min(c.timestamp for c in calls)
    settled = [c for c in calls if c.timestamp > first + 3]
    throttled = sum(c.result == THROTTLED for c in settled)
    assert throttled / len(settled) < 0.05, f"{throttled} of {len(settled)} calls throttled"


async def test_two_processes_share_one_quota_through_redis(
    harness: Harness, tmp_path: Path
) -> None:
    names = harness.add_users("shared", 200)
    harness.admin.set_faults(quota_rps=20)
    shared = {
        "RESEND_COGNITO_MAX_RPS": "20",
        "RESEND_RATE_LIMIT_REDIS_URL": "redis://127.0.0.1:6379/0",
        "RESEND_DEDUPE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "RESEND_EXPECTED_REPLICAS": "2",
    }
    workers = [await spawn_worker(harness.resources, tmp_path, f"w{i}", **shared) for i in range(2)]
    try:
        await send_all(harness, names)
        results = await harness.results(len(names), timeout=90)
    finally:
        codes = [await w.terminate() for w in workers]
    assert codes == [0, 0]
    assert sorted(r["RequestId"] for r in results) == sorted(names)
    assert all(r["Outcome"] == "sent" for r in results)
    calls = harness.admin.calls().calls
    ok = sorted(c.timestamp for c in calls if c.result == "ok")
    rate = (len(ok) - 1) / (ok[-1] - ok[0])
    assert rate <= 20 * 1.05, f"combined successful rate {rate:.1f}/s"
    throttled = sum(c.result == THROTTLED for c in calls)
    assert throttled / len(calls) < 0.05, f"{throttled} of {len(calls)} throttled"
    # Both replicas worked: the limiter is shared, not one replica starving the other.
    assert all('"outcome": "sent"' in w.log() for w in workers)


async def test_internal_errors_on_30_percent_all_end_sent(harness: Harness) -> None:
    names = harness.add_users("flaky", 60)
    harness.admin.set_faults(error_rate=0.3, error_code="InternalErrorException")
    retries_before = counter(metrics.retries, "InternalErrorException")
    await harness.start(RESEND_COGNITO_MAX_RPS="200")
    await send_all(harness, names)
    results = await harness.results(len(names), timeout=60)
    assert sorted(r["RequestId"] for r in results) == sorted(names)
    assert all(r["Outcome"] == "sent" for r in results)
    assert counter(metrics.retries, "InternalErrorException") > retries_before


async def test_per_user_limit_defers_then_fails_others_unaffected(harness: Harness) -> None:
    limited, *others = harness.add_users("limited", 6)
    harness.admin.set_faults(user_errors={limited: "LimitExceededException"})
    deferred_before = counter(metrics.deferrals, "per_user_limit")
    await harness.start(
        RESEND_MAX_ATTEMPTS="2",
        RESEND_DEFER_MAX_SECONDS="1",
        RESEND_VISIBILITY_TIMEOUT_SECONDS="10",
        RESEND_RETRY_MAX_SECONDS="2",
    )
    await send_all(harness, [limited, *others])
    results = {r["RequestId"]: r for r in await harness.results(6, timeout=30)}
    assert all(results[name]["Outcome"] == "sent" for name in others)
    failed = results[limited]
    assert failed["Outcome"] == "failed"
    assert failed["Error"]["Code"] == "LimitExceededException"
    assert failed["Error"]["Reason"] == "per_user_limit"
    assert failed["Attempts"] == 2  # deferred once, failed when the budget was spent
    assert counter(metrics.deferrals, "per_user_limit") == deferred_before + 1
    assert harness.admin.calls().by_result["LimitExceededException"] == 2
    assert await dead_letters(harness) == 0


async def test_every_code_leads_to_its_action(harness: Harness) -> None:
    codes = sorted(RETRY_NOW | DEFER | (PERMANENT - {"ParamValidationError"}))
    users = {code: f"code-{code}" for code in codes}
    harness.admin.add_users(
        harness.resources.user_pool_id,
        [DevUser(name, f"{name}@example.net") for name in users.values()],
    )
    harness.admin.set_faults(user_errors={name: code for code, name in users.items()})
    await harness.start(RESEND_RETRY_MAX_ATTEMPTS="3", RESEND_COGNITO_MAX_RPS="500")
    await send_all(harness, list(users.values()))
    expected_results = len(PERMANENT) - 1
    results = {r["RequestId"]: r for r in await harness.results(expected_results, timeout=30)}
    await asyncio.sleep(1.5)  # let the retried ones finish their in-process attempts
    calls: dict[str, int] = {}
    for call in harness.admin.calls().calls:
        calls[call.username] = calls.get(call.username, 0) + 1
    for code, name in users.items():
        if code in PERMANENT:
            assert results[name]["Outcome"] == "failed", code
            assert results[name]["Error"]["Code"] == code
            assert calls[name] == 1, code
        elif code in DEFER:
            assert name not in results, f"{code} must be deferred, not answered"
            assert calls[name] == 1, code
        else:
            assert name not in results, f"{code} must be retried then deferred"
            assert calls[name] == 3, code
    # The deferred ones are still in the queue, invisible until their delay passes.
    assert await harness.depth() == (0, len(DEFER) + len(RETRY_NOW))


async def test_unreachable_redis_limiter_falls_back_to_local(harness: Harness) -> None:
    names = harness.add_users("fallback", 20)
    fallbacks = counter(metrics.rate_limit_fallbacks)
    await harness.start(
        RESEND_RATE_LIMIT_REDIS_URL="redis://127.0.0.1:1/0", RESEND_COGNITO_MAX_RPS="100"
    )
    await send_all(harness, names)
    results = await harness.results(len(names), timeout=30)
    assert sorted(r["RequestId"] for r in results) == sorted(names)
    assert all(r["Outcome"] == "sent" for r in results)
    assert counter(metrics.rate_limit_fallbacks) > fallbacks
