"""Whose turn it is at the rate limiter: interactive requests first, bulk with a floor.

The worker drains two lanes (``worker.lanes``) into one Cognito budget. If both queued FIFO for
tokens, every interactive request would wait behind the whole bulk backlog this replica holds.
So the limiter's waiters queue here instead of on a plain lock:

* FIFO within a lane, and one holder at a time (the limiter's own pacing assumes that);
* when the turn passes and both lanes wait, interactive goes first;
* except that bulk earns ``min_share / (1 - min_share)`` of a turn for each interactive turn
  taken while it waited, and goes when it has earned a whole one. A saturating interactive
  stream so leaves bulk ``min_share`` of the grants, never nothing.

A bulk holder sleeping toward a slot it has not been granted yet (the local bucket's next
token, or the shared bucket refusing it while other replicas' interactive requests hold it)
wakes when an interactive waiter queues, and gives way: it steps back to the front of its lane,
so the interactive request takes that slot instead of waiting out the bulk one's and then its
own.

Cancellation is safe at every point: a cancelled waiter leaves its queue, and one cancelled just
as the turn reached it passes the turn on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from worker.lanes import Lane

DEFAULT_MIN_SHARE = 0.1
# How many recent grants the bulk share is estimated from.
RECENT_GRANTS = 100


class Turns:
    """The queue of waiters for one limiter; see the module docstring."""

    def __init__(self, min_share: float = DEFAULT_MIN_SHARE) -> None:
        if not 0 < min_share < 1:
            raise ValueError("min_share must be between 0 and 1")
        self.min_share = min_share
        self._earned_per_turn = min_share / (1 - min_share)
        self._credit = 0.0
        self._waiting: dict[Lane, deque[asyncio.Future[None]]] = {lane: deque() for lane in Lane}
        self._held = False
        self._recent: deque[Lane] = deque(maxlen=RECENT_GRANTS)
        # Set when an interactive waiter queues: wakes a bulk holder sleeping toward its slot.
        self._interactive_queued = asyncio.Event()
        # The holder is bulk taking its floor: it keeps the turn (giving way would spend it).
        self._floor_turn = False

    def waiting(self, lane: Lane) -> int:
        """Waiters of ``lane`` queued behind the holder."""
        return sum(1 for future in self._waiting[lane] if not future.done())

    def bulk_share(self) -> float:
        """The share of recent grants bulk could take: all when interactive took none."""
        if not self._recent:
            return 1.0
        interactive = sum(1 for lane in self._recent if lane is Lane.INTERACTIVE)
        return max(self.min_share, 1 - interactive / len(self._recent))

    @contextlib.asynccontextmanager
    async def turn(self, lane: Lane) -> AsyncIterator[Turn]:
        """Hold the turn for ``lane`` while the block runs."""
        if self._held or any(self.waiting(other) for other in Lane):
            await self._wait(self._enqueue(lane, front=False), lane)
        else:
            self._held = True
            self._floor_turn = False
            self._recent.append(lane)
        try:
            yield Turn(self, lane)
        finally:
            self._pass()

    async def pause(self, lane: Lane, seconds: float) -> bool:
        """Sleep up to ``seconds``; a bulk holder wakes early (True) when interactive waits."""
        if lane is Lane.INTERACTIVE or self._floor_turn:
            await asyncio.sleep(seconds)
            return False
        if self.waiting(Lane.INTERACTIVE):
            return True
        self._interactive_queued.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._interactive_queued.wait()
        return self.waiting(Lane.INTERACTIVE) > 0

    async def give_way(self, lane: Lane) -> None:
        """The holder steps back to the front of its lane when interactive waiters are queued."""
        if lane is Lane.INTERACTIVE or not self.waiting(Lane.INTERACTIVE):
            return
        future = self._enqueue(lane, front=True)
        self._pass()
        await self._wait(future, lane)

    def _enqueue(self, lane: Lane, *, front: bool) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if front:
            self._waiting[lane].appendleft(future)
        else:
            self._waiting[lane].append(future)
        if lane is Lane.INTERACTIVE:
            self._interactive_queued.set()
        return future

    async def _wait(self, future: asyncio.Future[None], lane: Lane) -> None:
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._pass()  # the turn reached us as we were cancelled: hand it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting[lane].remove(future)
            raise

    def _pass(self) -> None:
        """Give the turn to the next waiter, or free it."""
        for queue in self._waiting.values():
            while queue and queue[0].done():
                queue.popleft()
        lane = self._next_lane()
        self._floor_turn = lane is Lane.BULK and bool(self._waiting[Lane.INTERACTIVE])
        if lane is None:
            self._held = False
            return
        self._held = True
        self._recent.append(lane)
        self._waiting[lane].popleft().set_result(None)

    def _next_lane(self) -> Lane | None:
        interactive, bulk = self._waiting[Lane.INTERACTIVE], self._waiting[Lane.BULK]
        if interactive and bulk:
            if self._credit >= 1:
                self._credit -= 1
                return Lane.BULK
            self._credit = min(self._credit + self._earned_per_turn, 1 + self._earned_per_turn)
            return Lane.INTERACTIVE
        if interactive:
            return Lane.INTERACTIVE
        if bulk:
            return Lane.BULK
        return None


class Turn:
    """The holder's handle: lets a bulk holder give way to interactive waiters."""

    __slots__ = ("_lane", "_turns")

    def __init__(self, turns: Turns, lane: Lane) -> None:
        self._turns = turns
        self._lane = lane

    async def pause(self, seconds: float) -> bool:
        """Sleep toward a slot; True when a bulk holder should give way to interactive."""
        return await self._turns.pause(self._lane, seconds)

    async def give_way(self) -> None:
        await self._turns.give_way(self._lane)
