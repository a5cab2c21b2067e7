"""The dedupe store contract, run unchanged against memory, Redis and DynamoDB (moto's server).

Expiry tests use leases of half a second and sleep just past the expiry the store reported, so
they prove expiry without long waits.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from worker.dedupe import DedupeStore, Status, dedupe_key

LONG = 30.0
SHORT = 0.5
# Numbers Lua's cjson would round, characters JSON escapes, nesting: must come back unchanged.
RESULT: dict[str, Any] = {
    "outcome": "sent",
    "big": 12345678901234567,
    "ratio": 0.1,
    "text": 'ü/"\\ \u2028 😀',
    "delivery": {"medium": "EMAIL", "destination": "j***@e***.com", "tries": [1, None, True]},
    "empty": {},
}


def new_key() -> str:
    return dedupe_key("client-" + uuid.uuid4().hex[:8], f"{uuid.uuid4().hex}@example.com")


async def sleep_past(expires_at: float) -> None:
    await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.1)


def assert_near(actual: float, expected: float, tolerance: float = 2.0) -> None:
    assert expected - tolerance <= actual <= expected + tolerance, (actual, expected)


async def test_claim_wins_on_an_empty_key(store: DedupeStore) -> None:
    key = new_key()
    assert await store.get(key) is None

    claim = await store.claim(key, "owner-a", LONG)

    assert claim.won and claim.existing is None
    record = await store.get(key)
    assert record is not None
    assert (record.key, record.status, record.owner, record.result) == (
        key,
        Status.IN_PROGRESS,
        "owner-a",
        None,
    )
    assert_near(record.expires_at, time.time() + LONG)


async def test_second_claimer_loses_and_sees_the_in_progress_record(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", LONG)

    claim = await store.claim(key, "owner-b", LONG)

    assert not claim.won
    assert claim.existing is not None
    assert claim.existing.status is Status.IN_PROGRESS
    assert claim.existing.owner == "owner-a"
    assert claim.existing.key == key
    assert claim.existing.result is None


async def test_keys_are_independent(store: DedupeStore) -> None:
    first, second = new_key(), new_key()
    assert (await store.claim(first, "owner-a", LONG)).won
    assert (await store.claim(second, "owner-b", LONG)).won


async def test_completed_record_carries_the_result_to_later_claimers(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", LONG)

    assert await store.complete(key, "owner-a", RESULT, 600)

    claim = await store.claim(key, "owner-b", LONG)
    assert not claim.won
    assert claim.existing is not None
    assert claim.existing.status is Status.COMPLETED
    assert claim.existing.owner == "owner-a"
    assert claim.existing.result == RESULT
    assert_near(claim.existing.expires_at, time.time() + 600)
    assert await store.get(key) == claim.existing


async def test_the_completing_owner_cannot_reclaim_or_renew(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", LONG)
    await store.complete(key, "owner-a", RESULT, 600)

    claim = await store.claim(key, "owner-a", LONG)

    assert not claim.won
    assert claim.existing is not None and claim.existing.status is Status.COMPLETED
    assert not await store.renew(key, "owner-a", LONG)


async def test_release_lets_another_claimer_win(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", LONG)

    await store.release(key, "owner-a")

    assert await store.get(key) is None
    assert (await store.claim(key, "owner-b", LONG)).won


async def test_release_by_a_non_owner_or_of_a_completed_record_keeps_it(
    store: DedupeStore,
) -> None:
    held, done = new_key(), new_key()
    await store.claim(held, "owner-a", LONG)
    await store.claim(done, "owner-a", LONG)
    await store.complete(done, "owner-a", RESULT, 600)

    await store.release(held, "owner-b")
    await store.release(done, "owner-a")
    await store.release(new_key(), "owner-a")  # absent: nothing to do, no error

    held_record, done_record = await store.get(held), await store.get(done)
    assert held_record is not None and held_record.owner == "owner-a"
    assert done_record is not None and done_record.status is Status.COMPLETED


async def test_an_expired_lease_lets_another_claimer_win(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", SHORT)
    assert not (await store.claim(key, "owner-b", LONG)).won
    record = await store.get(key)
    assert record is not None

    await sleep_past(record.expires_at)

    assert await store.get(key) is None
    # The lapsed owner can no longer finish or extend what it no longer holds.
    assert not await store.complete(key, "owner-a", RESULT, 600)
    assert not await store.renew(key, "owner-a", LONG)
    assert (await store.claim(key, "owner-b", LONG)).won
    await store.release(key, "owner-a")  # the old owner's release must not free the new claim
    record = await store.get(key)
    assert record is not None and record.owner == "owner-b"


async def test_renew_extends_the_lease_for_its_owner_only(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", SHORT)
    first = await store.get(key)
    assert first is not None

    assert not await store.renew(key, "owner-b", LONG)
    assert await store.renew(key, "owner-a", LONG)

    renewed = await store.get(key)
    assert renewed is not None
    assert renewed.owner == "owner-a" and renewed.status is Status.IN_PROGRESS
    assert_near(renewed.expires_at, time.time() + LONG)
    await sleep_past(first.expires_at)
    claim = await store.claim(key, "owner-b", LONG)
    assert not claim.won
    assert claim.existing is not None and claim.existing.owner == "owner-a"


async def test_renew_of_an_absent_key_fails(store: DedupeStore) -> None:
    key = new_key()
    assert not await store.renew(key, "owner-a", LONG)
    assert await store.get(key) is None


async def test_complete_by_a_non_owner_fails_and_changes_nothing(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", LONG)
    before = await store.get(key)

    assert not await store.complete(key, "owner-b", RESULT, 600)

    assert await store.get(key) == before
    assert not await store.complete(new_key(), "owner-a", RESULT, 600)


async def test_retried_claims_and_completes_are_idempotent_for_their_owner(
    store: DedupeStore,
) -> None:
    key = new_key()
    assert (await store.claim(key, "owner-a", LONG)).won
    assert (await store.claim(key, "owner-a", LONG)).won

    assert await store.complete(key, "owner-a", RESULT, 600)
    assert await store.complete(key, "owner-a", {"outcome": "other"}, 600)

    record = await store.get(key)
    assert record is not None and record.result == RESULT
    assert not await store.complete(key, "owner-b", RESULT, 600)


async def test_the_window_expires_and_frees_the_key(store: DedupeStore) -> None:
    key = new_key()
    await store.claim(key, "owner-a", LONG)
    await store.complete(key, "owner-a", RESULT, SHORT)
    claim = await store.claim(key, "owner-b", LONG)
    assert not claim.won and claim.existing is not None

    await sleep_past(claim.existing.expires_at)

    assert await store.get(key) is None
    assert (await store.claim(key, "owner-b", LONG)).won


async def test_exactly_one_of_many_concurrent_claimers_wins(store: DedupeStore) -> None:
    key = new_key()
    owners = [f"owner-{n}" for n in range(20)]

    claims = await asyncio.gather(*(store.claim(key, owner, LONG) for owner in owners))

    winners = [owner for owner, claim in zip(owners, claims, strict=True) if claim.won]
    assert len(winners) == 1
    blockers = {claim.existing.owner for claim in claims if claim.existing is not None}
    assert blockers == set(winners)
    record = await store.get(key)
    assert record is not None and record.owner == winners[0]


async def test_ping_answers(store: DedupeStore) -> None:
    await store.ping()


async def test_every_operation_is_timed(store: DedupeStore) -> None:
    key = new_key()
    operations = ["claim", "renew", "complete", "get", "release", "ping"]
    before = {
        op: _sample("resend_worker_dedupe_store_duration_seconds_count", op) for op in operations
    }

    await store.claim(key, "owner-a", LONG)
    await store.renew(key, "owner-a", LONG)
    await store.get(key)
    await store.complete(key, "owner-a", RESULT, 600)
    await store.release(key, "owner-a")
    await store.ping()

    after = {
        op: _sample("resend_worker_dedupe_store_duration_seconds_count", op) for op in operations
    }
    assert {op: after[op] - before[op] for op in operations} == dict.fromkeys(operations, 1.0)


def _sample(name: str, operation: str) -> float:
    return REGISTRY.get_sample_value(name, {"operation": operation}) or 0.0


pytestmark = pytest.mark.timeout(60)


async def test_update_result_replaces_the_owners_completed_result_only(store: DedupeStore) -> None:
    key = new_key()
    assert (await store.claim(key, "owner-a", 5)).won
    # Not yet completed: nothing to update.
    assert not await store.update_result(key, "owner-a", {"Published": True})
    assert await store.complete(key, "owner-a", {"Outcome": "sent"}, 30)
    before = await store.get(key)
    assert before is not None
    assert not await store.update_result(key, "owner-b", {"Outcome": "stolen"})
    assert await store.update_result(key, "owner-a", {"Outcome": "sent", "Published": True})
    after = await store.get(key)
    assert after is not None
    assert after.status is Status.COMPLETED and after.owner == "owner-a"
    assert after.result == {"Outcome": "sent", "Published": True}
    assert_near(after.expires_at, before.expires_at, tolerance=0.01)


async def test_update_result_of_an_expired_or_absent_record_fails(store: DedupeStore) -> None:
    key = new_key()
    assert not await store.update_result(key, "owner-a", {"Published": True})
    assert (await store.claim(key, "owner-a", 5)).won
    assert await store.complete(key, "owner-a", {"Outcome": "sent"}, 0.3)
    record = await store.get(key)
    assert record is not None
    await sleep_past(record.expires_at)
    assert not await store.update_result(key, "owner-a", {"Published": True})
    assert await store.get(key) is None
