"""A request sent again under its RequestId as a new message gets an answer, never silence."""

from __future__ import annotations

import json
import time

from resend_contract.models import Outcome

from worker.delivery import Delivery
from worker.dispositions import Answer, DeleteOnly

from .test_processor import FakeCaller, make


def request(message_id: str, request_id: str) -> Delivery:
    body = json.dumps({"ClientId": "client1", "Username": "jane", "RequestId": request_id})
    return Delivery(message_id, f"rh-{message_id}", body, 1, time.time())


async def test_a_reused_request_id_gets_the_first_outcome_again() -> None:
    caller = FakeCaller()
    processor = await make(caller)
    first = await processor.process(request("m1", "signup-1"))
    assert isinstance(first, Answer) and first.result.Outcome is Outcome.SENT
    await processor.published(first)

    again = await processor.process(request("m2", "signup-1"))
    assert isinstance(again, Answer), again
    assert again.result.Outcome is Outcome.SENT
    assert again.result.RequestId == "signup-1" and again.result.MessageId == "m2"
    assert again.result.Username == "jane"
    assert again.result.Original is not None
    assert again.result.Original.MessageId == "m1"
    assert again.result.Original.Outcome is Outcome.SENT
    assert again.result.CodeDeliveryDetails == first.result.CodeDeliveryDetails
    assert len(caller.calls) == 1


async def test_the_first_message_redelivered_still_gets_no_second_result() -> None:
    processor = await make(FakeCaller())
    first = await processor.process(request("m1", "signup-2"))
    assert isinstance(first, Answer)
    await processor.published(first)
    redelivered = await processor.process(request("m1", "signup-2"))
    assert isinstance(redelivered, DeleteOnly), redelivered
