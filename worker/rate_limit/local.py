"""The in-process limiter: one replica's share of the quota, paced at the AIMD-adapted rate.

It is a token bucket with a capacity of one token (equivalently, GCRA without burst tolerance):
successive grants are at least ``1 / rate`` seconds apart. A larger bucket would let a burst of
``capacity`` calls follow an idle spell and then the steady rate, so some 1 s window would hold
``capacity - 1 + rate`` calls, above the quota; with one token no window of 1 s holds more than
``ceil(rate)`` grants, from a fresh start or after idling. Throughput is unchanged (the rate is
the rate); only bursts are smoothed, which is what a per-second quota wants anyway. The price is
the event loop's wake-up lateness, which is lost rather than caught up: the limiter errs below
the quota, never above.

Waiters queue on ``Turns`` (``worker.rate_limit.turns``): FIFO within a lane, interactive before
bulk, and no newcomer overtakes queued waiters of its own lane. Only the head of the queue
sleeps, on a timer until its grant is due, so nothing busy-waits. A grant is recorded with no
``await`` between the decision and the return, so a waiter cancelled at any point (queued, or
sleeping at the head) consumes no token and the next waiter moves up. A cut of the rate applies
to the sleeping head too: it re-checks its due time on waking.
"""

from __future__ import annotations

import time

from worker import metrics
from worker.lanes import Lane
from worker.rate_limit.aimd import AimdPolicy, AimdRate
from worker.rate_limit.turns import DEFAULT_MIN_SHARE, Turn, Turns

# Looked up once per lane rather than once a call.
_WAIT = metrics.Children(metrics.rate_limit_wait)


class LocalRateLimiter:
    """Token bucket for the calls of this process only; see the module docstring."""

    def __init__(self, max_rps: float, *, bulk_min_share: float = DEFAULT_MIN_SHARE) -> None:
        self._aimd = AimdRate(AimdPolicy.for_max(max_rps))
        self.turns = Turns(bulk_min_share)
        self._last_grant: float | None = None
        metrics.rate_limit_allowed_rps.set(self._aimd.rate)

    @property
    def allowed_rps(self) -> float:
        return self._aimd.rate

    @property
    def replica_rps(self) -> float:
        return self._aimd.rate

    @property
    def max_rps(self) -> float:
        return self._aimd.policy.max_rps

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> float:
        started = time.monotonic()
        async with self.turns.turn(lane) as turn:
            await self.wait_turn(turn)
        waited = time.monotonic() - started
        _WAIT(lane).observe(waited)
        return waited

    async def wait_turn(self, turn: Turn) -> None:
        """Wait for a token, holding ``turn`` (this limiter's, or a wrapping limiter's)."""
        while True:
            now = time.monotonic()
            before = self._aimd.rate
            self._aimd.touch(now)
            if self._aimd.rate != before:
                metrics.rate_limit_allowed_rps.set(self._aimd.rate)
            if self._last_grant is None:
                break
            due = self._last_grant + 1.0 / self._aimd.rate
            if now >= due:
                break
            if await turn.pause(due - now):
                await turn.give_way()  # an interactive request takes this slot first
        self._last_grant = now

    def on_throttled(self) -> None:
        if self._aimd.throttled(time.monotonic()):
            metrics.rate_limit_allowed_rps.set(self._aimd.rate)

    def on_success(self) -> None:
        before = self._aimd.rate
        self._aimd.succeeded(time.monotonic())
        if self._aimd.rate != before:
            metrics.rate_limit_allowed_rps.set(self._aimd.rate)

    def publish_rate(self) -> None:
        """Set the allowed-rate gauge to this limiter's rate (when it becomes the active one)."""
        metrics.rate_limit_allowed_rps.set(self._aimd.rate)

    async def close(self) -> None:
        """Nothing to release; present for the common interface."""
