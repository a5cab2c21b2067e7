"""The claim protocol around a call that may have gone out, on the memory store.

A store that fails on demand stands in for an outage; the integration tests do the same with a
real Redis that stops.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from resend_contract.models import ErrorInfo, Outcome, ResendRequest, Result

from worker.claims import Answered, Claims, Proceed, Wait
from worker.cognito import CallNotStarted
from worker.dedupe import DedupeStoreError
from worker.dedupe.keys import dedupe_key
from worker.dedupe.memory import MemoryDedupeStore

REQUEST = ResendRequest(ClientId="client1", Username="jane")


class FlakyStore(MemoryDedupeStore):
    """The memory store, unreachable while ``down`` is set: a shared store, as far as the claims
    can tell, so they keep their own memory of what they sent."""

    in_process = False

    def __init__(self) -> None:
        super().__init__(1000)
        self.down = False

    async def _observe(self, operation: str, call: Any) -> Any:
        if self.down:
            call.close()
            raise DedupeStoreError(f"dedupe store {operation} failed: ConnectionError")
        return await super()._observe(operation, call)


def claims(store: MemoryDedupeStore, lease: float = 0.3) -> Claims:
    return Claims(store, window_seconds=60, lease_seconds=lease, fail_open=False)


def result(message_id: str, outcome: Outcome) -> Result:
    error = None if outcome is Outcome.SENT else ErrorInfo(Code="CallAbandoned", Message="x")
    return Result(
        Outcome=outcome,
        RequestId=f"r-{message_id}",
        MessageId=message_id,
        ClientId="client1",
        Username="jane",
        Error=error,
    )


async def proceed(subject: Claims, message_id: str) -> Proceed:
    claim = await subject.claim(REQUEST, message_id, f"r-{message_id}")
    assert isinstance(claim, Proceed)
    return claim


async def test_a_worker_that_vanished_mid_call_leaves_an_unknown_answer() -> None:
    store = MemoryDedupeStore(1000)
    first = claims(store)
    claim = await proceed(first, "m1")
    await first.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    await first.close()  # the worker dies: nobody renews, nobody completes
    await asyncio.sleep(0.5)

    other = claims(store)
    again = await other.claim(REQUEST, "m1", "r-m1")
    # A redelivery: the request's own record answers it, not a duplicate's reference.
    assert isinstance(again, Answered) and again.result.MessageId == "m1"
    assert again.result.RequestId == "r-m1" and again.result.Original is None
    assert again.result.Outcome is Outcome.UNKNOWN, "the request itself gets one unknown result"
    duplicate = await other.claim(REQUEST, "m2", "r-m2")
    assert isinstance(duplicate, Answered) and duplicate.result.Outcome is Outcome.DUPLICATE
    assert duplicate.result.Original is not None
    assert (duplicate.result.Original.RequestId, duplicate.result.Original.Outcome) == (
        "r-m1",
        Outcome.UNKNOWN,
    )


async def test_a_live_call_under_way_is_waited_for_not_answered() -> None:
    store = MemoryDedupeStore(1000)
    first = claims(store, lease=5)
    claim = await proceed(first, "m1")
    await first.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    waiting = asyncio.create_task(claims(store).claim(REQUEST, "m2", "r-m2"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await first.finish(claim, result("m1", Outcome.SENT))
    answer = await waiting
    assert isinstance(answer, Answered) and answer.result.Original is not None
    assert answer.result.Original.Outcome is Outcome.SENT


async def test_no_call_when_the_store_cannot_record_it() -> None:
    store = FlakyStore()
    subject = claims(store)
    claim = await proceed(subject, "m1")
    store.down = True
    with pytest.raises(CallNotStarted):
        await subject.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    assert claim.provisional is None


async def test_a_completion_lost_to_an_outage_is_written_before_the_next_claim() -> None:
    store = FlakyStore()
    subject = claims(store)
    claim = await proceed(subject, "m1")
    await subject.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    store.down = True
    await subject.finish(claim, result("m1", Outcome.SENT))
    assert subject.pending_completions == 1
    other = ResendRequest(ClientId="client1", Username="someone-else")
    assert isinstance(await subject.claim(other, "m9", "r-m9"), Wait)

    store.down = False
    assert isinstance(await subject.claim(other, "m9", "r-m9"), Proceed)
    assert subject.pending_completions == 0
    # Another replica, with no memory of this one's sends, is answered by the store.
    answer = await claims(store).claim(REQUEST, "m2", "r-m2")
    assert isinstance(answer, Answered) and answer.result.Outcome is Outcome.DUPLICATE


async def test_own_sends_are_answered_even_by_a_store_that_restarted_empty() -> None:
    store = FlakyStore()
    subject = claims(store)
    claim = await proceed(subject, "m1")
    await subject.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    await subject.finish(claim, result("m1", Outcome.SENT))
    await store.close()  # wipes every record, as a restarted store without persistence would
    answer = await subject.claim(REQUEST, "m2", "r-m2")
    assert isinstance(answer, Answered) and answer.result.Outcome is Outcome.DUPLICATE


async def test_the_memory_store_is_not_copied_and_still_answers_duplicates() -> None:
    store = MemoryDedupeStore(1000)
    subject = claims(store)
    assert subject._recent is None
    claim = await proceed(subject, "m1")
    await subject.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    await subject.finish(claim, result("m1", Outcome.SENT))
    answer = await subject.claim(REQUEST, "m2", "r-m2")
    assert isinstance(answer, Answered) and answer.result.Outcome is Outcome.DUPLICATE
    assert answer.result.Original is not None and answer.result.Original.MessageId == "m1"


async def test_an_explicit_refusal_releases_the_record() -> None:
    store = MemoryDedupeStore(1000)
    subject = claims(store)
    claim = await proceed(subject, "m1")
    await subject.mark_sending(claim, result("m1", Outcome.UNKNOWN))
    claim.nothing_sent()
    await subject.finish(claim, None)
    assert await store.get(claim.key or "") is None
    assert isinstance(await subject.claim(REQUEST, "m2", "r-m2"), Proceed)


async def test_one_task_renews_every_claim_held_past_its_lease() -> None:
    store = MemoryDedupeStore(1000)
    first = claims(store, lease=0.3)
    renewals = 0
    renew = store.renew

    async def counted(key: str, owner: str, lease_seconds: float) -> bool:
        nonlocal renewals
        renewals += 1
        return await renew(key, owner, lease_seconds)

    store.renew = counted  # type: ignore[method-assign]
    tasks_before = len(asyncio.all_tasks())
    users = [ResendRequest(ClientId="client1", Username=f"user{i}") for i in range(20)]
    held = [await first.claim(user, f"m{i}", f"r{i}") for i, user in enumerate(users)]
    assert all(isinstance(claim, Proceed) for claim in held)
    assert len(asyncio.all_tasks()) == tasks_before + 1  # one renewer, not one per claim
    await asyncio.sleep(1.0)  # more than three leases
    assert renewals >= 20 * 3
    for user in users:
        intruder = await store.claim(dedupe_key(user.ClientId, user.Username), "other", 0.3)
        assert not intruder.won, "a claim lapsed while its owner was alive"
    for claim in held:
        assert isinstance(claim, Proceed)
        await first.finish(claim, None)
    await asyncio.sleep(0.3)
    assert len(asyncio.all_tasks()) == tasks_before  # nothing held: the renewer ended
