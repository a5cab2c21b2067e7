"""The Cognito call: rate limit, ResendConfirmationCode, in-process retries, metrics.

One shared unsigned client per process (see ``worker.aws``). Every attempt, retries included,
first takes a token from the rate limiter, so the worker never calls above the quota. Only
TooManyRequestsException slows the limiter down: per-user LimitExceededException says nothing about
the account's rate.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import structlog
from resend_contract.aws_errors import describe

from worker import metrics
from worker.lanes import Lane
from worker.rate_limit import RateLimiter
from worker.retry import Verdict, classify, judge, may_retry_now, when_exhausted, with_retries
from worker.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_cognito_idp import CognitoIdentityProviderClient
    from types_aiobotocore_cognito_idp.type_defs import ResendConfirmationCodeResponseTypeDef

log = structlog.get_logger(__name__)
# Looked up once per label value rather than on every call.
_REQUESTS = metrics.Children(metrics.cognito_requests)
_RETRIES = metrics.Children(metrics.retries)


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
    def __init__(
        self,
        client: CognitoIdentityProviderClient,
        limiter: RateLimiter,
        settings: Settings,
        lane: Lane = Lane.INTERACTIVE,
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._settings = settings
        self._lane = lane

    async def resend(
        self, params: dict[str, Any], *, before_send: BeforeSend | None = None
    ) -> CallResult:
        """Call ResendConfirmationCode until it succeeds or the retry policy gives up.

        ``before_send`` runs once, after the first rate-limit token and before the first request
        is written: the moment from which a code may have been sent, which the dedupe record must
        say first. It raises ``CallNotStarted`` to stop the call; that propagates.
        """
        calls = 0

        async def attempt() -> ResendConfirmationCodeResponseTypeDef:
            nonlocal calls
            calls += 1
            return await self._attempt(params, before_send if calls == 1 else None)

        try:
            response = await with_retries(
                attempt,
                may_retry_now,
                max_attempts=self._settings.retry_max_attempts,
                max_seconds=self._settings.retry_max_seconds,
                cap=max(0.2, self._settings.retry_max_seconds / 4),
                on_retry=_count_retry,
            )
        except CallNotStarted:
            raise
        except Exception as exc:
            # The final failure; a retry-now error that ran out of budget becomes a deferral.
            return NotSent(when_exhausted(classify(exc)), calls)
        return _sent(response, calls)

    async def _attempt(
        self, params: dict[str, Any], before_send: BeforeSend | None
    ) -> ResendConfirmationCodeResponseTypeDef:
        await self._limiter.acquire(self._lane)
        if before_send is not None:
            await before_send()
        started = time.perf_counter()
        try:
            response = await self._client.resend_confirmation_code(**params)
        except Exception as exc:
            metrics.cognito_request_duration.observe(time.perf_counter() - started)
            failure = describe(exc)
            _REQUESTS(judge(failure).code).inc()
            if failure.throttled:
                self._limiter.on_throttled()
            raise
        metrics.cognito_request_duration.observe(time.perf_counter() - started)
        _REQUESTS(metrics.OK).inc()
        self._limiter.on_success()
        return response


def _sent(response: ResendConfirmationCodeResponseTypeDef, calls: int) -> Sent:
    details = response.get("CodeDeliveryDetails")
    return Sent(cast("dict[str, str]", dict(details)) if details else None, calls)


def _count_retry(exc: BaseException) -> None:
    _RETRIES(classify(exc).code).inc()
