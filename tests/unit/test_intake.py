"""Trace attributes at intake: only well-formed, short values travel on; the rest are counted."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from resend_contract.models import ErrorInfo, Outcome, Result

from worker import metrics
from worker.intake import trace_attributes
from worker.queue import parse_message
from worker.results import MAX_RESULT_BYTES, ResultPublisher, entry_bytes, user_group_id

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
AWS_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


# The publisher's client is never called here: only its entries are built.
NO_SNS: Any = None


def message(attributes: dict[str, Any], system: dict[str, str] | None = None) -> Any:
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "h",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "1", **(system or {})},
        "MessageAttributes": attributes,
    }


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def dropped(attribute: str) -> float:
    return float(metrics.message_attributes_dropped.labels(attribute)._value.get())


def test_well_formed_trace_attributes_pass() -> None:
    trace = trace_attributes(
        message(
            {"traceparent": string(TRACEPARENT), "tracestate": string("congo=t61rcWkgMzE")},
            {"AWSTraceHeader": AWS_HEADER},
        )
    )
    assert trace == {
        "traceparent": TRACEPARENT,
        "tracestate": "congo=t61rcWkgMzE",
        "AWSTraceHeader": AWS_HEADER,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("traceparent", "a" * 64_000 + "+"),
        ("traceparent", "a" * (1024 * 1024 - 200)),
        ("traceparent", TRACEPARENT.upper()),
        ("traceparent", "ff" + TRACEPARENT[2:]),
        ("traceparent", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"),
        ("traceparent", TRACEPARENT + "\n"),
        ("tracestate", "k=v," * 200),
        ("tracestate", "k=\x00v"),
    ],
)
def test_malformed_or_long_trace_attributes_are_dropped_and_counted(name: str, value: str) -> None:
    before = dropped(name)
    started = time.perf_counter()
    trace = trace_attributes(message({name: string(value)}))
    assert time.perf_counter() - started < 0.05
    assert trace == {}
    assert dropped(name) == before + 1


def test_other_attributes_and_bad_aws_header_are_dropped() -> None:
    before_other, before_aws = dropped("other"), dropped("AWSTraceHeader")
    trace = trace_attributes(
        message(
            {"jane@example.com": string("x"), "traceparent": {"DataType": "Binary"}},
            {"AWSTraceHeader": "Root=" + "1" * 300},
        )
    )
    assert trace == {}
    assert dropped("other") == before_other + 1
    assert dropped("AWSTraceHeader") == before_aws + 1


def test_delivery_keeps_only_the_checked_trace() -> None:
    delivery = parse_message(
        message({"traceparent": string("a" * 200_000 + "+"), "tracestate": string("a=b")})
    )
    assert delivery.trace == {"tracestate": "a=b"}


def test_every_result_entry_fits_whatever_the_error_says() -> None:
    publisher = ResultPublisher(sns=NO_SNS, topic_arn="arn:aws:sns:us-east-1:123456789012:t")
    result = Result(
        Outcome=Outcome.FAILED,
        RequestId="r" * 128,
        MessageId="m-1",
        ClientId="c" * 128,
        Username="ü" * 128,
        CodeDeliveryDetails={f"k{i}": "v" * 1000 for i in range(40)},
        Error=ErrorInfo(Code="UserLambdaValidationException", Message="x" * 500_000),
    )
    entry = publisher._entry(result, {"tracestate": "a=b" * 100})
    assert entry_bytes(entry) <= MAX_RESULT_BYTES
    assert '"Outcome":"failed"' in entry["Message"]
    assert entry["MessageAttributes"]["error_code"]["StringValue"] == (
        "UserLambdaValidationException"
    )


def test_result_group_id_is_keyed() -> None:
    from worker.users import UserDirectory, using

    with using(UserDirectory(hash_key=b"k" * 32)):
        one = user_group_id("abc", "jane@example.com")
    with using(UserDirectory(hash_key=b"z" * 32)):
        other = user_group_id("abc", "jane@example.com")
    plain = hashlib.sha256(b"abc\njane@example.com").hexdigest()
    assert one != other and plain not in (one, other)
    assert "jane" not in one
