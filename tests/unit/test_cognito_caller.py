"""The Cognito caller's retries: the first attempt, then tenacity, under one rule and budget."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from worker.cognito import CognitoCaller, NotSent, Sent
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
    return CognitoCaller(client, LocalRateLimiter(10_000), settings)


async def test_success_at_once() -> None:
    client = FakeCognito([])
    result = await caller(client).resend({"ClientId": "c", "Username": "u"}, holds_claim=True)
    assert isinstance(result, Sent) and result.calls == 1 and client.calls == 1


async def test_transient_errors_are_retried_until_success() -> None:
    client = FakeCognito([error("TooManyRequestsException"), error("InternalErrorException")])
    result = await caller(client).resend({}, holds_claim=True)
    assert isinstance(result, Sent) and result.calls == 3


async def test_budget_spent_becomes_a_deferral() -> None:
    client = FakeCognito([error("InternalErrorException") for _ in range(10)])
    result = await caller(client, attempts=3).resend({}, holds_claim=True)
    assert isinstance(result, NotSent) and result.calls == 3 and client.calls == 3
    assert result.verdict.action is Action.DEFER
    assert result.verdict.reason == "retries_exhausted"


@pytest.mark.parametrize(("holds_claim", "calls"), [(True, 2), (False, 1)])
async def test_read_timeout_retried_once_and_only_under_a_claim(
    holds_claim: bool, calls: int
) -> None:
    timeouts: list[BaseException] = [ReadTimeoutError(endpoint_url="http://x") for _ in range(3)]
    client = FakeCognito(timeouts)
    result = await caller(client).resend({}, holds_claim=holds_claim)
    assert isinstance(result, NotSent) and client.calls == calls


async def test_permanent_error_is_not_retried() -> None:
    client = FakeCognito([error("UserNotFoundException")])
    result = await caller(client).resend({}, holds_claim=True)
    assert isinstance(result, NotSent) and client.calls == 1
    assert result.verdict.action is Action.PERMANENT
