"""Helpers for the limiter tests: drive limiters and measure them, and throwaway Redis servers."""

from __future__ import annotations

import asyncio
import bisect
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from worker.rate_limit import RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


async def drive(
    limiters: Sequence[RateLimiter], seconds: float, callers: int = 16
) -> list[list[float]]:
    """Keep ``callers`` tasks per limiter acquiring for ``seconds``; grant times per limiter."""
    grants: list[list[float]] = [[] for _ in limiters]

    async def caller(limiter: RateLimiter, times: list[float]) -> None:
        while True:
            await limiter.acquire()
            times.append(time.monotonic())
            # A limiter that grants without waiting must fail the test, not starve the loop.
            await asyncio.sleep(0)

    tasks = [
        asyncio.create_task(caller(limiter, grants[i]))
        for i, limiter in enumerate(limiters)
        for _ in range(callers)
    ]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results), results
    return grants


def busiest_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most grants in any half-open window ``[t, t + window)`` starting at a grant."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, start + window) - i for i, start in enumerate(ordered)),
        default=0,
    )


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(f"resend_worker_{name}", labels or None)
    return 0.0 if value is None else value


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 3.0) -> None:
    """Wait until ``check`` holds, polling every 20 ms, or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail("condition not met in time")
        await asyncio.sleep(0.02)


def free_port() -> int:
    """A local port with nothing listening on it (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class RedisServer:
    """One ``redis-server`` process on a fixed port, which a test can start and stop."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: ASYNC220  (returns at once)
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            for _ in range(100):
                try:
                    await client.ping()
                    return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
