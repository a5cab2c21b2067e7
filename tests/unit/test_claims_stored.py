"""What the claims write to the store: one serialisation per result, the same JSON as before."""

from __future__ import annotations

import json
from typing import Any

import pytest
from resend_contract.models import Outcome, ResendRequest, Result

from worker import claims as claims_module
from worker.claims import PUBLISHED, Answered, Claims, Proceed
from worker.dedupe import result_json
from worker.dedupe.memory import MemoryDedupeStore

REQUEST = ResendRequest(ClientId="client1", Username="jane@example.com")


def sent(destination: str = "j***@e***.com") -> Result:
    return Result(
        Outcome=Outcome.SENT,
        RequestId="0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        MessageId="00000005-0000-4000-8000-000000000000",
        ClientId="client1",
        Username="jane@example.com",
        CodeDeliveryDetails={
            "Destination": destination,
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        },
    )


@pytest.mark.parametrize("destination", ["j***@e***.com", "ü***@ß***.de\u2028\x1f", "\ud800"])
def test_the_stored_json_is_the_dumped_dict_serialised(destination: str) -> None:
    result = sent(destination)
    document = result.model_dump(mode="json", exclude={"Username"})
    stored = claims_module._stored(result)
    assert stored == result_json(document)
    assert "jane" not in stored
    assert claims_module._published(stored) == result_json({**document, PUBLISHED: True})


async def test_a_sent_result_is_serialised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    serialised: list[str | None] = []
    original = Result.model_dump_json

    def counting(self: Result, **kwargs: Any) -> str:
        serialised.append(self.MessageId)
        return original(self, **kwargs)

    def dumping(self: Result, **kwargs: Any) -> dict[str, Any]:
        serialised.append("model_dump")
        return dumped(self, **kwargs)

    dumped = Result.model_dump
    monkeypatch.setattr(Result, "model_dump_json", counting)
    monkeypatch.setattr(Result, "model_dump", dumping)
    store = MemoryDedupeStore(100)
    subject = Claims(store, window_seconds=60, lease_seconds=5, fail_open=False)
    claim = await subject.claim(REQUEST, "m1", "r1")
    assert isinstance(claim, Proceed)
    result = sent()

    await subject.finish(claim, result)
    await subject.mark_published(claim, result)

    assert serialised == [result.MessageId]
    assert claim.key is not None
    record = await store.get(claim.key)
    assert record is not None and record.result is not None
    assert record.result == {**json.loads(claims_module._stored(result)), PUBLISHED: True}
    # This replica's memory answers a duplicate with the same stored result.
    monkeypatch.undo()
    again = await subject.claim(REQUEST, "m2", "r2")
    assert isinstance(again, Answered) and again.result.Outcome is Outcome.DUPLICATE
    assert again.result.CodeDeliveryDetails == result.CodeDeliveryDetails
