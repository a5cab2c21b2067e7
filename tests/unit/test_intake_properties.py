"""Property: whatever a producer sends, the intake answers with a request or one bounded result.

Arbitrary JSON (huge integers, lone surrogates, deep nesting, long names, wrong types, SNS
envelopes around any of these) and arbitrary text: ``parse_body`` returns a valid request or
raises ``InvalidRequest``, and the ``invalid`` result built from it fits SNS's limits, echoes no
member name the producer chose, and its body's dead-letter copy fits the queue.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resend_contract.models import InvalidRequest, ResendRequest, parse_body

from worker.dead_letters import copy_attributes
from worker.delivery import Delivery
from worker.dispositions import AnswerAndDeadLetter
from worker.processor import Processor
from worker.results import MAX_RESULT_BYTES, ResultPublisher, entry_bytes

from .test_processor import FakeCaller, make

SNS_MAX_BYTES = 256 * 1024
KNOWN = set(ResendRequest.model_fields) | {"IpAddress", "EncodedData", "AnalyticsEndpointId"}
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every code point, lone surrogates included, as a careless producer's JSON encoder may emit.
any_text = st.text(st.characters(codec=None), max_size=40)
# Huge integers travel as a placeholder that ``dumps`` writes out as digits: Python itself
# refuses to convert an int of more than 4,300 digits to text.
BIG = "__big_number_{}__"
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=41, max_value=6000).map(BIG.format),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(any_text, children, max_size=5),
    ),
    max_leaves=25,
)
member_names = st.one_of(st.sampled_from(sorted(KNOWN)), any_text, st.text(min_size=129))
requestish = st.dictionaries(member_names, json_values, max_size=8)


def dumps(document: Any) -> str:
    text = json.dumps(document)
    for digits in set(re.findall(r'"__big_number_(\d+)__"', text)):
        text = text.replace(f'"{BIG.format(digits)}"', "7" * int(digits))
    return text


def envelope(inner: str) -> dict[str, Any]:
    return {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": inner}


documents = st.one_of(
    json_values,
    requestish,
    requestish.map(lambda d: {"ClientId": "abc", "Username": "jane", **d}),
    requestish.map(lambda d: envelope(dumps(d))),
    any_text.map(envelope),
    st.integers(1, 60).map(lambda depth: "[" * depth + "]" * depth),
)


@pytest.fixture(scope="module")
def processor() -> Processor:
    return asyncio.run(make(FakeCaller(), dead_letter_queue_url="http://dlq"))


def producer_names(document: Any) -> set[str]:
    """Member names the producer chose (not ours), long enough to tell apart from our words."""
    names: set[str] = set()
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            names.update(k for k in value if isinstance(k, str) and len(k) >= 12 and k not in KNOWN)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return names


def check_one_outcome(processor: Processor, body: str, names: set[str]) -> None:
    started = time.perf_counter()
    try:
        request = parse_body(body)
    except InvalidRequest as exc:
        delivery = Delivery("0f8a3a2c-6b2f-4e7c-9a51-3c2f1e0b9d77", "rh", body, 1, time.time())
        disposition = processor._invalid(delivery, exc)
        assert isinstance(disposition, AnswerAndDeadLetter)
        no_sns: Any = None
        entry = ResultPublisher(no_sns, "arn:aws:sns:us-east-1:123456789012:t")._entry(
            disposition.result, {}
        )
        assert entry_bytes(entry) <= MAX_RESULT_BYTES < SNS_MAX_BYTES
        error_message = json.loads(entry["Message"])["Error"]["Message"]
        for name in names:
            assert name not in error_message
        assert copy_attributes(body, delivery.message_id, disposition.error, 262_144)
    else:
        assert isinstance(request, ResendRequest)
        json.dumps(request.cognito_params(None)).encode("utf-8")
    # Generous: the machine is shared; a stall (not a slow CPU) is what this catches.
    assert time.perf_counter() - started < 2.0


@PROPERTY
@given(documents)
def test_any_json_is_a_request_or_one_bounded_invalid_result(
    processor: Processor, document: Any
) -> None:
    body = document if isinstance(document, str) else dumps(document)
    check_one_outcome(processor, body, producer_names(document))


@PROPERTY
@given(st.text(st.characters(codec=None), max_size=300))
def test_any_text_is_a_request_or_one_bounded_invalid_result(
    processor: Processor, body: str
) -> None:
    check_one_outcome(processor, body, set())
