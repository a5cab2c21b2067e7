"""Unit tests of what needs no server: the memory bound, argument checks, the factory."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from worker.dedupe import DedupeStore, Status, build_dedupe_store
from worker.dedupe.dynamodb import DynamoDBDedupeStore
from worker.dedupe.memory import MemoryDedupeStore
from worker.dedupe.redis import RedisDedupeStore
from worker.settings import DedupeBackend, Settings

SettingsFactory = Callable[..., Settings]


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# The memory backend's bound.


async def test_memory_store_evicts_the_least_recently_written_live_record() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(3, clock=clock)
    for name in ("k1", "k2", "k3"):
        assert (await store.claim(name, "o", 60)).won
    await store.renew("k1", "o", 60)  # k1 is now the most recently written

    assert (await store.claim("k4", "o", 60)).won

    assert len(store) == 3
    assert await store.get("k2") is None
    assert all([await store.get(name) for name in ("k1", "k3", "k4")])


async def test_memory_store_evicts_expired_records_before_live_ones() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(3, clock=clock)
    await store.claim("oldest", "o", 60)
    await store.claim("short", "o", 1)
    await store.claim("newest", "o", 60)
    clock.now += 2

    await store.claim("k4", "o", 60)

    assert len(store) == 3
    assert await store.get("oldest") is not None
    assert await store.get("short") is None


async def test_memory_store_drops_expired_records_without_being_full() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(1000, clock=clock)
    for n in range(100):
        await store.claim(f"k{n}", "o", 1)
    clock.now += 2

    await store.claim("fresh", "o", 60)

    assert len(store) == 1


async def test_memory_store_stays_bounded_under_renewals() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(100, clock=clock)
    for n in range(5000):
        key = f"k{n % 150}"
        if not await store.renew(key, "o", 60):
            await store.claim(key, "o", 60)
        clock.now += 0.001
    assert len(store) == 100
    assert store._listed <= 2 * 100 + 1024


async def test_memory_store_expiry_follows_its_clock() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(100, clock=clock)
    await store.claim("k", "a", 10)
    clock.now += 9.99
    assert not (await store.claim("k", "b", 10)).won
    clock.now += 0.01
    claim = await store.claim("k", "b", 10)
    assert claim.won
    record = await store.get("k")
    assert record is not None and record.status is Status.IN_PROGRESS
    assert record.expires_at == clock.now + 10


CLAIMS_OWNER = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/0123456789ab"


@pytest.mark.parametrize(
    "other",
    [
        CLAIMS_OWNER.upper(),
        CLAIMS_OWNER[:-1],
        CLAIMS_OWNER + "0",
        CLAIMS_OWNER.replace("/", "-"),
        "o",
    ],
)
async def test_memory_store_packed_owners_are_the_owners(other: str) -> None:
    store = MemoryDedupeStore(100)
    result = {"Outcome": "sent", "MessageId": CLAIMS_OWNER[:36], "Destination": "ü***@e***.de"}
    assert (await store.claim("k", CLAIMS_OWNER, 10)).won
    assert (await store.claim("k2", other, 10)).won

    assert not await store.renew("k", other, 10)
    assert not await store.mark_sending("k", other, result, 10, 60)
    assert await store.mark_sending("k", CLAIMS_OWNER, result, 10, 60)
    sending = await store.get("k")
    assert sending is not None and sending.owner == CLAIMS_OWNER and sending.result == result
    assert sending.lease_expires_at is not None
    assert not await store.complete("k", other, {}, 60)
    assert await store.complete("k", CLAIMS_OWNER, result, 60)
    blocked = await store.claim("k", other, 10)
    assert blocked.existing is not None and blocked.existing.result == result
    assert blocked.existing.owner == CLAIMS_OWNER and blocked.existing.lease_expires_at is None
    record = await store.get("k2")
    assert record is not None and record.owner == other


# Argument checks, made once in the base class for every backend.


@pytest.mark.parametrize("seconds", [0, -1, math.inf, math.nan])
async def test_durations_must_be_positive_and_finite(seconds: float) -> None:
    store = MemoryDedupeStore(100)
    with pytest.raises(ValueError, match="lease_seconds"):
        await store.claim("k", "o", seconds)
    with pytest.raises(ValueError, match="lease_seconds"):
        await store.renew("k", "o", seconds)
    await store.claim("k", "o", 10)
    with pytest.raises(ValueError, match="window_seconds"):
        await store.complete("k", "o", {}, seconds)


async def test_keys_and_owners_must_not_be_empty() -> None:
    store = MemoryDedupeStore(100)
    with pytest.raises(ValueError):
        await store.claim("", "o", 10)
    with pytest.raises(ValueError):
        await store.claim("k", "", 10)
    with pytest.raises(ValueError):
        await store.get("")


@pytest.mark.parametrize(
    ("result", "error"),
    [
        ({"when": object()}, TypeError),
        ({"ratio": math.nan}, ValueError),
        ([1, 2], TypeError),
    ],
)
async def test_results_must_be_json_objects(result: Any, error: type[Exception]) -> None:
    store = MemoryDedupeStore(100)
    await store.claim("k", "o", 10)
    with pytest.raises(error):
        await store.complete("k", "o", result, 10)
    record = await store.get("k")
    assert record is not None and record.status is Status.IN_PROGRESS


async def test_memory_results_are_copies() -> None:
    store = MemoryDedupeStore(100)
    result: dict[str, Any] = {"tries": [1]}
    await store.claim("k", "o", 10)
    await store.complete("k", "o", result, 10)
    result["tries"].append(2)
    record = await store.get("k")
    assert record is not None and record.result == {"tries": [1]}


# The factory.


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"dedupe_backend": DedupeBackend.MEMORY}, MemoryDedupeStore),
        (
            {"dedupe_backend": DedupeBackend.REDIS, "redis_url": "redis://127.0.0.1:6379/0"},
            RedisDedupeStore,
        ),
        ({"dedupe_backend": DedupeBackend.DYNAMODB, "dedupe_table": "t"}, DynamoDBDedupeStore),
    ],
)
async def test_factory_builds_the_configured_backend_without_connecting(
    overrides: dict[str, Any], expected: type[DedupeStore], make_settings: SettingsFactory
) -> None:
    store = build_dedupe_store(make_settings(**overrides), endpoint_url="http://127.0.0.1:1")
    assert isinstance(store, expected)
    await store.close()


def test_factory_returns_none_when_dedupe_is_off(make_settings: SettingsFactory) -> None:
    assert build_dedupe_store(make_settings(dedupe_backend=DedupeBackend.OFF)) is None


def test_factory_applies_the_memory_bound(make_settings: SettingsFactory) -> None:
    store = build_dedupe_store(
        make_settings(dedupe_backend=DedupeBackend.MEMORY, dedupe_max_entries=123)
    )
    assert isinstance(store, MemoryDedupeStore)
    assert store._max_entries == 123
