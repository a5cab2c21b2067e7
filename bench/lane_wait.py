"""``python -m bench.lane_wait``: interactive token waits while bulk saturates the limiter.

In-process, no AWS: the worker's own limiters with 32 bulk waiters looping on ``acquire`` (a bulk
lane at its concurrency) and one interactive acquire every half second, as in the lanes item.
First one ``LocalRateLimiter``, then two ``RedisRateLimiter`` on one fresh key (two replicas,
alternating the interactive acquires), reporting the interactive waits and whether the fleet-wide
``interactive_until`` mark was ever written. Separates the limiter's share of the lanes item's
interactive latency from everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid
from collections.abc import Sequence

import redis.asyncio as aioredis

from bench.stats import percentile
from worker.lanes import Lane
from worker.rate_limit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from worker.rate_limit.redis import ratelimit_key

BULK_WAITERS = 32
WARMUP_SECONDS = 2.0
ARRIVAL_INTERVAL = 0.5


async def _probe(
    limiters: Sequence[RateLimiter], seconds: float, redis_url: str | None, key: str
) -> dict[str, float]:
    stop = asyncio.Event()

    async def bulk(limiter: RateLimiter) -> None:
        while not stop.is_set():
            await limiter.acquire(Lane.BULK)

    tasks = [
        asyncio.create_task(bulk(limiter)) for limiter in limiters for _ in range(BULK_WAITERS)
    ]
    client = aioredis.Redis.from_url(redis_url) if redis_url else None
    waits: list[float] = []
    marked = 0
    try:
        await asyncio.sleep(WARMUP_SECONDS)
        for index in range(int(seconds / ARRIVAL_INTERVAL)):
            limiter = limiters[index % len(limiters)]
            waits.append(await limiter.acquire(Lane.INTERACTIVE))
            if client is not None:
                marked += await client.hget(key, "interactive_until") is not None
            # A little jitter, so arrivals fall at every phase of the pacing.
            await asyncio.sleep(ARRIVAL_INTERVAL + (index % 7) * 0.013)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if client is not None:
            await client.delete(key)
            await client.aclose()
    ms = [1000 * w for w in waits]
    return {
        "min_ms": min(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 95),
        "max_ms": max(ms),
        "interactive_marks_seen": float(marked),
    }


async def main_async(rps: float, seconds: float, redis_url: str) -> None:
    local = await _probe([LocalRateLimiter(rps)], seconds, None, "")
    print(f"local limiter, one replica, {rps:g}/s: {_line(local)}")
    prefix = f"bench-lane-wait-{uuid.uuid4().hex[:10]}"
    shared = [
        RedisRateLimiter(redis_url, max_rps=rps, expected_replicas=2, key_prefix=prefix)
        for _ in range(2)
    ]
    try:
        fleet = await _probe(shared, seconds, redis_url, ratelimit_key(prefix))
    finally:
        for limiter in shared:
            await limiter.close()
    print(f"Redis limiter, two replicas, {rps:g}/s: {_line(fleet)}")


def _line(figures: dict[str, float]) -> str:
    return (
        f"interactive wait min {figures['min_ms']:.0f} ms, median {figures['median_ms']:.0f} ms, "
        f"p95 {figures['p95_ms']:.0f} ms, max {figures['max_ms']:.0f} ms; "
        f"interactive_until seen {figures['interactive_marks_seen']:.0f} times"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lane_wait", description=__doc__)
    parser.add_argument("--rps", type=float, default=20.0, help="the limiter's rate (Q)")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each probe")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.rps, args.seconds, args.redis_url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
