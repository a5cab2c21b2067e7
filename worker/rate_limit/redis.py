"""The shared limiter: one bucket in Redis for every replica, so the fleet stays under one quota.

State lives in one hash, ``<prefix>:ratelimit:cognito``:

* ``rate``: the AIMD-adapted rate of the whole fleet (absent means the maximum);
* ``last``: the time of the latest grant (or reservation), on Redis's clock;
* ``cut_at``: the time of the latest multiplicative cut, for the cooldown;
* ``interactive_until``, ``bulk_refused``, ``bulk_credit``: the lanes' fleet-wide priority (see
  the acquire script): until when interactive requests hold the bucket, when a bulk caller was
  last held back, and how much of its floor bulk has earned.

Every script reads the clock with Redis's ``TIME``, so replicas with drifting clocks still agree,
and refreshes the key's expiry to the policy's idle reset (60 s): a stopped fleet leaves nothing
behind, and a fleet that comes back starts from the maximum as a local limiter would.

Acquisition is one script call. Like the local bucket it spaces grants ``1 / rate`` apart with no
burst (see ``worker.rate_limit.local`` for why). The script grants the next slot when it falls
within a short horizon (0.5 s; for bulk, a quarter of a slot) and answers how long until it is due;
the caller sleeps that long and goes. A slot further away is not reserved: the answer is how long
until it is within the horizon, and the caller sleeps and asks again. Reserving the next slot,
instead of polling until a token is there, costs one round trip per call and loses neither the round
trip nor the wake-up lateness to the pacing. The horizon bounds how long a cut of the rate can wait
for the slots already handed out. Within a replica, waiters queue on ``Turns`` (interactive first)
and only the head talks to Redis, so each replica holds at most one reservation and Redis sees one
request per grant. A waiter cancelled after its reservation wastes that slot, which errs below the
quota.

The caller's sleep starts when the reply arrives, so it never goes before its slot on Redis's
clock. Network jitter between replicas can bring two calls a little closer than ``1 / rate``; the
pacing leaves no burst for that to add to.

Throttles and successes update the shared rate with scripts that run as background tasks, off
the caller's path. A throttle goes out at once (at most one per cooldown per replica, since the
shared cooldown would ignore the rest); successes are counted locally and sent as one batch at
most every 100 ms, and not at all while the rate is at the maximum.

If Redis cannot be reached (connection refused, a 0.5 s socket timeout, or any error from Redis),
the replica falls back to a local bucket at ``cognito_max_rps / expected_replicas``, so the fleet
stays under the quota as long as ``expected_replicas`` is at least the number of replicas running.
It logs a warning and counts the transition once, pings Redis every 5 s in the background, and
switches back at the first answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from worker import metrics
from worker.lanes import Lane
from worker.rate_limit.aimd import AimdPolicy
from worker.rate_limit.local import LocalRateLimiter
from worker.rate_limit.turns import DEFAULT_MIN_SHARE, Turns

log = structlog.get_logger(__name__)
# Looked up once per lane rather than once a call.
_WAIT = metrics.Children(metrics.rate_limit_wait)

# Anything that means "Redis did not answer usefully": the limiter then falls back.
_UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)

# Shared by the scripts. ARGV[1]: max_rps of the caller, ARGV[2]: key expiry in ms.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local max_rps = tonumber(ARGV[1])
local ttl_ms = tonumber(ARGV[2])
local function fmt(x) return string.format('%.6f', x) end
local function load_rate()
  local rate = tonumber(redis.call('HGET', KEYS[1], 'rate'))
  if not rate or rate > max_rps then rate = max_rps end
  return rate
end
"""

# ARGV[3]: horizon in seconds, ARGV[4]: lane ('interactive' or 'bulk'), ARGV[5]: interactive
# waiters queued behind this one on the caller's replica, ARGV[6]: bulk's minimum share.
# Returns {granted 0|1, wait in microseconds, rate}.
#
# Fleet-wide priority: an interactive caller with more queued behind it, or whose slot is beyond
# the horizon, marks the bucket 'interactive until' a slot past its own. While the mark holds, a
# bulk caller is refused (and told to ask again within a slot) unless bulk has earned its floor:
# each interactive grant made while bulk was being refused earns it share / (1 - share) of a
# grant, and a whole one lets it through.
_ACQUIRE = (
    _PRELUDE
    + """
local horizon = tonumber(ARGV[3])
local lane = ARGV[4]
local queued = tonumber(ARGV[5])
local share = tonumber(ARGV[6])
local rate = load_rate()
local interval = 1 / rate
local held_until = tonumber(redis.call('HGET', KEYS[1], 'interactive_until'))
local credit = nil
if lane == 'bulk' and held_until and held_until > now then
  credit = tonumber(redis.call('HGET', KEYS[1], 'bulk_credit')) or 0
  if credit < 1 then
    redis.call('HSET', KEYS[1], 'bulk_refused', fmt(now))
    redis.call('PEXPIRE', KEYS[1], ttl_ms)
    local retry = math.min(held_until - now, interval)
    return {0, math.ceil(retry * 1000000), fmt(rate)}
  end
end
local due = now
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if last and last + interval > now then due = last + interval end
local wait = due - now
if lane == 'bulk' and not credit then
  -- Bulk reserves only a slot due within a quarter of an interval, so an interactive request
  -- finds at most that much reserved ahead of it, not a horizon's worth. Taking its floor, it
  -- reserves as interactive does, or interactive callers would always be first to ask.
  horizon = math.min(horizon, interval / 4)
end
if lane == 'interactive' and (queued > 0 or wait > horizon) then
  local mark = due + interval + 0.05
  if not held_until or held_until < mark then
    redis.call('HSET', KEYS[1], 'interactive_until', fmt(mark))
  end
end
if wait <= horizon then
  redis.call('HSET', KEYS[1], 'last', fmt(due))
  if credit then
    -- Bulk takes a slot of its floor while interactive holds the bucket.
    redis.call('HSET', KEYS[1], 'bulk_credit', fmt(credit - 1))
  end
  if lane == 'interactive' then
    local refused = tonumber(redis.call('HGET', KEYS[1], 'bulk_refused'))
    if refused and now - refused < 1 then
      local credit = tonumber(redis.call('HGET', KEYS[1], 'bulk_credit')) or 0
      local earned = share / (1 - share)
      redis.call('HSET', KEYS[1], 'bulk_credit', fmt(math.min(credit + earned, 1 + earned)))
    end
  end
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  return {1, math.ceil(wait * 1000000), fmt(rate)}
end
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return {0, math.ceil((wait - horizon) * 1000000), fmt(rate)}
"""
)

# ARGV[3]: min_rps, ARGV[4]: decrease factor, ARGV[5]: cooldown in seconds. Returns the rate.
_THROTTLED = (
    _PRELUDE
    + """
local min_rps = tonumber(ARGV[3])
local factor = tonumber(ARGV[4])
local cooldown = tonumber(ARGV[5])
local rate = load_rate()
local cut_at = tonumber(redis.call('HGET', KEYS[1], 'cut_at'))
if not (cut_at and now - cut_at < cooldown) then
  if rate > min_rps then
    redis.call('HSET', KEYS[1], 'ceiling', fmt(rate))
  else
    redis.call('HDEL', KEYS[1], 'ceiling')
  end
  rate = math.max(min_rps, rate * factor)
  redis.call('HSET', KEYS[1], 'rate', fmt(rate), 'cut_at', fmt(now))
end
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return fmt(rate)
"""
)

# ARGV[3]: the increase constant c, ARGV[4]: number of successes, ARGV[5]: the knee as a
# fraction of the ceiling, ARGV[6]: the probing increase as a fraction of the ceiling,
# ARGV[7]: how long a ceiling is remembered after the last cut, in seconds, ARGV[8]: the factor
# by which passing the ceiling forgets it.
# The same rule as AimdPolicy.raised. Returns the rate.
_SUCCEEDED = (
    _PRELUDE
    + """
local c = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local near = tonumber(ARGV[5])
local probe = tonumber(ARGV[6])
local memory = tonumber(ARGV[7])
local passed = tonumber(ARGV[8])
local rate = load_rate()
local ceiling = tonumber(redis.call('HGET', KEYS[1], 'ceiling'))
local cut_at = tonumber(redis.call('HGET', KEYS[1], 'cut_at'))
if ceiling and cut_at and now - cut_at > memory then
  ceiling = nil
  redis.call('HDEL', KEYS[1], 'ceiling')
end
if rate < max_rps and n > 0 then
  local limit = max_rps
  if ceiling and rate < near * ceiling then
    limit = math.min(max_rps, near * ceiling)
  elseif ceiling then
    c = probe * ceiling
  end
  rate = math.min(limit, math.sqrt(rate * rate + 2 * c * n))
  redis.call('HSET', KEYS[1], 'rate', fmt(rate))
  if ceiling and rate > ceiling * passed then redis.call('HDEL', KEYS[1], 'ceiling') end
end
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return fmt(rate)
"""
)

HORIZON_SECONDS = 0.5
FLUSH_INTERVAL_SECONDS = 0.1
PROBE_INTERVAL_SECONDS = 5.0
SOCKET_TIMEOUT_SECONDS = 0.5


def ratelimit_key(prefix: str) -> str:
    return f"{prefix}:ratelimit:cognito"


class RedisRateLimiter:
    """Token bucket shared through Redis, with a local fallback; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        max_rps: float,
        expected_replicas: int,
        key_prefix: str,
        horizon: float = HORIZON_SECONDS,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        probe_interval: float = PROBE_INTERVAL_SECONDS,
        socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
        bulk_min_share: float = DEFAULT_MIN_SHARE,
    ) -> None:
        if expected_replicas < 1:
            raise ValueError("expected_replicas must be at least 1")
        self._policy = AimdPolicy.for_max(max_rps)
        self._expected_replicas = expected_replicas
        self._fallback = LocalRateLimiter(max_rps / expected_replicas)
        self._key = ratelimit_key(key_prefix)
        self._ttl_ms = int(self._policy.idle_reset * 1000)
        self._horizon = horizon
        self._flush_interval = flush_interval
        self._probe_interval = probe_interval
        # No retries inside redis-py: a failure should reach the fallback in one timeout.
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._acquire_script = self._client.register_script(_ACQUIRE)
        self._throttled_script = self._client.register_script(_THROTTLED)
        self._succeeded_script = self._client.register_script(_SUCCEEDED)
        self.turns = Turns(bulk_min_share)
        self._rate = self._policy.max_rps
        self._fallback_active = False
        self._pending_successes = 0
        self._last_throttle_sent: float | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        metrics.rate_limit_allowed_rps.set(self._rate)

    @property
    def allowed_rps(self) -> float:
        """The fleet-wide rate last seen in Redis, or this replica's own rate in fallback."""
        return self._fallback.allowed_rps if self._fallback_active else self._rate

    @property
    def replica_rps(self) -> float:
        """This replica's expected part of the fleet's rate (all of its own in fallback)."""
        if self._fallback_active:
            return self._fallback.allowed_rps
        return self._rate / self._expected_replicas

    @property
    def fallback_active(self) -> bool:
        return self._fallback_active

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> float:
        started = time.monotonic()
        async with self.turns.turn(lane) as turn:
            while True:
                if self._fallback_active:
                    await self._fallback.wait_turn(turn)
                    break
                try:
                    granted, wait = await self._take(lane)
                except _UNAVAILABLE as exc:
                    _reraise_cancellation(exc)
                    self._enter_fallback(exc)
                    continue
                _reraise_cancellation()
                if granted:
                    if wait > 0:
                        await asyncio.sleep(wait)  # a reserved slot: kept, never given back
                    break
                if await turn.pause(wait):
                    # Refused (not due yet, or held back for other replicas' interactive
                    # requests) and interactive requests of this replica queued: they go first.
                    await turn.give_way()
        waited = time.monotonic() - started
        _WAIT(lane).observe(waited)
        return waited

    def on_throttled(self) -> None:
        if self._fallback_active:
            self._fallback.on_throttled()
            return
        # Successes counted before the throttle are stale evidence.
        self._pending_successes = 0
        now = time.monotonic()
        last = self._last_throttle_sent
        if last is not None and now - last < self._policy.cooldown:
            return
        self._last_throttle_sent = now
        self._spawn(self._send_throttle())

    def on_success(self) -> None:
        if self._fallback_active:
            self._fallback.on_success()
            return
        if self._rate >= self._policy.max_rps:
            return
        self._pending_successes += 1
        if self._flush_task is None:
            self._flush_task = self._spawn(self._flush_later())

    async def flush(self) -> None:
        """Send counted successes now and wait for every update in flight."""
        if self._flush_task is not None:
            self._flush_task.cancel()
            self._flush_task = None
        await self._send_successes()
        pending = [task for task in self._tasks if task is not self._probe_task]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
        with contextlib.suppress(Exception):
            await self.flush()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def _take(self, lane: Lane) -> tuple[bool, float]:
        """One ask of the shared bucket: granted, and the seconds to wait."""
        args = [
            self._policy.max_rps,
            self._ttl_ms,
            self._horizon,
            lane.value,
            self.turns.waiting(Lane.INTERACTIVE),
            self.turns.min_share,
        ]
        reply: list[Any] = await self._acquire_script(keys=[self._key], args=args)
        granted, wait_us, rate = reply
        self._set_rate(float(rate))
        return bool(int(granted)), int(wait_us) / 1_000_000

    async def _send_throttle(self) -> None:
        policy = self._policy
        try:
            rate = await self._throttled_script(
                keys=[self._key],
                args=[
                    policy.max_rps,
                    self._ttl_ms,
                    policy.min_rps,
                    policy.decrease_factor,
                    policy.cooldown,
                ],
            )
        except _UNAVAILABLE as exc:
            _reraise_cancellation(exc)
            self._enter_fallback(exc)
            self._fallback.on_throttled()
            return
        self._set_rate(float(rate))

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self._flush_interval)
        finally:
            if self._flush_task is asyncio.current_task():
                self._flush_task = None
        await self._send_successes()

    async def _send_successes(self) -> None:
        count, self._pending_successes = self._pending_successes, 0
        if count == 0 or self._fallback_active:
            return
        try:
            rate = await self._succeeded_script(
                keys=[self._key],
                args=[
                    self._policy.max_rps,
                    self._ttl_ms,
                    self._policy.increase_constant,
                    count,
                    self._policy.near_ceiling,
                    self._policy.probe_per_second,
                    self._policy.ceiling_memory,
                    self._policy.ceiling_passed,
                ],
            )
        except _UNAVAILABLE as exc:
            _reraise_cancellation(exc)
            self._enter_fallback(exc)
            return
        self._set_rate(float(rate))

    def _set_rate(self, rate: float) -> None:
        self._rate = rate
        if not self._fallback_active:
            metrics.rate_limit_allowed_rps.set(rate)

    def _enter_fallback(self, exc: BaseException) -> None:
        if self._fallback_active:
            return
        self._fallback_active = True
        self._pending_successes = 0
        metrics.rate_limit_fallbacks.inc()
        metrics.rate_limit_fallback_active.set(1)
        self._fallback.publish_rate()
        log.warning(
            "rate limiter falling back to the local bucket: Redis unreachable",
            error=type(exc).__name__,
            replica_rps=self._fallback.max_rps,
            probe_interval_seconds=self._probe_interval,
        )
        self._probe_task = self._spawn(self._probe_until_back())

    async def _probe_until_back(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval)
            try:
                await self._client.ping()
            except _UNAVAILABLE as exc:
                _reraise_cancellation(exc)
                continue
            break
        self._probe_task = None
        self._fallback_active = False
        metrics.rate_limit_fallback_active.set(0)
        metrics.rate_limit_allowed_rps.set(self._rate)
        log.info("rate limiter back on the shared Redis bucket")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("rate limiter background update failed", error=type(exc).__name__)


def _reraise_cancellation(exc: BaseException | None = None) -> None:
    """Keep a cancellation that reached a Redis round trip.

    redis-py can turn a cancelled command into a connection error, or finish it and return its
    reply. Either way the caller (a shutdown, a timeout) asked to stop; taken for an outage or
    a grant, the acquire would carry on, and a shutdown would wait for it forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc
