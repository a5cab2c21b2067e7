"""Fixtures for the Redis limiter: a key prefix unique to each test, and a throwaway Redis.

The shared tests use the server at redis://127.0.0.1:6379 and delete their keys afterwards.
Fallback and recovery need a Redis that can go away, so those tests start their own
``redis-server`` on a free port (skipped when the binary is missing) and stop it themselves.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from .support import REDIS_URL, RedisServer


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    value = f"test-{uuid.uuid4().hex[:12]}"
    yield value
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{value}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(binary)
    try:
        yield server
    finally:
        server.stop()
