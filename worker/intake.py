"""What the worker takes from a message besides its body: the trace attributes, bounded.

Trace attributes travel onto the result and into every log line about the message, so a
producer's bug here costs others: a 1 MiB ``traceparent`` once blocked the event loop in the log
scrubber and made a result too large for SNS, failing a whole PublishBatch of other producers'
results. Only well-formed, short values pass; anything else is dropped and counted, never copied
to the result and never logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from resend_contract.bounds import (
    MAX_AWS_TRACE_HEADER_CHARS,
    MAX_TRACESTATE_CHARS,
    TRACEPARENT_CHARS,
)

from worker import metrics

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
AWS_TRACE_HEADER = "AWSTraceHeader"
OTHER = "other"
DROPPED_ATTRIBUTES = (TRACEPARENT, TRACESTATE, AWS_TRACE_HEADER, OTHER)

# W3C Trace Context: version-traceid-parentid-flags, lowercase hex; version ff is invalid.
_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE_ID = "0" * 32
_ZERO_PARENT_ID = "0" * 16
# tracestate: printable ASCII list members; AWSTraceHeader: Root=...;Parent=...;Sampled=...
_TRACESTATE = re.compile(r"[\x20-\x7e]*")
_AWS_TRACE_HEADER = re.compile(r"[A-Za-z0-9=;:._-]+")


def traceparent_ok(value: str) -> bool:
    # The length is checked first: the pattern then runs on 55 characters at most.
    return (
        len(value) == TRACEPARENT_CHARS
        and _TRACEPARENT.fullmatch(value) is not None
        and value[3:35] != _ZERO_TRACE_ID
        and value[36:52] != _ZERO_PARENT_ID
    )


def tracestate_ok(value: str) -> bool:
    return len(value) <= MAX_TRACESTATE_CHARS and _TRACESTATE.fullmatch(value) is not None


def aws_trace_header_ok(value: str) -> bool:
    return (
        len(value) <= MAX_AWS_TRACE_HEADER_CHARS and _AWS_TRACE_HEADER.fullmatch(value) is not None
    )


_CHECKS = {TRACEPARENT: traceparent_ok, TRACESTATE: tracestate_ok}


def trace_attributes(message: Mapping[str, Any]) -> dict[str, str]:
    """The trace attributes of one SQS message that may travel on with its result."""
    trace: dict[str, str] = {}
    attributes = message.get("MessageAttributes")
    if isinstance(attributes, Mapping):
        for name, attribute in attributes.items():
            check = _CHECKS.get(name)
            if check is None:
                metrics.message_attributes_dropped.labels(OTHER).inc()
                continue
            value = attribute.get("StringValue") if isinstance(attribute, Mapping) else None
            if isinstance(value, str) and check(value):
                trace[name] = value
            else:
                metrics.message_attributes_dropped.labels(name).inc()
    system = message.get("Attributes")
    header = system.get(AWS_TRACE_HEADER) if isinstance(system, Mapping) else None
    if header is not None:
        if isinstance(header, str) and aws_trace_header_ok(header):
            trace[AWS_TRACE_HEADER] = header
        else:
            metrics.message_attributes_dropped.labels(AWS_TRACE_HEADER).inc()
    return trace
