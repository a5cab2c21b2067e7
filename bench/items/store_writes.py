"""6. The extra dedupe write per call: claim + SENDING mark + complete, against claim + complete.

Marking a call as under way before its request goes out is what keeps a lapsed lease from letting
a second call through; it costs one more store round trip per Cognito call. This item measures
that cost per backend, in-process against the real stores (memory, the Redis of the run, DynamoDB
on the devstack's moto server): milliseconds per call's dedupe protocol one call at a time, and
protocols per second with 16 at once, each with and without the mark.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiobotocore.session import AioSession

from bench.plan import Context, ensure_devstack
from bench.redis_keys import delete_prefix, unique_prefix
from bench.report import ItemResult
from worker.dedupe import DedupeStore
from worker.dedupe.dynamodb import DynamoDBDedupeStore, table_spec
from worker.dedupe.memory import MemoryDedupeStore
from worker.dedupe.redis import RedisDedupeStore

NAME = "store_writes"
CONCURRENCY = 16
LEASE_SECONDS = 20.0
WINDOW_SECONDS = 300.0
RESULT: dict[str, Any] = {"Outcome": "sent", "MessageId": "m", "RequestId": "r", "Attempts": 1}
PROVISIONAL: dict[str, Any] = {**RESULT, "Outcome": "unknown"}


async def run(ctx: Context) -> ItemResult:
    # Quick mode only proves the item runs: one protocol per lane.
    calls = CONCURRENCY if ctx.plan.mode == "quick" else 400
    result = ItemResult(NAME)
    endpoint = await ensure_devstack(ctx)
    details: dict[str, Any] = {"calls_per_run": calls, "concurrency": CONCURRENCY}
    for backend, open_store in _backends(ctx, endpoint).items():
        runs: list[dict[str, float]] = []
        for _ in range(ctx.plan.repeats):
            store, cleanup = await open_store()
            try:
                runs.append(await _one_run(store, calls))
            finally:
                await store.close()
                await cleanup()
        details[backend] = runs
        for key, label, unit in (
            ("before_ms", "claim + complete, one at a time", "ms"),
            ("after_ms", "claim + mark + complete, one at a time", "ms"),
            ("extra_ms", "the SENDING mark's cost per call", "ms"),
            ("before_per_s", f"claim + complete, {CONCURRENCY} at once", "calls/s"),
            ("after_per_s", f"claim + mark + complete, {CONCURRENCY} at once", "calls/s"),
        ):
            result.add(f"{backend}_{key}", f"{backend}: {label}", unit, [r[key] for r in runs])
    result.details = details
    return result


Opener = Callable[[], Awaitable[tuple[DedupeStore, Callable[[], Awaitable[Any]]]]]


def _backends(ctx: Context, endpoint: str) -> dict[str, Opener]:
    async def nothing() -> None:
        return None

    async def memory() -> tuple[DedupeStore, Callable[[], Awaitable[Any]]]:
        return MemoryDedupeStore(1_000_000), nothing

    async def redis() -> tuple[DedupeStore, Callable[[], Awaitable[Any]]]:
        prefix = unique_prefix("store-writes")
        store = RedisDedupeStore(ctx.redis_url, key_prefix=prefix)
        return store, lambda: delete_prefix(ctx.redis_url, prefix)

    async def dynamodb() -> tuple[DedupeStore, Callable[[], Awaitable[Any]]]:
        session = AioSession()
        session.set_credentials("bench", "bench")
        table = f"bench-dedupe-{uuid.uuid4().hex[:8]}"
        async with session.create_client(
            "dynamodb", region_name="us-east-1", endpoint_url=endpoint
        ) as client:
            await client.create_table(**table_spec(table))
        store = DynamoDBDedupeStore(
            table,
            region="us-east-1",
            key_prefix="bench",
            endpoint_url=endpoint,
            session=session,
            max_pool_connections=CONCURRENCY,
        )
        return store, nothing

    return {"memory": memory, "redis": redis, "dynamodb": dynamodb}


async def _protocol(store: DedupeStore, *, mark: bool) -> None:
    key, owner = uuid.uuid4().hex, uuid.uuid4().hex
    claim = await store.claim(key, owner, LEASE_SECONDS)
    assert claim.won
    if mark:
        assert await store.mark_sending(key, owner, PROVISIONAL, LEASE_SECONDS, WINDOW_SECONDS)
    assert await store.complete(key, owner, RESULT, WINDOW_SECONDS)


async def _one_run(store: DedupeStore, calls: int) -> dict[str, float]:
    for _ in range(min(20, calls)):  # warm the connections
        await _protocol(store, mark=True)
    figures: dict[str, float] = {}
    for mark, name in ((False, "before"), (True, "after")):
        started = time.perf_counter()
        for _ in range(calls):
            await _protocol(store, mark=mark)
        figures[f"{name}_ms"] = (time.perf_counter() - started) * 1000 / calls

        async def lane(count: int, marked: bool = mark) -> None:
            for _ in range(count):
                await _protocol(store, mark=marked)

        started = time.perf_counter()
        await asyncio.gather(*(lane(calls // CONCURRENCY) for _ in range(CONCURRENCY)))
        done = (calls // CONCURRENCY) * CONCURRENCY
        figures[f"{name}_per_s"] = done / (time.perf_counter() - started)
    figures["extra_ms"] = figures["after_ms"] - figures["before_ms"]
    return figures
