"""The Cognito caller's retries: the first attempt, then tenacity, under one rule and budget."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from worker.cognito import CallNotStarted, CognitoCaller, NotSent, Sent
from worker.rate_limit.local import LocalRateLimiter
from worker.retry import Action
from worker.settings import Settings


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "ResendConfirmationCode")


class FakeCognito:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    async def resend_confirmation_code(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"CodeDeliveryDetails": {"Destination": "j***@e***", "DeliveryMedium": "EMAIL"}}


def caller(client: FakeCognito, attempts: int = 4) -> CognitoCaller:
    settings = Settings(
        queue_url="http://q",
        result_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        retry_max_attempts=attempts,
        retry_max_seconds=5,
    )
    return CognitoCaller(client, LocalRateLimiter(10_000), settings)  # type: ignore[arg-type]


async def test_success_at_once() -> None:
    client = FakeCognito([])
    result = await caller(client).resend({"ClientId": "c", "Username": "u"})
    assert isinstance(result, Sent) and result.calls == 1 and client.calls == 1


async def test_transient_errors_are_retried_until_success() -> None:
    client = FakeCognito([error("TooManyRequestsException"), error("InternalErrorException")])
    result = await caller(client).resend({})
    assert isinstance(result, Sent) and result.calls == 3


async def test_budget_spent_becomes_a_deferral() -> None:
    client = FakeCognito([error("InternalErrorException") for _ in range(10)])
    result = await caller(client, attempts=3).resend({})
    assert isinstance(result, NotSent) and result.calls == 3 and client.calls == 3
    assert result.verdict.action is Action.DEFER
    assert result.verdict.reason == "retries_exhausted"


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="http://x"),
        ConnectionClosedError(endpoint_url="http://x"),
        ConnectionResetError(),
        ValueError("unparseable answer"),
    ],
    ids=["read-timeout", "connection-closed", "reset", "unexpected"],
)
async def test_a_request_that_may_have_been_delivered_is_never_retried(
    exc: BaseException,
) -> None:
    client = FakeCognito([exc, exc, exc])
    result = await caller(client).resend({})
    assert isinstance(result, NotSent) and client.calls == 1
    assert result.verdict.action is Action.UNKNOWN


async def test_connect_failures_are_retried() -> None:
    client = FakeCognito([EndpointConnectionError(endpoint_url="http://x")])
    result = await caller(client).resend({})
    assert not isinstance(result, NotSent) and client.calls == 2


async def test_before_send_runs_once_after_the_token_and_can_stop_the_call() -> None:
    marks: list[int] = []
    client = FakeCognito([error("TooManyRequestsException")])

    async def mark() -> None:
        marks.append(client.calls)

    result = await caller(client).resend({}, before_send=mark)
    assert not isinstance(result, NotSent) and client.calls == 2
    assert marks == [0], "marked once, before the first request"

    async def refuse() -> None:
        raise CallNotStarted("dedupe_unavailable")

    refused = FakeCognito([])
    with pytest.raises(CallNotStarted):
        await caller(refused).resend({}, before_send=refuse)
    assert refused.calls == 0


async def test_permanent_error_is_not_retried() -> None:
    client = FakeCognito([error("UserNotFoundException")])
    result = await caller(client).resend({})
    assert isinstance(result, NotSent) and client.calls == 1
    assert result.verdict.action is Action.PERMANENT
