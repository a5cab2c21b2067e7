"""The Cognito call: rate limit, ResendConfirmationCode, in-process retries, metrics.

One shared unsigned client per process (see ``worker.aws``). Every attempt, retries included,
first takes a token from the rate limiter, so the worker never calls above the quota. Only
TooManyRequestsException slows the limiter down: per-user LimitExceededException says nothing about
the account's rate.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog
from tenacity import RetryCallState

from worker import metrics
from worker.rate_limit import RateLimiter
from worker.retry import (
    RetryNow,
    Verdict,
    classify,
    cognito_retrying,
    first_backoff,
    when_exhausted,
)
from worker.settings import Settings

log = structlog.get_logger(__name__)

THROTTLED = "TooManyRequestsException"


@dataclass(frozen=True)
class Sent:
    code_delivery_details: dict[str, str] | None
    calls: int


@dataclass(frozen=True)
class NotSent:
    verdict: Verdict
    calls: int


CallResult = Sent | NotSent


class CognitoCaller:
    def __init__(self, client: Any, limiter: RateLimiter, settings: Settings) -> None:
        self._client = client
        self._limiter = limiter
        self._settings = settings

    async def resend(self, params: dict[str, Any], *, holds_claim: bool) -> CallResult:
        """Call ResendConfirmationCode until it succeeds or the retry policy gives up.

        ``holds_claim`` says no other attempt for this user can be in flight, which is what makes
        retrying an ambiguous read timeout acceptable.
        """
        rule = RetryNow(read_timeout_retry_allowed=holds_claim)
        try:
            return _sent(await self._attempt(params), 1)
        except Exception as exc:
            if self._settings.retry_max_attempts <= 1 or not rule.allows(exc):
                return _not_sent(exc, 1)
            metrics.retries.labels(classify(exc).code).inc()
        await asyncio.sleep(first_backoff())

        calls = 1

        async def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            metrics.retries.labels(classify(exc).code if exc else "unknown").inc()

        retrying = cognito_retrying(
            rule=rule,
            max_attempts=self._settings.retry_max_attempts - 1,
            max_seconds=self._settings.retry_max_seconds,
            before_sleep=before_sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    calls += 1
                    response = await self._attempt(params)
        except Exception as exc:
            return _not_sent(exc, calls)
        return _sent(response, calls)

    async def _attempt(self, params: dict[str, Any]) -> dict[str, Any]:
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            response: dict[str, Any] = await self._client.resend_confirmation_code(**params)
        except Exception as exc:
            metrics.cognito_request_duration.observe(time.perf_counter() - started)
            code = classify(exc).code
            metrics.cognito_requests.labels(code).inc()
            if code == THROTTLED:
                self._limiter.on_throttled()
            raise
        metrics.cognito_request_duration.observe(time.perf_counter() - started)
        metrics.cognito_requests.labels("ok").inc()
        self._limiter.on_success()
        return response


def _sent(response: dict[str, Any], calls: int) -> Sent:
    details = response.get("CodeDeliveryDetails")
    return Sent(dict(details) if details else None, calls)


def _not_sent(exc: BaseException, calls: int) -> NotSent:
    """The final failure; a retry-now error that ran out of budget becomes a deferral."""
    return NotSent(when_exhausted(classify(exc)), calls)
