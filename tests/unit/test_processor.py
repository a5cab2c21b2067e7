"""One message's path with the dedupe protocol, Cognito replaced by a recording fake."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from resend_contract.models import Outcome

from worker.claims import Claims
from worker.client_secrets import ClientSecrets
from worker.cognito import BeforeSend, NotSent, Sent
from worker.dedupe.memory import MemoryDedupeStore
from worker.delivery import Delivery
from worker.dispositions import (
    Answer,
    AnswerAndDeadLetter,
    AnswerAndLeave,
    Defer,
    DeleteOnly,
    Leave,
)
from worker.processor import Processor
from worker.retry import Action, Verdict
from worker.secret_hash import secret_hash
from worker.settings import Settings
from worker.users import UserDirectory, using

DETAILS = {"Destination": "j***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}


class FakeCaller:
    def __init__(self, answer: Sent | NotSent | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer = answer or Sent(DETAILS, 1)

    async def resend(
        self, params: dict[str, Any], *, before_send: BeforeSend | None = None
    ) -> Sent | NotSent:
        if before_send is not None:
            await before_send()
        self.calls.append(params)
        return self.answer


async def make(caller: FakeCaller, **settings: Any) -> Processor:
    fixed = {"client1": SecretStr("s3cr3t")}

    async def load() -> dict[str, SecretStr]:
        return fixed

    secrets = ClientSecrets(load, source="test", refresh_seconds=0)
    await secrets.load()
    config = Settings(
        queue_url="http://q", result_topic_arn="arn:aws:sns:us-east-1:123456789012:t", **settings
    )
    claims = Claims(
        MemoryDedupeStore(1000),
        window_seconds=60,
        lease_seconds=5,
        fail_open=False,
    )
    return Processor(config, secrets, caller, claims)  # type: ignore[arg-type]


def delivery(message_id: str, username: str = "jane", receive_count: int = 1) -> Delivery:
    body = json.dumps({"ClientId": "client1", "Username": username, "RequestId": f"r-{message_id}"})
    return Delivery(message_id, f"rh-{message_id}", body, receive_count, time.time())


@pytest.fixture
def case_insensitive() -> Iterator[None]:
    """ClientIds not in RESEND_USER_POOLS compared case-insensitively."""
    with using(UserDirectory(default_case_sensitive=False)):
        yield


@pytest.mark.usefixtures("case_insensitive")
async def test_sent_then_duplicate_then_redelivery() -> None:
    caller = FakeCaller()
    processor = await make(caller)
    first = await processor.process(delivery("m1"))
    assert isinstance(first, Answer) and first.result.Outcome is Outcome.SENT
    assert caller.calls[0]["SecretHash"] == secret_hash("s3cr3t", "jane", "client1")

    duplicate = await processor.process(delivery("m2", username="JANE"))
    assert isinstance(duplicate, Answer) and duplicate.result.Outcome is Outcome.DUPLICATE
    assert duplicate.result.Username == "JANE" and duplicate.result.RequestId == "r-m2"
    assert duplicate.result.Original is not None and duplicate.result.Original.MessageId == "m1"
    assert duplicate.result.CodeDeliveryDetails == DETAILS

    # The publish of m1 was lost: its redelivery republishes the stored result.
    again = await processor.process(delivery("m1", receive_count=2))
    assert isinstance(again, Answer)
    assert again.result.Outcome is Outcome.SENT and again.result.Username == "jane"
    # Once published, a redelivery (the delete was lost) is deleted without a second result.
    await processor.published(first)
    last = await processor.process(delivery("m1", receive_count=3))
    assert isinstance(last, DeleteOnly)
    assert len(caller.calls) == 1


async def test_permanent_failure_releases_the_claim() -> None:
    verdict = Verdict(Action.PERMANENT, "UserNotFoundException", "not found")
    caller = FakeCaller(NotSent(verdict, 1))
    processor = await make(caller)
    first = await processor.process(delivery("m1"))
    assert isinstance(first, Answer) and first.result.Outcome is Outcome.FAILED
    second = await processor.process(delivery("m2"))
    assert isinstance(second, Answer) and second.result.Outcome is Outcome.FAILED
    assert len(caller.calls) == 2


async def test_deferral_within_budget_then_failed_when_spent() -> None:
    verdict = Verdict(Action.DEFER, "CodeDeliveryFailureException", "x")
    processor = await make(FakeCaller(NotSent(verdict, 1)), max_attempts=3)
    early = await processor.process(delivery("m1", receive_count=1))
    assert isinstance(early, Defer) and early.reason == "CodeDeliveryFailureException"
    late = await processor.process(delivery("m1", receive_count=3))
    assert isinstance(late, Answer) and late.result.Outcome is Outcome.FAILED
    assert late.result.Error is not None
    assert late.result.Error.Code == "CodeDeliveryFailureException"


def invalid(message_id: str, receive_count: int = 1) -> Delivery:
    return Delivery(message_id, f"rh-{message_id}", "not json", receive_count, time.time())


async def test_an_invalid_body_is_answered_and_copied_to_our_dead_letter_queue() -> None:
    processor = await make(FakeCaller(), dead_letter_queue_url="http://dlq")
    disposition = await processor.process(invalid("m1"))
    assert isinstance(disposition, AnswerAndDeadLetter)
    assert disposition.result.Outcome is Outcome.INVALID
    assert disposition.error == disposition.result.Error


async def test_without_a_dead_letter_queue_an_invalid_body_is_answered_once_and_left() -> None:
    processor = await make(FakeCaller())
    first = await processor.process(invalid("m1"))
    assert isinstance(first, AnswerAndLeave) and first.result.Outcome is Outcome.INVALID
    again = await processor.process(invalid("m1", receive_count=2))
    assert isinstance(again, Leave) and again.result.Outcome is Outcome.INVALID
