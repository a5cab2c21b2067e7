"""The Cognito rate limiter: every Cognito call of the worker waits here for a token first.

Cognito's request-rate quota is per account and region, shared by every caller, and small (tens
of requests per second). The worker must run at it and never above it, so:

* The quota is split by arithmetic, never by hope: ``replicas x per-replica RPS <= quota``.
  Without ``RESEND_RATE_LIMIT_REDIS_URL`` each replica takes
  ``RESEND_COGNITO_MAX_RPS / RESEND_EXPECTED_REPLICAS`` in a local bucket, so
  ``RESEND_EXPECTED_REPLICAS`` must be at least the most replicas that can run at once (the
  autoscaler's maximum, plus a rolling deployment's surge). With it, all replicas draw from one
  bucket in Redis at ``RESEND_COGNITO_MAX_RPS`` in total, and fall back to the local share while
  Redis is unreachable. Set ``RESEND_COGNITO_MAX_RPS`` to the quota from the Service Quotas
  console, minus what other callers of the account and region use.
* Buckets hold one token: calls are paced ``1 / rate`` apart, so no 1 s window exceeds the rate,
  even right after a start or an idle spell (``worker.rate_limit.local`` explains why).
* The allowed rate adapts, AIMD: halved on TooManyRequestsException (at most once a second,
  floored at 5% of the maximum or 0.5 RPS), raised by a tenth of the maximum per second of
  successes (``worker.rate_limit.aimd`` has the constants and why). Other callers of the account
  take part of the quota unannounced; throttles are how the worker learns of them.

With a bulk lane (``RESEND_BULK_QUEUE_URL``) the waiters queue by lane: a token goes to an
interactive request whenever one waits, bulk takes the rest with a floor of
``RESEND_BULK_MIN_SHARE`` (``worker.rate_limit.turns``). On the shared limiter the priority holds
across the fleet: interactive waiters mark the Redis bucket, and bulk callers on every replica
stand back while the mark holds, but for their floor.

Only TooManyRequestsException is a signal about the quota. LimitExceededException is a limit on
one user's code deliveries (or the account's daily email count), which says nothing about the
request rate: callers must not call ``on_throttled`` for it, or one user retrying would slow
everyone down (botocore's adaptive mode makes exactly that mistake).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from worker import metrics
from worker.lanes import Lane
from worker.rate_limit.local import LocalRateLimiter
from worker.rate_limit.redis import RedisRateLimiter
from worker.rate_limit.turns import Turns
from worker.settings import Settings

__all__ = ["LocalRateLimiter", "RateLimiter", "RedisRateLimiter", "build_rate_limiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """What the Cognito caller needs: wait for a token, then report how the call went."""

    @property
    def allowed_rps(self) -> float:
        """Calls per second this limiter allows right now."""
        ...

    @property
    def replica_rps(self) -> float:
        """This replica's expected part of ``allowed_rps`` (the fleet's, when shared)."""
        ...

    @property
    def turns(self) -> Turns:
        """The waiters' queue: what an interactive or bulk caller waits behind."""
        ...

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> float:
        """Wait for a token (interactive first, FIFO within a lane, cancellation-safe).

        Returns the seconds waited.
        """
        ...

    def on_throttled(self) -> None:
        """Cognito answered TooManyRequestsException: cut the rate (never for LimitExceeded)."""
        ...

    def on_success(self) -> None:
        """Cognito accepted a call: evidence that the rate may grow back toward the maximum."""
        ...

    async def close(self) -> None: ...


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """The shared Redis limiter when a URL is set, else this replica's local share."""
    metrics.rate_limit_max_rps.set(settings.cognito_max_rps)
    if settings.rate_limit_redis_url:
        return RedisRateLimiter(
            settings.rate_limit_redis_url.get_secret_value(),
            max_rps=settings.cognito_max_rps,
            expected_replicas=settings.expected_replicas,
            key_prefix=settings.dedupe_key_prefix,
            bulk_min_share=settings.bulk_min_share,
        )
    return LocalRateLimiter(
        settings.cognito_max_rps / settings.expected_replicas,
        bulk_min_share=settings.bulk_min_share,
    )
