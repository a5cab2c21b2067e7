"""The Cognito call: rate limit, ResendConfirmationCode, in-process retries, metrics.

One shared unsigned client per process (see ``worker.aws``). Every attempt, retries included,
first takes a token from the rate limiter, so the worker never calls above the quota. Only
TooManyRequestsException slows the limiter down: per-user LimitExceededException says nothing about
the account's rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
BeforeSend = Callable[[], Awaitable[None]]


class CallNotStarted(Exception):
    """``before_send`` refused: no request went out, and the caller decides what next."""


class CognitoCaller:
    def __init__(self, client: Any, limiter: RateLimiter, settings: Settings) -> None:
        self._client = client
        self._limiter = limiter
        self._settings = settings

    async def resend(
        self, params: dict[str, Any], *, before_send: BeforeSend | None = None
    ) -> CallResult:
        """Call ResendConfirmationCode until it succeeds or the retry policy gives up.

        ``before_send`` runs once, after the first rate-limit token and before the first request
        is written: the moment from which a code may have been sent, which the dedupe record must
        say first. It raises ``CallNotStarted`` to stop the call; that propagates.
        """
        rule = RetryNow()
        try:
            return _sent(await self._attempt(params, before_send), 1)
        except CallNotStarted:
            raise
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
                    response = await self._attempt(params, None)
        except Exception as exc:
            return _not_sent(exc, calls)
        return _sent(response, calls)

    async def _attempt(
        self, params: dict[str, Any], before_send: BeforeSend | None
    ) -> dict[str, Any]:
        await self._limiter.acquire()
        if before_send is not None:
            await before_send()
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
