"""The queue's redrive policy against the worker's own delivery budget.

SQS moves a message to its dead-letter queue on the receive after ``maxReceiveCount``, whatever
the worker meant to do with it: a request still being deferred would reach the dead-letter queue
with no result at all. The worker reads the policy at start (and again from time to time, since
operators change it), refuses to start when the policy cannot fit ``RESEND_MAX_ATTEMPTS``, and
answers ``failed`` on the last receive SQS allows instead of deferring once more.

No I/O here: the caller reads the queue's attributes and hands them over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


class RedriveMismatch(Exception):
    """The redrive policy would dead-letter requests before the worker answers them."""


def max_receive_count(attributes: Mapping[str, str]) -> int | None:
    """The policy's maxReceiveCount, or None when the queue has no (readable) redrive policy."""
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return None
    try:
        value = int(json.loads(policy).get("maxReceiveCount", 0))
    except (ValueError, TypeError, AttributeError):
        return None
    return value if value > 0 else None


def check(max_receive: int | None, max_attempts: int) -> None:
    """Raise when a deferred request could be dead-lettered before its ``failed`` result.

    The worker answers on delivery ``max_attempts`` at the latest, so SQS must allow at least
    that many receives.
    """
    if max_receive is not None and max_receive < max_attempts:
        raise RedriveMismatch(
            f"the queue's redrive maxReceiveCount ({max_receive}) is below RESEND_MAX_ATTEMPTS "
            f"({max_attempts}): deferred requests would reach the dead-letter queue unanswered; "
            f"raise maxReceiveCount to at least {max_attempts} or lower RESEND_MAX_ATTEMPTS"
        )


class RedriveLimit:
    """The last maxReceiveCount read; None until read, or when the queue has no policy."""

    def __init__(self, max_receive: int | None = None) -> None:
        self.max_receive = max_receive

    def is_final_receive(self, receive_count: int) -> bool:
        """True on the last receive before SQS would move the message to its dead-letter queue."""
        return self.max_receive is not None and receive_count >= self.max_receive
