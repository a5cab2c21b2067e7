"""The retry policy: every decision about trying again lives in this module.

Every Cognito outcome is classified by ``Error.Code`` (never by HTTP status: Cognito answers 400
for TooManyRequestsException) into one of four actions:

- ``RETRY`` now, in-process, with full-jitter exponential backoff bounded in attempts and time.
  Only for failures that prove nothing was sent: an answer from Cognito, or a connection that
  never opened.
- ``DEFER``: hand the message back to SQS with a visibility delay that grows with the number of
  deliveries, and publish nothing yet.
- ``PERMANENT``: publish ``failed`` and delete.
- ``UNKNOWN``: the request may have reached Cognito and no answer came (a read timeout, a
  connection lost after the request was written, an answer we could not read). A code was
  probably sent: never retried or deferred, answered ``unknown``, remembered for the window.

Each message also has a delivery budget (``RESEND_MAX_ATTEMPTS`` deliveries and
``RESEND_MAX_MESSAGE_AGE_SECONDS``); a deferral that would exceed it becomes a ``failed`` result
instead, so the dead-letter queue only ever receives what the worker could not handle at all.
The README carries this table; ``tests/test_retry.py`` checks every row.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from aiohttp import ClientConnectorError
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_base,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from worker.settings import SQS_MAX_VISIBILITY_SECONDS

T = TypeVar("T")


class Action(StrEnum):
    RETRY = "retry"
    DEFER = "defer"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


RETRY_NOW = frozenset({"TooManyRequestsException", "InternalErrorException"})
DEFER = frozenset(
    {
        "LimitExceededException",
        "CodeDeliveryFailureException",
        "UnexpectedLambdaException",
        "ForbiddenException",
        "InvalidSmsRoleAccessPolicyException",
        "InvalidSmsRoleTrustRelationshipException",
        "InvalidEmailRoleAccessPolicyException",
    }
)
PERMANENT = frozenset(
    {
        "NotAuthorizedException",
        "UserNotFoundException",
        "InvalidParameterException",
        "ResourceNotFoundException",
        "OperationNotEnabledException",
        "UserLambdaValidationException",
        "InvalidLambdaResponseException",
        "ParamValidationError",
    }
)

# Error.Code values for failures that never reached Cognito's answer.
READ_TIMEOUT = "ReadTimeout"
CONNECTION_ERROR = "ConnectionError"
CONNECTION_LOST = "ConnectionLost"
HTTP_5XX = "ServiceUnavailable"

# Reasons that tell apart the two meanings of LimitExceededException, and other causes.
PER_USER_LIMIT = "per_user_limit"
DAILY_EMAIL_LIMIT = "daily_email_limit"
ALREADY_CONFIRMED = "already_confirmed"
RETRIES_EXHAUSTED = "retries_exhausted"
OUTCOME_UNKNOWN = "outcome_unknown"

# Deferral delays, in seconds.
DEFER_BASE_SECONDS = 30
DEFER_CAP_SECONDS = 900
PER_USER_LIMIT_SECONDS = 3600
DAILY_EMAIL_LIMIT_SECONDS = 3600


@dataclass(frozen=True)
class Verdict:
    """What to do about one failed call, with the error as the result will report it."""

    action: Action
    code: str
    message: str
    reason: str | None = None


def classify(exc: BaseException) -> Verdict:
    """Map an exception from the Cognito call to an action."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        message = str(error.get("Message") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in RETRY_NOW:
            return Verdict(Action.RETRY, code, message)
        if code == "LimitExceededException":
            reason = DAILY_EMAIL_LIMIT if "daily email" in message.lower() else PER_USER_LIMIT
            return Verdict(Action.DEFER, code, message, reason)
        if code in DEFER:
            return Verdict(Action.DEFER, code, message)
        if code == "InvalidParameterException" and "already confirmed" in message.lower():
            return Verdict(Action.PERMANENT, code, message, ALREADY_CONFIRMED)
        if code in PERMANENT:
            return Verdict(Action.PERMANENT, code, message)
        if status >= 500 and (not code or code == str(status)):
            return Verdict(Action.RETRY, HTTP_5XX, f"HTTP {status} without an error code")
        # A code Cognito did not document when this was written: keep the message and let the
        # delivery budget decide, rather than answer a user "failed" for something new.
        return Verdict(Action.DEFER, code or f"HTTP{status}", message)
    if isinstance(exc, ParamValidationError):
        return Verdict(Action.PERMANENT, "ParamValidationError", "request rejected before sending")
    never_left = (
        ConnectTimeoutError,
        EndpointConnectionError,
        ClientConnectorError,
        ConnectionRefusedError,
    )
    if isinstance(exc, never_left):
        # The connection never opened, so the request never left.
        return Verdict(Action.RETRY, CONNECTION_ERROR, type(exc).__name__)
    return unknown_verdict(exc)


def unknown_verdict(exc: BaseException) -> Verdict:
    """Anything else may have happened after the request was written: outcome unknown.

    botocore's ReadTimeoutError (a subclass of ConnectionError), a connection reset or closed
    mid-answer, an answer that could not be parsed, an error we did not foresee: in each, Cognito
    may have sent the code. Calling again could send a second one and void the first.
    """
    if isinstance(exc, ReadTimeoutError):
        message = "no answer within the read timeout"
        return Verdict(Action.UNKNOWN, READ_TIMEOUT, message, OUTCOME_UNKNOWN)
    message = f"no answer read ({type(exc).__name__})"
    return Verdict(Action.UNKNOWN, CONNECTION_LOST, message, OUTCOME_UNKNOWN)


class RetryNow(retry_base):
    """The retry-now rule for one request's Cognito call, usable as tenacity's predicate.

    Only ``RETRY`` verdicts: a read timeout or a lost connection is never retried, whoever holds
    the claim, since Cognito may already have sent the code.
    """

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        return exc is not None and self.allows(exc)

    def allows(self, exc: BaseException) -> bool:
        """Whether this failure may be retried now."""
        return classify(exc).action is Action.RETRY


BACKOFF_MULTIPLIER_SECONDS = 0.1


def first_backoff() -> float:
    """The wait before the first retry: full jitter under the first exponential step."""
    return random.uniform(0, BACKOFF_MULTIPLIER_SECONDS)


def cognito_retrying(
    *,
    rule: RetryNow,
    max_attempts: int,
    max_seconds: float,
    before_sleep: Callable[[RetryCallState], Awaitable[None] | None] | None = None,
) -> AsyncRetrying:
    """Exponential backoff with full jitter, bounded in attempts and in total time.

    Raises the last exception when the budget runs out (``reraise``), for ``classify`` to judge.
    The caller makes the first attempt itself and enters this only after a retryable failure:
    most calls succeed at once, and tenacity's machinery costs more CPU than the call's own
    Python code.
    """
    return AsyncRetrying(
        retry=rule,
        wait=wait_random_exponential(
            multiplier=BACKOFF_MULTIPLIER_SECONDS, max=max(0.2, max_seconds / 4)
        ),
        stop=stop_after_attempt(max_attempts) | stop_after_delay(max_seconds),
        before_sleep=before_sleep,
        reraise=True,
    )


def when_exhausted(verdict: Verdict) -> Verdict:
    """A retry-now error whose in-process budget ran out is deferred, not failed."""
    if verdict.action is Action.RETRY:
        return Verdict(Action.DEFER, verdict.code, verdict.message, RETRIES_EXHAUSTED)
    return verdict


def defer_delay(verdict: Verdict, receive_count: int, cap: int = SQS_MAX_VISIBILITY_SECONDS) -> int:
    """Seconds to keep a deferred message invisible; grows with deliveries, capped by ``cap``."""
    step = max(0, receive_count - 1)
    if verdict.reason == PER_USER_LIMIT:
        delay = PER_USER_LIMIT_SECONDS
    elif verdict.reason == DAILY_EMAIL_LIMIT:
        delay = DAILY_EMAIL_LIMIT_SECONDS * 2**step
    else:
        delay = min(DEFER_CAP_SECONDS, DEFER_BASE_SECONDS * 2**step)
        delay = int(delay * random.uniform(0.8, 1.0))
    return int(min(delay, cap, SQS_MAX_VISIBILITY_SECONDS))


def budget_spent(
    *, receive_count: int, age_seconds: float, delay: int, max_attempts: int, max_age: int
) -> bool:
    """True when deferring again would exceed the message's delivery or age budget."""
    return receive_count >= max_attempts or age_seconds + delay > max_age


PLUMBING_ATTEMPTS = 3


async def with_plumbing_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Our own plumbing (SNS publish, SQS delete) retries a few times on top of botocore's.

    Only errors that may pass are retried; a per-entry failure with a sender fault is final.
    A plain loop rather than tenacity: it runs twice for every message.
    """
    for attempt in range(1, PLUMBING_ATTEMPTS):
        try:
            return await call()
        except Exception as exc:
            if getattr(exc, "sender_fault", False):
                raise
        await asyncio.sleep(random.uniform(0, BACKOFF_MULTIPLIER_SECONDS * 2**attempt))
    return await call()
