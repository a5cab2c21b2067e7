"""The in-process bucket: pacing, AIMD, fairness and cancellation, on the real event loop.

Pacing is checked with tolerances (the loop wakes late under load, which only slows grants): no
1 s window may hold more than the rate plus the one-token bucket, and the limiter must still let
most of the rate through.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from worker.rate_limit import LocalRateLimiter, RateLimiter, build_rate_limiter
from worker.settings import Settings

from .support import busiest_window, drive, sample


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/resend",
        "result_topic_arn": "arn:aws:sns:us-east-1:123456789012:resend-results",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def test_pacing_stays_at_the_rate_from_a_fresh_start() -> None:
    limiter = LocalRateLimiter(50.0)
    [grants] = await drive([limiter], seconds=1.5, callers=32)
    # A fresh start holds one token: the first second is no busier than any other.
    assert busiest_window(grants) <= 50 + 1
    first_second = [t for t in grants if t < grants[0] + 1.0]
    assert len(first_second) <= 50
    assert len(grants) <= 50 * 1.5 + 1
    assert len(grants) >= 0.7 * 50 * 1.5


async def test_idle_spell_builds_no_burst() -> None:
    limiter = LocalRateLimiter(20.0)
    await limiter.acquire()
    await asyncio.sleep(0.5)
    started = time.monotonic()
    for _ in range(3):
        await limiter.acquire()
    # One token was waiting; the next two were each 1/20 s apart.
    assert time.monotonic() - started >= 2 * (1 / 20) - 0.005


async def test_throttle_halves_the_pace_and_successes_bring_it_back() -> None:
    limiter = LocalRateLimiter(40.0)
    limiter.on_throttled()
    limiter.on_throttled()  # same burst of throttles: one cut
    assert limiter.allowed_rps == 20.0
    assert sample("rate_limit_allowed_rps") == 20.0
    [grants] = await drive([limiter], seconds=1.2)
    assert busiest_window(grants) <= 20 + 1

    rates = [limiter.allowed_rps]
    while limiter.allowed_rps < 40.0:
        limiter.on_success()
        assert limiter.allowed_rps > rates[-1]
        rates.append(limiter.allowed_rps)
        assert len(rates) < 1000, "never recovered"
    # A halving takes about nine seconds' worth of successes: four fast (20 to 36 RPS), then
    # five probing the last tenth below the ceiling (36 to 40 RPS).
    assert 200 < len(rates) < 400
    assert sample("rate_limit_allowed_rps") == 40.0


async def test_waiters_are_served_in_arrival_order() -> None:
    limiter = LocalRateLimiter(100.0)
    await limiter.acquire()
    served: list[int] = []

    async def waiter(index: int) -> None:
        await limiter.acquire()
        served.append(index)

    tasks = []
    for index in range(12):
        tasks.append(asyncio.create_task(waiter(index)))
        await asyncio.sleep(0)  # let it queue before the next one arrives
    await asyncio.gather(*tasks)
    assert served == list(range(12))


async def test_cancelled_waiters_consume_no_token() -> None:
    interval = 0.2
    limiter = LocalRateLimiter(1 / interval)
    await limiter.acquire()
    started = time.monotonic()
    head = asyncio.create_task(limiter.acquire())  # sleeps for the next slot
    queued = asyncio.create_task(limiter.acquire())  # waits behind it
    last = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)
    head.cancel()
    queued.cancel()
    await last
    elapsed = time.monotonic() - started
    # The slot the cancelled waiters were queued for went to the last one.
    assert interval - 0.01 <= elapsed < 2 * interval
    assert head.cancelled()
    assert queued.cancelled()


async def test_a_timed_out_acquire_leaves_the_limiter_working() -> None:
    limiter = LocalRateLimiter(5.0)
    await limiter.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire(), timeout=0.05)
    # The timed-out caller took nothing: the next one gets the slot it was waiting for...
    started = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - started < 0.2
    # ...and pacing goes on from there.
    started = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - started >= 0.2 - 0.01


async def test_acquire_reports_and_observes_the_wait() -> None:
    limiter = LocalRateLimiter(10.0)
    await limiter.acquire()
    lane = {"lane": "interactive"}
    count = sample("rate_limit_wait_seconds_count", **lane)
    total = sample("rate_limit_wait_seconds_sum", **lane)
    waited = await limiter.acquire()
    assert 0 < waited < 0.5  # one interval (0.1 s) plus however late the loop woke
    assert sample("rate_limit_wait_seconds_count", **lane) == count + 1
    assert sample("rate_limit_wait_seconds_sum", **lane) == pytest.approx(total + waited)


async def test_a_cut_applies_to_the_waiter_already_sleeping() -> None:
    limiter = LocalRateLimiter(10.0)
    await limiter.acquire()
    started = time.monotonic()
    sleeping = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    limiter.on_throttled()  # 10 -> 5 RPS: the next slot moves from 0.1 s to 0.2 s
    await sleeping
    assert time.monotonic() - started >= 0.2 - 0.02


async def test_factory_gives_each_replica_its_share_without_redis() -> None:
    limiter = build_rate_limiter(make_settings(cognito_max_rps=30, expected_replicas=3))
    assert isinstance(limiter, LocalRateLimiter)
    assert isinstance(limiter, RateLimiter)
    assert limiter.allowed_rps == 10.0
    assert sample("rate_limit_max_rps") == 30.0
    assert sample("rate_limit_allowed_rps") == 10.0
    await limiter.close()
