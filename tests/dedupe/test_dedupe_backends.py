"""What each shared backend stores, and how each fails when its server is not there."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiobotocore.session import AioSession
from prometheus_client import REGISTRY

from worker.dedupe import DedupeStoreError, build_dedupe_store, dedupe_key
from worker.dedupe.dynamodb import DynamoDBDedupeStore
from worker.dedupe.redis import RedisDedupeStore
from worker.settings import DedupeBackend, Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REDIS_URL = "redis://127.0.0.1:6379/0"
REGION = "us-east-1"
USERNAME = "Someone.Private@Example.com"
KEY = dedupe_key("client1", USERNAME)
RESULT = {"outcome": "sent", "destination": "s***@e***.com"}


def _errors(operation: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "resend_worker_dedupe_store_errors_total", {"operation": operation}
        )
        or 0.0
    )


async def test_redis_layout_and_expiry(redis_prefix: str) -> None:
    store = RedisDedupeStore(REDIS_URL, key_prefix=redis_prefix)
    raw = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    name = f"{redis_prefix}:dedupe:{KEY}"
    try:
        await store.claim(KEY, "owner-a", 5)
        document = json.loads(str(await raw.get(name)))
        lease_ttl = await raw.pttl(name)
        await store.complete(KEY, "owner-a", RESULT, 120)
        completed = json.loads(str(await raw.get(name)))
        window_ttl = await raw.pttl(name)
        keys = [key async for key in raw.scan_iter(match=f"{redis_prefix}:*")]
    finally:
        await raw.aclose()
        await store.close()

    assert keys == [name]
    assert USERNAME.casefold() not in name.casefold()
    assert document == {
        "status": "INPROGRESS",
        "owner": "owner-a",
        "expires_at": pytest.approx(time.time() + 5, abs=2),
        "result": None,
    }
    assert 0 < lease_ttl <= 5000
    assert completed["status"] == "COMPLETED" and completed["result"] == RESULT
    assert 5000 < window_ttl <= 120_000


async def test_dynamodb_item_layout(
    dynamodb_table: str, moto_endpoint: str, aws_credentials: None
) -> None:
    store = DynamoDBDedupeStore(
        dynamodb_table, region=REGION, key_prefix="layout", endpoint_url=moto_endpoint
    )
    async with AioSession().create_client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        try:
            await store.claim(KEY, "owner-a", 5)
            await store.complete(KEY, "owner-a", RESULT, 120)
        finally:
            await store.close()
        items = (await client.scan(TableName=dynamodb_table))["Items"]

    assert len(items) == 1
    item: dict[str, Any] = items[0]
    assert item["pk"] == {"S": f"layout:dedupe:{KEY}"}
    assert USERNAME.casefold() not in json.dumps(item).casefold()
    assert item["status"] == {"S": "COMPLETED"} and item["owner"] == {"S": "owner-a"}
    assert json.loads(item["result"]["S"]) == RESULT
    precise_ms = int(item["expires_at_ms"]["N"])
    ttl = int(item["expires_at"]["N"])  # an integer, as DynamoDB TTL wants
    assert precise_ms / 1000 <= ttl < precise_ms / 1000 + 1
    assert time.time() + 100 < ttl < time.time() + 140


async def test_dynamodb_missing_table_fails_ping(moto_endpoint: str, aws_credentials: None) -> None:
    store = DynamoDBDedupeStore(
        "no-such-table", region=REGION, key_prefix="p", endpoint_url=moto_endpoint
    )
    try:
        with pytest.raises(DedupeStoreError, match="ResourceNotFoundException"):
            await store.ping()
    finally:
        await store.close()


@pytest.mark.parametrize("backend", [DedupeBackend.REDIS, DedupeBackend.DYNAMODB])
async def test_an_unreachable_store_raises_dedupe_store_error(
    backend: DedupeBackend,
    closed_port: int,
    make_settings: Callable[..., Settings],
    aws_credentials: None,
) -> None:
    if backend is DedupeBackend.REDIS:
        settings = make_settings(dedupe_backend=backend, redis_url="redis://127.0.0.1:1/0")
    else:
        settings = make_settings(dedupe_backend=backend, dedupe_table="dedupe")
    store = build_dedupe_store(settings, endpoint_url=f"http://127.0.0.1:{closed_port}")
    assert store is not None
    claims_failed = _errors("claim")
    try:
        with pytest.raises(DedupeStoreError) as caught:
            await store.claim(KEY, "owner-a", 5)
        with pytest.raises(DedupeStoreError):
            await store.ping()
        with pytest.raises(DedupeStoreError):
            await store.complete(KEY, "owner-a", RESULT, 60)
    finally:
        await store.close()

    assert _errors("claim") == claims_failed + 1
    message = str(caught.value)
    assert "claim" in message
    assert KEY not in message and USERNAME.casefold() not in message.casefold()
    assert caught.value.__cause__ is not None
