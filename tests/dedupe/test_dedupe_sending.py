"""SENDING records, run against memory, Redis and DynamoDB: a call under way outlives its lease.

Once a record says the call is under way, it must block every other claimer for the whole window
even after its owner stops renewing, carry the provisional result to answer with, and still take
its owner's late completion.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from worker.dedupe import DedupeStore, Status

from .test_dedupe_contract import LONG, SHORT, new_key, sleep_past

PROVISIONAL: dict[str, Any] = {"Outcome": "unknown", "MessageId": "m-1", "big": 12345678901234567}
FINAL: dict[str, Any] = {"Outcome": "sent", "MessageId": "m-1"}


async def test_sending_blocks_claims_past_the_lease_and_reports_it_abandoned(
    store: DedupeStore,
) -> None:
    key = new_key()
    assert (await store.claim(key, "owner-a", SHORT)).won
    assert await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    live = await store.claim(key, "owner-b", SHORT)
    assert not live.won and live.existing is not None
    assert live.existing.status is Status.SENDING
    assert not live.existing.abandoned(time.time())
    assert live.existing.lease_expires_at is not None

    await sleep_past(live.existing.lease_expires_at)
    later = await store.claim(key, "owner-b", SHORT)
    assert not later.won and later.existing is not None, "the window holds, not the lease"
    assert later.existing.abandoned(time.time())
    assert later.existing.result == PROVISIONAL
    assert later.existing.expires_at > time.time() + LONG - 5


async def test_renew_keeps_a_sending_owner_alive(store: DedupeStore) -> None:
    key = new_key()
    assert (await store.claim(key, "owner-a", SHORT)).won
    assert await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    for _ in range(3):
        await asyncio.sleep(SHORT / 2)
        assert await store.renew(key, "owner-a", SHORT)
    record = await store.get(key)
    assert record is not None and not record.abandoned(time.time())
    assert record.result == PROVISIONAL, "renewal keeps the stored result intact"
    assert not await store.renew(key, "owner-b", SHORT)


async def test_mark_sending_needs_the_live_claim_and_is_idempotent(store: DedupeStore) -> None:
    key = new_key()
    assert not await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    assert (await store.claim(key, "owner-a", SHORT)).won
    assert not await store.mark_sending(key, "owner-b", PROVISIONAL, SHORT, LONG)
    assert await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    assert await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    lapsed = new_key()
    assert (await store.claim(lapsed, "owner-a", SHORT)).won
    record = await store.get(lapsed)
    assert record is not None
    await sleep_past(record.expires_at)
    assert not await store.mark_sending(lapsed, "owner-a", PROVISIONAL, SHORT, LONG)


async def test_a_late_completion_of_an_abandoned_sending_record_is_taken(
    store: DedupeStore,
) -> None:
    key = new_key()
    assert (await store.claim(key, "owner-a", SHORT)).won
    assert await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    await asyncio.sleep(SHORT + 0.2)
    assert not await store.complete(key, "owner-b", FINAL, LONG)
    assert await store.complete(key, "owner-a", FINAL, LONG)
    record = await store.get(key)
    assert record is not None and record.status is Status.COMPLETED
    assert record.result == FINAL and record.lease_expires_at is None


async def test_release_drops_a_sending_record_only_for_its_owner(store: DedupeStore) -> None:
    key = new_key()
    assert (await store.claim(key, "owner-a", SHORT)).won
    assert await store.mark_sending(key, "owner-a", PROVISIONAL, SHORT, LONG)
    await store.release(key, "owner-b")
    assert await store.get(key) is not None
    await store.release(key, "owner-a")
    assert await store.get(key) is None
    assert (await store.claim(key, "owner-b", SHORT)).won
