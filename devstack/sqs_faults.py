"""SQS's bad days on demand: chosen operations on chosen queues answer errors for a while.

The worker's edge outages (DeleteMessage failing, the dead-letter queue refusing copies) must be
tested with the worker's real HTTP calls, so the refusal happens in the server: the admin
middleware asks ``refusal`` about each SQS request before moto sees it.

A rule is ``{"operations": [...], "queue": "<part of the queue URL>", "seconds": N}``: while it
lasts, every request for one of those operations (JSON or query protocol) whose QueueUrl contains
``queue`` gets HTTP 500 InternalError, as SQS answers when it is in trouble.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# The operations a rule may name; anything else is refused as a typo.
OPERATIONS = frozenset(
    {
        "DeleteMessage",
        "DeleteMessageBatch",
        "SendMessage",
        "SendMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "ReceiveMessage",
        "GetQueueAttributes",
    }
)
_TARGET_PREFIX = "AmazonSQS."


@dataclass(frozen=True)
class Rule:
    operations: frozenset[str]
    queue: str
    until: float  # monotonic

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "operations": sorted(self.operations),
            "queue": self.queue,
            "seconds_left": max(0.0, round(self.until - now, 3)),
        }


def _rule(data: Any, now: float) -> Rule:
    if not isinstance(data, Mapping):
        raise ValueError("each rule must be an object")
    unknown = sorted(set(data) - {"operations", "queue", "seconds"})
    if unknown:
        raise ValueError(f"unknown rule fields: {', '.join(unknown)}")
    operations = data.get("operations")
    if not isinstance(operations, list) or not operations:
        raise ValueError("operations must be a non-empty list")
    for operation in operations:
        if operation not in OPERATIONS:
            raise ValueError(f"operations: {operation!r} is not one the devstack can refuse")
    queue = data.get("queue", "")
    if not isinstance(queue, str):
        raise ValueError("queue must be a string (a part of the queue URL)")
    seconds = data.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    return Rule(frozenset(operations), queue, now + float(seconds))


class SqsFaults:
    """The rules in force and a count of the requests they refused, shared by moto's threads."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rules: list[Rule] = []
        self._refused: Counter[str] = Counter()

    @property
    def active(self) -> bool:
        # Read without the lock: a stale answer only costs one more look at the request.
        return bool(self._rules)

    def reset(self) -> None:
        with self._lock:
            self._rules = []
            self._refused.clear()

    def configure(self, rules: Any) -> dict[str, Any]:
        """Replace the rules (validated, all or none)."""
        if not isinstance(rules, list):
            raise ValueError("rules must be a list")
        now = self._clock()
        parsed = [_rule(rule, now) for rule in rules]
        with self._lock:
            self._rules = parsed
        return self.state()

    def state(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {
                "rules": [rule.to_json(now) for rule in self._rules if rule.until > now],
                "refused": dict(self._refused),
            }

    def refusal(self, operation: str, queue_url: str) -> bool:
        """True when this request is to be refused (and counts it)."""
        with self._lock:
            now = self._clock()
            self._rules = [rule for rule in self._rules if rule.until > now]
            for rule in self._rules:
                if operation in rule.operations and rule.queue in queue_url:
                    self._refused[operation] += 1
                    return True
            return False


def sqs_request(environ: Mapping[str, Any], body: bytes) -> tuple[str, str] | None:
    """(operation, QueueUrl) of an SQS request in either protocol, or None for anything else."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target.startswith(_TARGET_PREFIX):
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            return None
        queue_url = document.get("QueueUrl", "") if isinstance(document, dict) else ""
        return target.removeprefix(_TARGET_PREFIX), str(queue_url)
    if "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        action = form.get("Action", [""])[0]
        if action in OPERATIONS:
            return action, form.get("QueueUrl", [str(environ.get("PATH_INFO", ""))])[0]
    return None


def error_response(json_protocol: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    """HTTP 500 InternalError in the protocol the request used."""
    if json_protocol:
        body = json.dumps(
            {"__type": "com.amazonaws.sqs#InternalError", "message": "injected by the devstack"}
        ).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-query-error", "InternalError;Receiver"),
        ]
    else:
        body = (
            b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code>"
            b"<Message>injected by the devstack</Message></Error></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml")]
    headers.append(("Content-Length", str(len(body))))
    return "500 Internal Server Error", headers, body


faults = SqsFaults()
