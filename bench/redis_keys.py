"""Unique Redis key prefixes per run, and their removal afterwards."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis


def unique_prefix(tag: str) -> str:
    return f"bench-{tag}-{uuid.uuid4().hex[:10]}"


async def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` (the limiter's and the dedupe store's)."""
    client = aioredis.Redis.from_url(url, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.delete(*batch))
                batch = []
        if batch:
            deleted += int(await client.delete(*batch))
    finally:
        await client.aclose()
    return deleted
