"""The compact forms the in-process stores hold: every text comes back exactly as it went in."""

from __future__ import annotations

import json

import pytest

from worker.dedupe import compact
from worker.dedupe.compact import key_digest, pack_text, unpack_text

SENT = {
    "Outcome": "sent",
    "RequestId": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    "MessageId": "00000005-0000-4000-8000-000000000000",
    "ClientId": "1example23456789abcdefghij",
    "CodeDeliveryDetails": {
        "Destination": "j***@e***.com",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    },
    "Error": None,
    "Attempts": 1,
    "ProcessedAt": "2026-12-02T14:07:04.277Z",
    "Original": None,
    "Published": True,
}


def as_stored(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@pytest.mark.parametrize(
    "text",
    [
        as_stored(SENT),
        as_stored({**SENT, "Destination": "ü***@ß***.de", "Attempts": 3, "n": "٣٤"}),
        as_stored({"RequestId": "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9", "x": "007", "y": 0}),
        as_stored({"glued": "ab0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9T12:00", "big": 10**40}),
        as_stored({"lone": "\ud800", "digits": "9" * 5000}),
        '{"raw":"\x00\x01"}',
        "{}",
        "",
    ],
)
def test_texts_come_back_exactly(text: str) -> None:
    assert unpack_text(pack_text(text)) == text


def test_a_sent_result_is_a_fraction_of_its_text() -> None:
    text = as_stored(SENT)
    packed = pack_text(text)
    assert len(packed) < 60 < len(text)
    # A second result of the same shape shares the skeleton: only its own values are kept.
    other = as_stored({**SENT, "MessageId": "ffffffff-0000-4000-8000-000000000000"})
    assert len(pack_text(other)) == len(packed)


def test_past_the_skeleton_table_results_are_kept_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compact, "MAX_SKELETONS", len(compact._skeletons))
    text = as_stored({**SENT, "CodeDeliveryDetails": {"Destination": "+*******0123"}, "new": 1})
    packed = pack_text(text)
    assert len(packed) > len(text.encode())
    assert unpack_text(packed) == text


def test_key_digests_are_fixed_size_and_tell_keys_apart() -> None:
    keys = [f"{n:064x}" for n in range(10_000)] + ["k", "K", "straße", "\ud800"]
    digests = {key_digest(key) for key in keys}
    assert len(digests) == len(keys)
    assert all(0 <= digest < 2**128 for digest in digests)
    assert key_digest("straße") == key_digest("straße")
