"""Lanes at the limiter: interactive first, bulk at its floor, FIFO within a lane, fleet-wide.

The turn queue is tested on its own (no clock), then through the local limiter (its pacing), then
through two shared limiters on real Redis standing for two replicas.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from worker.lanes import Lane
from worker.rate_limit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from worker.rate_limit.turns import Turns

from .support import REDIS_URL

INTERACTIVE, BULK = Lane.INTERACTIVE, Lane.BULK


async def take_turns(turns: Turns, lanes: list[Lane], order: list[str]) -> list[asyncio.Task[None]]:
    """Queue one waiter per lane in ``lanes`` behind a holder; each records its name on its turn."""

    async def waiter(name: str, lane: Lane) -> None:
        async with turns.turn(lane):
            order.append(name)
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(waiter(f"{lane.value}{i}", lane)) for i, lane in enumerate(lanes)]
    await asyncio.sleep(0)
    return tasks


async def test_interactive_waiters_overtake_queued_bulk_and_each_lane_stays_fifo() -> None:
    turns = Turns(min_share=0.1)
    order: list[str] = []
    async with turns.turn(BULK):
        tasks = await take_turns(turns, [BULK, BULK, INTERACTIVE, BULK, INTERACTIVE], order)
        assert turns.waiting(BULK) == 3 and turns.waiting(INTERACTIVE) == 2
    await asyncio.gather(*tasks)
    assert order == ["interactive2", "interactive4", "bulk0", "bulk1", "bulk3"]


async def test_bulk_gets_its_floor_under_a_saturating_interactive_stream() -> None:
    turns = Turns(min_share=0.2)
    granted: list[Lane] = []
    stop = asyncio.Event()

    async def caller(lane: Lane) -> None:
        while not stop.is_set():
            async with turns.turn(lane):
                granted.append(lane)
                if len(granted) >= 500:
                    stop.set()
                await asyncio.sleep(0)

    tasks = [asyncio.create_task(caller(lane)) for lane in [INTERACTIVE] * 8 + [BULK] * 8]
    await asyncio.gather(*tasks)
    share = granted.count(BULK) / len(granted)
    assert 0.17 <= share <= 0.23, share
    assert turns.bulk_share() == pytest.approx(0.2, abs=0.05)


async def test_bulk_alone_takes_every_turn() -> None:
    turns = Turns()
    order: list[str] = []
    async with turns.turn(BULK):
        tasks = await take_turns(turns, [BULK, BULK], order)
    await asyncio.gather(*tasks)
    assert order == ["bulk0", "bulk1"]
    assert turns.bulk_share() == 1.0


async def test_a_cancelled_waiter_leaves_its_place_and_the_turn_moves_on() -> None:
    turns = Turns()
    order: list[str] = []
    async with turns.turn(INTERACTIVE):
        tasks = await take_turns(turns, [INTERACTIVE, BULK, INTERACTIVE], order)
        tasks[0].cancel()
        await asyncio.sleep(0)
        assert turns.waiting(INTERACTIVE) == 1
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["interactive2", "bulk1"]


async def test_a_waiter_cancelled_as_its_turn_came_passes_it_on() -> None:
    turns = Turns()
    order: list[str] = []
    holder = turns.turn(BULK)
    await holder.__aenter__()
    tasks = await take_turns(turns, [INTERACTIVE, BULK], order)
    await holder.__aexit__(None, None, None)  # the turn goes to interactive0's future...
    tasks[0].cancel()  # ...which is cancelled before it runs
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["bulk1"]
    async with asyncio.timeout(1):  # the turn is free again
        async with turns.turn(INTERACTIVE):
            pass


async def test_a_bulk_holder_gives_way_to_interactive_waiters() -> None:
    turns = Turns()
    order: list[str] = []

    async def bulk_holder() -> None:
        async with turns.turn(BULK) as turn:
            await asyncio.sleep(0.01)
            await turn.give_way()
            order.append("bulk holder")

    holder = asyncio.create_task(bulk_holder())
    await asyncio.sleep(0)
    tasks = await take_turns(turns, [INTERACTIVE, BULK], order)
    await asyncio.gather(holder, *tasks)
    # The holder went back to the front of its lane: after interactive, before later bulk.
    assert order == ["interactive0", "bulk holder", "bulk1"]


async def test_giving_way_with_no_interactive_waiting_keeps_the_turn() -> None:
    turns = Turns()
    async with turns.turn(BULK) as turn:
        async with asyncio.timeout(0.5):
            await turn.give_way()
        assert turns.waiting(BULK) == 0


def test_min_share_is_checked() -> None:
    for share in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="min_share"):
            Turns(share)


async def first_interactive_wait(limiter: RateLimiter, backlog: int) -> tuple[float, int]:
    """Queue ``backlog`` bulk callers, then one interactive; its wait and the bulk grants before."""
    bulk_granted = 0

    async def bulk() -> None:
        nonlocal bulk_granted
        await limiter.acquire(BULK)
        bulk_granted += 1

    await limiter.acquire(BULK)  # the bucket is now paced
    bulk_tasks = [asyncio.create_task(bulk()) for _ in range(backlog)]
    await asyncio.sleep(0.05)
    before = bulk_granted
    started = time.monotonic()
    await limiter.acquire(INTERACTIVE)
    waited = time.monotonic() - started
    during = bulk_granted - before
    for task in bulk_tasks:
        task.cancel()
    await asyncio.gather(*bulk_tasks, return_exceptions=True)
    return waited, during


async def test_local_limiter_an_interactive_call_takes_the_next_token_from_the_bulk_backlog() -> (
    None
):
    limiter = LocalRateLimiter(20.0)
    waited, bulk_during = await first_interactive_wait(limiter, backlog=40)
    # At 20 RPS the backlog is 2 s. The bulk holder sleeping toward the next token gives way:
    # the interactive call takes that very token, and no bulk call goes before it.
    assert bulk_during == 0
    assert waited < 0.2, waited


@pytest.mark.integration
async def test_shared_limiter_interactive_on_one_replica_takes_the_bucket_from_bulk_on_another(
    prefix: str,
) -> None:
    """Replica A runs a bulk backlog, replica B a saturating interactive stream: B's requests take
    the fleet's tokens, A's bulk keeps its floor."""
    replicas = [
        RedisRateLimiter(
            REDIS_URL, max_rps=20.0, expected_replicas=2, key_prefix=prefix, bulk_min_share=0.2
        )
        for _ in range(2)
    ]
    bulk_replica, interactive_replica = replicas
    granted: dict[Lane, list[float]] = {INTERACTIVE: [], BULK: []}

    async def caller(limiter: RateLimiter, lane: Lane) -> None:
        while True:
            await limiter.acquire(lane)
            granted[lane].append(time.monotonic())
            await asyncio.sleep(0)

    try:
        tasks = [asyncio.create_task(caller(bulk_replica, BULK)) for _ in range(8)]
        await asyncio.sleep(0.5)  # bulk alone has the bucket
        alone = len(granted[BULK])
        tasks += [asyncio.create_task(caller(interactive_replica, INTERACTIVE)) for _ in range(8)]
        await asyncio.sleep(0.5)
        mark = time.monotonic()
        await asyncio.sleep(2.5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for limiter in replicas:
            await limiter.close()
    assert alone >= 5  # bulk ran while nothing else wanted the tokens
    interactive = sum(1 for t in granted[INTERACTIVE] if t >= mark)
    bulk = sum(1 for t in granted[BULK] if t >= mark)
    total = interactive + bulk
    assert total >= 0.7 * 20 * 2.5  # the fleet still runs near the rate
    assert total <= 20 * 2.5 + 3  # and never above it
    # Without fleet-wide priority the two replicas would split the bucket about evenly.
    assert 0.1 <= bulk / total <= 0.3, (interactive, bulk)
