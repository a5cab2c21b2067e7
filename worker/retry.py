"""The retry policy: every decision about trying again lives in this module.

Every Cognito failure is first described by the project's one AWS error taxonomy
(``resend_contract.aws_errors``: its code, whether the request may have reached Cognito), then
judged by ``Error.Code`` (never by HTTP status: Cognito answers 400 for TooManyRequestsException)
into one of four actions:

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
The README carries this table; ``tests/unit/test_retry.py`` checks every row. ``with_retries``
is the one in-process retry loop, for the Cognito call and the plumbing calls alike.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from resend_contract.aws_errors import (
    CONNECT_ERROR,
    CONNECTION_LOST,
    HTTP_5XX,
    AwsFailure,
    Reached,
    describe,
)
from resend_contract.aws_errors import READ_TIMEOUT as READ_TIMEOUT
from resend_contract.backoff import full_jitter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)
from tenacity.stop import stop_base

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

# Error.Code of a connection that never opened, as the shared taxonomy names it.
CONNECTION_ERROR = CONNECT_ERROR

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
    return judge(describe(exc))


def judge(failure: AwsFailure) -> Verdict:
    """The action for a failure as the shared taxonomy describes it."""
    code, message = failure.code, failure.message
    if failure.code == HTTP_5XX:
        # A 5xx without an error code of Cognito's: the answer of a load balancer in front of
        # it. A 503 says the request was turned away before it was served, so nothing was sent.
        # Any other (a 502 or 504 of a gateway that gave up waiting, a bare 500) cannot rule
        # out that Cognito went on to process the request: calling again could send a second
        # code, so the outcome is unknown.
        if failure.status == 503:
            return Verdict(Action.RETRY, code, message)
        lost = f"HTTP {failure.status} without an error code: Cognito's answer did not arrive"
        return Verdict(Action.UNKNOWN, CONNECTION_LOST, lost, OUTCOME_UNKNOWN)
    if failure.reached is Reached.ANSWERED:
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
        # A code Cognito did not document when this was written: keep the message and let the
        # delivery budget decide, rather than answer a user "failed" for something new.
        return Verdict(Action.DEFER, code, message)
    if failure.reached is Reached.NO:
        if failure.retriable:
            # The connection never opened, so the request never left.
            return Verdict(Action.RETRY, code, message)
        if code in PERMANENT:
            return Verdict(Action.PERMANENT, code, message)
        # Nothing left, and only a change of configuration will help: the budget decides.
        return Verdict(Action.DEFER, code, message)
    return _unknown(failure)


def _unknown(failure: AwsFailure) -> Verdict:
    """The request may have been written and its answer never read: outcome unknown.

    A read timeout, a connection reset or closed mid-answer, an answer that could not be
    parsed, an error we did not foresee: in each, Cognito may have sent the code. Calling again
    could send a second one and void the first. Results name only the two documented causes.
    """
    if failure.code in (READ_TIMEOUT, CONNECTION_LOST):
        return Verdict(Action.UNKNOWN, failure.code, failure.message, OUTCOME_UNKNOWN)
    message = f"no answer read ({failure.code})"
    return Verdict(Action.UNKNOWN, CONNECTION_LOST, message, OUTCOME_UNKNOWN)


def may_retry_now(exc: BaseException) -> bool:
    """Whether a failed Cognito call may be made again at once.

    Only ``RETRY`` verdicts: a read timeout or a lost connection is never retried, whoever holds
    the claim, since Cognito may already have sent the code.
    """
    return classify(exc).action is Action.RETRY


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


# Full-jitter backoff between in-process attempts: the first retry waits up to the base, each
# later one up to twice the one before, never above the cap.
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 1.0
PLUMBING_ATTEMPTS = 3
PLUMBING_BACKOFF_BASE_SECONDS = 0.2


async def with_retries(
    call: Callable[[], Awaitable[T]],
    may_retry: Callable[[BaseException], bool],
    *,
    max_attempts: int,
    max_seconds: float | None = None,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Make ``call``, and again while ``may_retry`` allows, within attempts and seconds.

    The first attempt runs outside tenacity: most calls succeed at once, and tenacity's
    machinery costs more CPU than a call's own Python code. Only after a failure that may be
    retried does tenacity take over, bounded by ``max_attempts`` in all and ``max_seconds``
    (from the first retry; None for no time bound), waiting a full-jitter backoff before each
    retry. ``on_retry`` hears of each failure that is retried. When the budget runs out, the
    last exception is raised for the caller to judge.
    """
    try:
        return await call()
    except Exception as exc:
        if max_attempts <= 1 or not may_retry(exc):
            raise
        if on_retry is not None:
            on_retry(exc)
    await asyncio.sleep(full_jitter(0, base, cap))
    stop: stop_base = stop_after_attempt(max_attempts - 1)
    if max_seconds is not None:
        stop = stop | stop_after_delay(max_seconds)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and exc is not None:
            on_retry(exc)

    retrying = AsyncRetrying(
        retry=retry_if_exception(may_retry),
        # Tenacity's first attempt is the call's second: its retries continue the sequence.
        wait=lambda state: full_jitter(state.attempt_number, base, cap),
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )

    async def attempt() -> T:
        # Tenacity awaits only what a coroutine function returns; ``call`` may be a plain
        # function returning an awaitable (a lambda around a client call), whose awaitable it
        # would hand back unawaited, as if the retry had succeeded.
        return await call()

    return await retrying(attempt)


def may_retry_plumbing(exc: BaseException) -> bool:
    """Whatever may pass, even after a read timeout: unlike the Cognito call, these repeat safely.

    Deletes and visibility changes are idempotent; a result published twice is the same result
    under the same RequestId (a FIFO topic's deduplication id drops the repeat), while a second
    Cognito call would send a second code.
    """
    return describe(exc).retriable


async def with_plumbing_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Our own plumbing (SNS publish, SQS delete) retries a few times on top of botocore's.

    Only errors that may pass are retried; a per-entry failure with a sender fault is final.
    """
    return await with_retries(
        call,
        may_retry_plumbing,
        max_attempts=PLUMBING_ATTEMPTS,
        base=PLUMBING_BACKOFF_BASE_SECONDS,
    )
