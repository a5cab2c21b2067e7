"""Every row of the classification table leads to its action; budgets and delays are bounded."""

import asyncio
import contextlib
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)
from resend_contract.aws_errors import EntryFailed, entry_failure

from worker import retry
from worker.retry import (
    ALREADY_CONFIRMED,
    CONNECTION_ERROR,
    DAILY_EMAIL_LIMIT,
    DEFER,
    PER_USER_LIMIT,
    PERMANENT,
    RETRIES_EXHAUSTED,
    RETRY_NOW,
    Action,
    budget_spent,
    classify,
    defer_delay,
    may_retry_now,
    when_exhausted,
    with_plumbing_retries,
    with_retries,
)
from worker.settings import SQS_MAX_VISIBILITY_SECONDS


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "ResendConfirmationCode")


TABLE = [
    ("TooManyRequestsException", "Too many requests", Action.RETRY, None),
    ("InternalErrorException", "Internal error", Action.RETRY, None),
    (
        "LimitExceededException",
        "Attempt limit exceeded, please try after some time.",
        Action.DEFER,
        PER_USER_LIMIT,
    ),
    (
        "LimitExceededException",
        "Exceeded daily email limit for the operation or the account.",
        Action.DEFER,
        DAILY_EMAIL_LIMIT,
    ),
    ("CodeDeliveryFailureException", "x", Action.DEFER, None),
    ("UnexpectedLambdaException", "x", Action.DEFER, None),
    ("ForbiddenException", "x", Action.DEFER, None),
    ("InvalidSmsRoleAccessPolicyException", "x", Action.DEFER, None),
    ("InvalidSmsRoleTrustRelationshipException", "x", Action.DEFER, None),
    ("InvalidEmailRoleAccessPolicyException", "x", Action.DEFER, None),
    ("NotAuthorizedException", "Unable to verify secret hash for client c", Action.PERMANENT, None),
    ("UserNotFoundException", "Username/client id combination not found.", Action.PERMANENT, None),
    (
        "InvalidParameterException",
        "User is already confirmed.",
        Action.PERMANENT,
        ALREADY_CONFIRMED,
    ),
    ("InvalidParameterException", "1 validation error detected", Action.PERMANENT, None),
    ("ResourceNotFoundException", "User pool client c does not exist.", Action.PERMANENT, None),
    ("OperationNotEnabledException", "x", Action.PERMANENT, None),
    ("UserLambdaValidationException", "x", Action.PERMANENT, None),
    ("InvalidLambdaResponseException", "x", Action.PERMANENT, None),
]


@pytest.mark.parametrize(("code", "message", "action", "reason"), TABLE)
def test_table(code: str, message: str, action: Action, reason: str | None) -> None:
    verdict = classify(client_error(code, message))
    assert (verdict.action, verdict.code, verdict.reason) == (action, code, reason)
    assert verdict.message == message


def test_table_covers_every_error_of_the_operation() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("cognito-idp")
    errors = {shape.name for shape in model.operation_model("ResendConfirmationCode").error_shapes}
    covered = RETRY_NOW | DEFER | PERMANENT
    assert errors <= covered, errors - covered
    assert {row[0] for row in TABLE} == errors


def test_never_by_http_status() -> None:
    # Cognito sends TooManyRequestsException as 400 and the classification must not care.
    assert classify(client_error("TooManyRequestsException", status=400)).action is Action.RETRY
    assert classify(client_error("UserNotFoundException", status=500)).action is Action.PERMANENT


def test_transport_errors_retry() -> None:
    assert classify(client_error("", status=503)).action is Action.RETRY
    assert classify(client_error("503", status=503)).action is Action.RETRY
    assert classify(ConnectTimeoutError(endpoint_url="http://x")).action is Action.RETRY
    assert classify(EndpointConnectionError(endpoint_url="http://x")).action is Action.RETRY
    read_timeout = classify(ReadTimeoutError(endpoint_url="http://x"))
    assert (read_timeout.action, read_timeout.code) == (Action.UNKNOWN, "ReadTimeout")
    assert classify(ParamValidationError(report="bad")).action is Action.PERMANENT


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_gateway_5xx_without_a_code_may_have_sent_the_code(status: int) -> None:
    # A gateway that gave up waiting says nothing of what Cognito did with the request.
    verdict = classify(client_error("", status=status))
    assert (verdict.action, verdict.code, verdict.reason) == (
        Action.UNKNOWN,
        "ConnectionLost",
        "outcome_unknown",
    )
    assert str(status) in verdict.message
    assert not may_retry_now(client_error(str(status), status=status))


def test_unknown_code_is_deferred_not_failed() -> None:
    verdict = classify(client_error("BrandNewException", "new"))
    assert (verdict.action, verdict.code) == (Action.DEFER, "BrandNewException")


def test_exhausted_retry_becomes_a_deferral() -> None:
    verdict = when_exhausted(classify(client_error("TooManyRequestsException")))
    assert (verdict.action, verdict.reason) == (Action.DEFER, RETRIES_EXHAUSTED)


def test_defer_delays_grow_and_are_capped() -> None:
    transient = classify(client_error("CodeDeliveryFailureException"))
    delays = [defer_delay(transient, n) for n in range(1, 12)]
    assert delays[0] <= 30 and delays[3] > delays[0]
    assert max(delays) <= 900
    per_user = classify(client_error("LimitExceededException", "Attempt limit exceeded"))
    assert defer_delay(per_user, 1) == 3600
    daily = classify(client_error("LimitExceededException", "Exceeded daily email limit"))
    assert defer_delay(daily, 30) == SQS_MAX_VISIBILITY_SECONDS


def test_budget() -> None:
    assert budget_spent(receive_count=8, age_seconds=0, delay=30, max_attempts=8, max_age=3600)
    assert not budget_spent(receive_count=7, age_seconds=0, delay=30, max_attempts=8, max_age=3600)
    assert budget_spent(receive_count=1, age_seconds=3590, delay=30, max_attempts=8, max_age=3600)


async def _run(errors: list[BaseException], *, read_timeout_ok: bool, attempts: int = 5) -> int:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)

    with contextlib.suppress(Exception):
        await with_retries(call, may_retry_now, max_attempts=attempts, max_seconds=2.0)
    return calls


async def test_in_process_retries_are_bounded_by_attempts() -> None:
    throttled: list[BaseException] = [client_error("TooManyRequestsException") for _ in range(10)]
    assert await _run(throttled, read_timeout_ok=True, attempts=3) == 3


async def test_permanent_and_deferred_errors_are_not_retried() -> None:
    assert await _run([client_error("UserNotFoundException")], read_timeout_ok=True) == 1
    assert await _run([client_error("LimitExceededException")], read_timeout_ok=True) == 1


async def test_read_timeout_never_retried() -> None:
    timeouts = [ReadTimeoutError(endpoint_url="http://x") for _ in range(3)]
    assert await _run(list(timeouts), read_timeout_ok=True) == 1
    assert await _run(list(timeouts), read_timeout_ok=False) == 1


async def test_the_first_attempt_runs_without_tenacity(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("tenacity entered on the hot path")

    monkeypatch.setattr(retry, "AsyncRetrying", forbidden)

    async def call() -> str:
        return "ok"

    assert await with_retries(call, may_retry_now, max_attempts=5) == "ok"
    with pytest.raises(ClientError):
        await _raise_once(client_error("UserNotFoundException"))


async def _raise_once(exc: BaseException) -> None:
    async def call() -> None:
        raise exc

    await with_retries(call, may_retry_now, max_attempts=5)


async def test_every_retry_waits_a_full_jitter_backoff_and_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[tuple[int, float, float]] = []

    def recorded(attempt: int, base: float, cap: float) -> float:
        waits.append((attempt, base, cap))
        return 0.0

    monkeypatch.setattr(retry, "full_jitter", recorded)
    errors = [client_error("TooManyRequestsException") for _ in range(3)]
    retried: list[BaseException] = []

    async def call() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    result = await with_retries(
        call, may_retry_now, max_attempts=5, base=0.1, cap=0.4, on_retry=retried.append
    )
    assert result == "ok"
    assert waits == [(0, 0.1, 0.4), (1, 0.1, 0.4), (2, 0.1, 0.4)]
    assert len(retried) == 3


async def test_retries_stop_at_the_time_bound() -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        raise client_error("TooManyRequestsException")

    with pytest.raises(ClientError):
        await with_retries(call, may_retry_now, max_attempts=100, max_seconds=0.3, cap=0.01)
    assert 2 <= calls <= 4


def entry(code: str, *, sender_fault: bool) -> EntryFailed:
    return EntryFailed(entry_failure({"Id": "0", "Code": code, "SenderFault": sender_fault}))


@pytest.mark.parametrize(
    ("exc", "calls"),
    [
        (entry("InternalError", sender_fault=False), 3),
        (entry("ReceiptHandleIsInvalid", sender_fault=True), 1),
        (ReadTimeoutError(endpoint_url="http://x"), 3),
        (client_error("InternalError", status=500), 3),
        (client_error("AccessDenied", status=403), 1),
    ],
    ids=["transient-entry", "sender-fault-entry", "read-timeout", "5xx", "access-denied"],
)
async def test_plumbing_retries_only_what_may_pass(exc: BaseException, calls: int) -> None:
    made = 0

    async def call() -> None:
        nonlocal made
        made += 1
        raise exc

    with pytest.raises(type(exc)):
        await with_plumbing_retries(call)
    assert made == calls


async def test_a_plain_function_returning_an_awaitable_is_awaited_on_every_attempt() -> None:
    # The plumbing passes lambdas around client calls, not coroutine functions.
    attempts: list[int] = []

    async def flaky(n: int) -> str:
        attempts.append(n)
        if len(attempts) < 3:
            raise client_error("InternalError", status=500)
        return "done"

    assert await with_plumbing_retries(lambda: flaky(len(attempts))) == "done"
    assert attempts == [0, 1, 2]

    attempts.clear()

    async def always_failing() -> None:
        attempts.append(0)
        raise client_error("InternalError", status=500)

    with pytest.raises(Exception, match="InternalError"):
        await with_plumbing_retries(lambda: always_failing())
    assert len(attempts) == 3


def test_connections_that_never_opened_retry_under_the_taxonomys_code() -> None:
    assert classify(ConnectTimeoutError(endpoint_url="http://x")).code == "ConnectTimeout"
    refused = classify(EndpointConnectionError(endpoint_url="http://secret-host"))
    assert (refused.code, refused.action) == (CONNECTION_ERROR, Action.RETRY)
    assert "secret-host" not in refused.message
    unexpected = classify(ValueError("jane@example.com"))
    assert (unexpected.action, unexpected.code) == (Action.UNKNOWN, "ConnectionLost")
    assert "jane" not in unexpected.message
