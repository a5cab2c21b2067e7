"""The state behind the fault knobs, shared by moto's request threads.

moto's server answers each request on its own thread, so every decision that reads and updates
state (taking a token, counting a user's codes) happens under one lock, in one step.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from devstack.faults import DAILY_EMAIL_LIMIT, Call, CallStats, Faults

HOUR = 3600.0
# A held request gives up after this long, so a test that forgets to release leaks no thread.
HOLD_LIMIT_SECONDS = 120.0


class FaultInjector:
    """Decides which requests fail on purpose and records every answer."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._held = threading.Condition(self._lock)
        self._waiting: Counter[str] = Counter()
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self.reset()

    def reset(self) -> None:
        """Back to a healthy Cognito with no history."""
        with self._lock:
            self._faults = Faults()
            self._tokens = 0.0
            self._refilled_at = self._clock()
            self._sends: dict[tuple[str, str], deque[float]] = {}
            self._emails_sent = 0
            self._calls: list[Call] = []
            self._by_result: Counter[str] = Counter()
            self._sent_by_user: Counter[str] = Counter()
            self._held.notify_all()

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def configure(self, changes: Mapping[str, Any]) -> Faults:
        """Change some knobs (validated); the token bucket starts full again."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            self._tokens = self._capacity()
            self._refilled_at = self._clock()
            return self._faults

    def hold(self, username: str, phase: str) -> None:
        """Wait here while ``hold_users`` holds this user at this phase (until released)."""
        deadline = self._clock() + HOLD_LIMIT_SECONDS
        with self._held:
            if self._faults.hold_users.get(username) != phase:
                return
            self._waiting[username] += 1
            self._held.notify_all()
            try:
                while self._faults.hold_users.get(username) == phase and self._clock() < deadline:
                    self._held.wait(0.5)
            finally:
                self._waiting[username] -= 1
                if not self._waiting[username]:
                    del self._waiting[username]

    def release(self, usernames: list[str] | None = None) -> dict[str, int]:
        """Stop holding these users (all when None); answers who was waiting."""
        with self._held:
            waiting = dict(self._waiting)
            holds = dict(self._faults.hold_users)
            for username in list(holds) if usernames is None else usernames:
                holds.pop(username, None)
            self._faults = self._faults.updated({"hold_users": holds})
            self._held.notify_all()
            return waiting

    def waiting(self) -> dict[str, int]:
        """Requests held right now, by username."""
        with self._lock:
            return dict(self._waiting)

    def delay_seconds(self) -> float:
        faults = self.faults
        jitter = self._rng.uniform(0, faults.jitter_ms) if faults.jitter_ms else 0.0
        return (faults.latency_ms + jitter) / 1000

    def take_token(self) -> bool:
        """The account quota: False means TooManyRequestsException."""
        with self._lock:
            rate = self._faults.quota_rps
            if rate is None:
                return True
            now = self._clock()
            elapsed = now - self._refilled_at
            self._tokens = min(self._capacity(), self._tokens + elapsed * rate)
            self._refilled_at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def injected_error(self, username: str) -> str | None:
        """An error asked for by rate or by username, if any."""
        faults = self.faults
        if faults.error_rate and self._rng.random() < faults.error_rate:
            return faults.error_code
        return faults.user_errors.get(username)

    def admit_send(self, pool_id: str, username: str, *, email: bool) -> str | None:
        """Check and count one issued code against the limits; returns the error code, if any."""
        with self._lock:
            faults = self._faults
            now = self._clock()
            window = self._sends.setdefault((pool_id, username), deque())
            while window and window[0] <= now - HOUR:
                window.popleft()
            limit = faults.per_user_hourly_limit
            if limit is not None and len(window) >= limit:
                return "LimitExceededException"
            daily = faults.daily_email_limit
            if email and daily is not None and self._emails_sent >= daily:
                return DAILY_EMAIL_LIMIT
            window.append(now)
            self._emails_sent += email
            return None

    def record(self, username: str, result: str, *, sent: bool = False) -> None:
        with self._lock:
            self._calls.append(Call(self._wall_clock(), username, result))
            self._by_result[result] += 1
            if sent:
                self._sent_by_user[username] += 1

    def stats(self, *, with_calls: bool = True) -> CallStats:
        with self._lock:
            calls = list(self._calls)
            by_result = dict(self._by_result)
            sent = dict(self._sent_by_user)
        return CallStats(
            total=len(calls),
            by_result=by_result,
            sent_by_user=sent,
            calls=calls if with_calls else [],
            max_ok_per_second=_max_per_window([c.timestamp for c in calls if c.result == "ok"]),
        )

    def _capacity(self) -> float:
        faults = self._faults
        if faults.burst is not None:
            return max(faults.burst, 1.0)
        return max(faults.quota_rps or 1.0, 1.0)


def _max_per_window(timestamps: list[float], window: float = 1.0) -> int:
    """The most timestamps inside any half-open window [t, t + window)."""
    timestamps = sorted(timestamps)
    best = start = 0
    for end, stamp in enumerate(timestamps):
        while stamp - timestamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
