"""The AIMD rule that adapts the allowed Cognito rate, kept free of clocks and I/O.

The local bucket applies it in process; the Redis bucket applies the same rule inside Lua scripts
(see ``worker.rate_limit.redis``) with the constants of the same ``AimdPolicy``, so one test suite
pins the arithmetic for both.

Why these constants:

* Multiplicative decrease by 0.5 on TooManyRequestsException. Cognito's quota is shared by every
  caller of the account and region, so the worker cannot know how much of it is left; halving
  gets under any remaining share within a few cuts (50 -> 25 -> 12.5 RPS in about 2 s).
* One cut per ``cooldown`` (1 s). The calls in flight when the first throttle arrives were paced
  at the old rate and come back throttled too; counting each of them would collapse the rate to
  the floor from a single overshoot. Cognito's quota is per second, so throttles from the same
  second are one signal.
* Floor of 5% of the maximum, at least 0.5 RPS (never above the maximum): the worker keeps making
  a little progress, and keeps probing, even when another caller takes the whole quota.
* Additive increase of ``max_rps / 10`` per second of successes. Each success adds
  ``c / rate`` with ``c = max_rps * increase_per_second``, so at the allowed rate the successes
  of one second add ``c``. Computed exactly for a batch of ``n`` successes, the rule is
  ``rate**2 += 2 * c * n``. A halving recovers in about 5 s and the floor in about 10 s: quick
  enough that a throttle caused by someone else's burst costs a few seconds of throughput, slow
  enough that a real ceiling below the maximum costs one round of throttles (which are retried)
  every few seconds. No successes, no increase: the rate only rises on evidence.
* The rate at the last throttle is remembered as the ceiling. Below 90% of it the rate climbs
  fast (as above); from there it probes slowly, 2% of the ceiling per second. A plain AIMD
  sawtooth overshoots the quota on every climb, so a worker configured above the real quota
  (3x in the tests) sees a large share of its calls throttled; remembering where the throttles
  began keeps them to a few calls per probe while the goodput stays near the quota. Passing the
  ceiling by a tenth without a throttle forgets it: the quota has grown (another caller gave its
  share back), and the fast climb resumes. A throttle at the floor sets no ceiling (it says
  another caller holds the quota, not where the quota is), and the ceiling is forgotten
  ``ceiling_memory`` (10 s) after the last cut, so a worker pushed down by someone else's burst
  climbs back fast once it is over.
* State older than ``idle_reset`` (60 s) without any event is forgotten: a throttle a minute ago
  says little about the quota now, and the Redis copy of this state expires after the same time
  so nothing lingers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DECREASE_FACTOR = 0.5
MIN_FRACTION = 0.05
MIN_RPS = 0.5
INCREASE_PER_SECOND = 0.1
NEAR_CEILING = 0.9
PROBE_PER_SECOND = 0.02
# Longer than the sawtooth of probes under a steady ceiling (one throttle every 7 to 8 s at the
# quota benchmark's 20 RPS), shorter than what the quota benchmark's up-step allowed (10 s).
CEILING_MEMORY_SECONDS = 10.0
# Passing the ceiling by this factor without a throttle forgets it.
CEILING_PASSED = 1.1
COOLDOWN_SECONDS = 1.0
IDLE_RESET_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class AimdPolicy:
    """The constants of the rule for one ceiling; build it with ``for_max``."""

    max_rps: float
    min_rps: float
    decrease_factor: float = DECREASE_FACTOR
    increase_per_second: float = INCREASE_PER_SECOND
    near_ceiling: float = NEAR_CEILING
    probe_per_second: float = PROBE_PER_SECOND
    ceiling_memory: float = CEILING_MEMORY_SECONDS
    ceiling_passed: float = CEILING_PASSED
    cooldown: float = COOLDOWN_SECONDS
    idle_reset: float = IDLE_RESET_SECONDS

    def __post_init__(self) -> None:
        if not 0 < self.min_rps <= self.max_rps:
            raise ValueError("need 0 < min_rps <= max_rps")
        if not 0 < self.decrease_factor < 1:
            raise ValueError("decrease_factor must be between 0 and 1")
        if self.increase_per_second <= 0 or self.cooldown < 0 or self.idle_reset <= 0:
            raise ValueError("increase_per_second and idle_reset must be positive, cooldown >= 0")

    @classmethod
    def for_max(
        cls,
        max_rps: float,
        *,
        cooldown: float = COOLDOWN_SECONDS,
        idle_reset: float = IDLE_RESET_SECONDS,
    ) -> AimdPolicy:
        if max_rps <= 0:
            raise ValueError("max_rps must be positive")
        floor = min(max_rps, max(MIN_RPS, max_rps * MIN_FRACTION))
        return cls(max_rps=max_rps, min_rps=floor, cooldown=cooldown, idle_reset=idle_reset)

    @property
    def increase_constant(self) -> float:
        """``c`` in ``rate**2 += 2 * c * n``: RPS gained per second at the allowed rate."""
        return self.max_rps * self.increase_per_second

    def cut(self, rate: float) -> float:
        return max(self.min_rps, rate * self.decrease_factor)

    def raised(self, rate: float, successes: int, ceiling: float | None = None) -> float:
        """The rate after ``successes``: fast up to near the ceiling, slowly beyond it."""
        if ceiling is None:
            return min(self.max_rps, _grow(rate, self.increase_constant, successes))
        knee = self.near_ceiling * ceiling
        if rate < knee:
            return min(self.max_rps, knee, _grow(rate, self.increase_constant, successes))
        return min(self.max_rps, _grow(rate, self.probe_per_second * ceiling, successes))


def _grow(rate: float, c: float, successes: int) -> float:
    """Each success adds ``c / rate``: at the allowed rate, ``c`` per second of successes."""
    return math.sqrt(rate * rate + 2 * c * successes)


class AimdRate:
    """The adapted rate of one limiter; callers pass the time so the rule stays testable."""

    def __init__(self, policy: AimdPolicy) -> None:
        self.policy = policy
        self.rate = policy.max_rps
        self.ceiling: float | None = None
        self._cut_at: float | None = None
        self._last_event: float | None = None

    def touch(self, now: float) -> None:
        """Record activity, forgetting the state first if it went stale."""
        if self._last_event is not None and now - self._last_event > self.policy.idle_reset:
            self.rate = self.policy.max_rps
            self.ceiling = None
            self._cut_at = None
        self._last_event = now

    def throttled(self, now: float) -> bool:
        """Apply one throttle; False when it fell in the cooldown of the previous cut."""
        self.touch(now)
        if self._cut_at is not None and now - self._cut_at < self.policy.cooldown:
            return False
        self.ceiling = self.rate if self.rate > self.policy.min_rps else None
        self.rate = self.policy.cut(self.rate)
        self._cut_at = now
        return True

    def succeeded(self, now: float, successes: int = 1) -> None:
        self.touch(now)
        if self._cut_at is not None and now - self._cut_at > self.policy.ceiling_memory:
            self.ceiling = None
        if successes > 0 and self.rate < self.policy.max_rps:
            self.rate = self.policy.raised(self.rate, successes, self.ceiling)
            if self.ceiling is not None and self.rate > self.ceiling * self.policy.ceiling_passed:
                self.ceiling = None
