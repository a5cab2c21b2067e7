"""The shared limiter against real Redis: two limiters in one process stand for two replicas.

Pacing tolerances: one grant above the rate per 1 s window for the one-token bucket, one more
for the jitter between two clients' round trips (a grant is timed when the caller wakes, not
when Redis handed out the slot).
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from worker.rate_limit import RateLimiter, RedisRateLimiter, build_rate_limiter
from worker.rate_limit.redis import ratelimit_key
from worker.settings import Settings

from .support import REDIS_URL, RedisServer, busiest_window, drive, eventually, free_port, sample

pytestmark = pytest.mark.integration


def shared(prefix: str, max_rps: float = 20.0, **kwargs: float) -> RedisRateLimiter:
    return RedisRateLimiter(
        REDIS_URL, max_rps=max_rps, expected_replicas=2, key_prefix=prefix, **kwargs
    )


async def read_state(prefix: str) -> tuple[dict[bytes, bytes], int]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        key = ratelimit_key(prefix)
        raw = await client.hgetall(key)
        state = {k: v for k, v in raw.items() if isinstance(k, bytes) and isinstance(v, bytes)}
        return state, await client.pttl(key)
    finally:
        await client.aclose()


async def test_two_replicas_share_one_rate(prefix: str) -> None:
    first, second = shared(prefix), shared(prefix)
    try:
        grants = await drive([first, second], seconds=1.5)
    finally:
        await first.close()
        await second.close()
    together = grants[0] + grants[1]
    assert busiest_window(together) <= 20 + 2
    assert len(together) <= 20 * 1.5 + 2
    assert len(together) >= 0.7 * 20 * 1.5
    # Both got a fair part of it, not one starving the other.
    assert min(len(grants[0]), len(grants[1])) >= len(together) / 4


async def test_a_throttle_on_one_replica_slows_both(prefix: str) -> None:
    first, second = shared(prefix, max_rps=40.0), shared(prefix, max_rps=40.0)
    try:
        await first.acquire()
        await second.acquire()
        first.on_throttled()
        await first.flush()
        assert first.allowed_rps == 20.0
        await second.acquire()
        assert second.allowed_rps == 20.0
        # The second replica's throttle from the same burst falls in the shared cooldown.
        second.on_throttled()
        await second.flush()
        assert second.allowed_rps == 20.0
        grants = await drive([first, second], seconds=1.2)
        assert busiest_window(grants[0] + grants[1]) <= 20 + 2
    finally:
        await first.close()
        await second.close()


async def test_successes_on_one_replica_raise_the_rate_for_both(prefix: str) -> None:
    first, second = shared(prefix, max_rps=40.0), shared(prefix, max_rps=40.0)
    try:
        await first.acquire()
        first.on_throttled()
        await first.flush()
        assert first.allowed_rps == 20.0
        for _ in range(20):
            first.on_success()
        # Counted locally, sent as one batch within the flush interval.
        await eventually(lambda: first.allowed_rps > 20.0, timeout=1.0)
        raised = first.allowed_rps
        # 20 successes at 20 RPS are one second's worth: about max / 10 = 4 RPS more.
        assert 23.0 < raised < 25.0
        await second.acquire()
        assert second.allowed_rps == pytest.approx(raised)
        assert sample("rate_limit_allowed_rps") == pytest.approx(raised)
    finally:
        await first.close()
        await second.close()


async def test_state_is_one_namespaced_key_that_expires(prefix: str) -> None:
    limiter = shared(prefix)
    try:
        await limiter.acquire()
        for _ in range(50):
            limiter.on_success()  # at the maximum already: nothing to send
        await limiter.flush()
        state, ttl_ms = await read_state(prefix)
        assert set(state) == {b"last"}
        assert 0 < ttl_ms <= 60_000
        limiter.on_throttled()
        await limiter.flush()
        state, ttl_ms = await read_state(prefix)
        assert set(state) == {b"last", b"rate", b"cut_at", b"ceiling"}
        assert float(state[b"rate"]) == 10.0
        assert 0 < ttl_ms <= 60_000
    finally:
        await limiter.close()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert [key async for key in client.scan_iter(match=f"{prefix}*")] == [
            ratelimit_key(prefix).encode()
        ]
    finally:
        await client.aclose()


async def test_a_cancelled_waiter_does_not_break_the_others(prefix: str) -> None:
    limiter = shared(prefix, max_rps=5.0)
    try:
        await limiter.acquire()
        started = asyncio.get_running_loop().time()
        waiting = [asyncio.create_task(limiter.acquire()) for _ in range(3)]
        await asyncio.sleep(0.05)
        waiting[1].cancel()  # queued behind the head, which holds the next slot
        await asyncio.wait_for(asyncio.gather(waiting[0], waiting[2]), timeout=2.0)
        elapsed = asyncio.get_running_loop().time() - started
        assert waiting[1].cancelled()
        # Two slots (0.2 s apart) for the two that stayed, not three.
        assert 0.4 - 0.02 <= elapsed < 0.55
    finally:
        await limiter.close()


async def test_unreachable_redis_falls_back_to_the_replica_share(prefix: str) -> None:
    fallbacks = sample("rate_limit_fallbacks_total")
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{free_port()}/0",
        max_rps=20.0,
        expected_replicas=4,
        key_prefix=prefix,
    )
    try:
        [grants] = await drive([limiter], seconds=1.2, callers=8)
        assert limiter.fallback_active
        assert limiter.allowed_rps == 5.0
        assert busiest_window(grants) <= 5 + 1
        assert len(grants) >= 4
        # One transition, one count, however many acquisitions ran in fallback.
        assert sample("rate_limit_fallbacks_total") == fallbacks + 1
        assert sample("rate_limit_fallback_active") == 1.0
        assert sample("rate_limit_allowed_rps") == 5.0
        # Throttles still count: they cut the local share.
        limiter.on_throttled()
        assert limiter.allowed_rps == 2.5
    finally:
        await limiter.close()


async def test_switches_back_when_redis_answers_and_out_again_when_it_stops(
    prefix: str, redis_server: RedisServer
) -> None:
    fallbacks = sample("rate_limit_fallbacks_total")
    limiter = RedisRateLimiter(
        redis_server.url,
        max_rps=20.0,
        expected_replicas=2,
        key_prefix=prefix,
        probe_interval=0.1,
    )
    try:
        await limiter.acquire()
        assert limiter.fallback_active
        assert limiter.allowed_rps == 10.0
        await redis_server.start()
        await eventually(lambda: not limiter.fallback_active)
        assert sample("rate_limit_fallback_active") == 0.0
        await limiter.acquire()
        assert limiter.allowed_rps == 20.0
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            assert await client.hexists(ratelimit_key(prefix), "last")
        finally:
            await client.aclose()

        redis_server.stop()
        await limiter.acquire()
        assert limiter.fallback_active
        assert sample("rate_limit_fallbacks_total") == fallbacks + 2
        assert sample("rate_limit_fallback_active") == 1.0
    finally:
        await limiter.close()


async def test_factory_builds_the_shared_limiter_when_redis_is_set(prefix: str) -> None:
    settings = Settings(
        queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/resend",
        result_topic_arn="arn:aws:sns:us-east-1:123456789012:resend-results",
        cognito_max_rps=25,
        expected_replicas=5,
        rate_limit_redis_url=REDIS_URL,
        dedupe_key_prefix=prefix,
    )
    limiter = build_rate_limiter(settings)
    try:
        assert isinstance(limiter, RedisRateLimiter)
        assert isinstance(limiter, RateLimiter)
        await limiter.acquire()
        assert limiter.allowed_rps == 25.0
        assert not limiter.fallback_active
        state, _ = await read_state(prefix)
        assert b"last" in state
    finally:
        await limiter.close()
