"""The micro-batcher: ten entries a call, per-entry outcomes to the right caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from worker.batching import Batcher


class Recorder:
    def __init__(self, fail: set[int] | None = None, raise_call: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.fail = fail or set()
        self.raise_call = raise_call

    async def flush(self, items: Sequence[int]) -> list[BaseException | None]:
        self.calls.append(list(items))
        await asyncio.sleep(0)
        if self.raise_call:
            raise ConnectionError("down")
        return [ValueError(item) if item in self.fail else None for item in items]


async def test_groups_concurrent_submissions_by_ten() -> None:
    recorder = Recorder()
    batcher: Batcher[int, None] = Batcher(recorder.flush, linger=0.01)
    await asyncio.gather(*(batcher.submit(i) for i in range(25)))
    assert sorted(len(call) for call in recorder.calls) == [5, 10, 10]
    assert sorted(i for call in recorder.calls for i in call) == list(range(25))


async def test_per_entry_failure_reaches_its_caller_only() -> None:
    recorder = Recorder(fail={3})
    batcher: Batcher[int, None] = Batcher(recorder.flush)
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    assert [isinstance(o, ValueError) for o in outcomes] == [False, False, False, True, False]


async def test_a_failed_call_fails_every_entry() -> None:
    batcher: Batcher[int, None] = Batcher(Recorder(raise_call=True).flush)
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)


async def test_lone_item_waits_at_most_the_linger() -> None:
    recorder = Recorder()
    batcher: Batcher[int, None] = Batcher(recorder.flush, linger=0.001)
    await asyncio.wait_for(batcher.submit(1), 1)
    assert recorder.calls == [[1]]


async def test_cancelled_caller_does_not_lose_the_others() -> None:
    recorder = Recorder()
    batcher: Batcher[int, None] = Batcher(recorder.flush, linger=0.01)
    doomed = asyncio.create_task(batcher.submit(1))
    kept = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    doomed.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert recorder.calls == [[1, 2]]


async def test_drain_sends_what_is_waiting() -> None:
    recorder = Recorder()
    batcher: Batcher[int, None] = Batcher(recorder.flush, linger=60)
    pending = asyncio.create_task(batcher.submit(7))
    await asyncio.sleep(0)
    await batcher.drain()
    await pending
    assert recorder.calls == [[7]]
