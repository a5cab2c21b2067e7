"""The message type shared by the SQS adapter, the consumer loop and the policy.

It lives apart from both sides so the adapter (``worker.queue``) sits beneath the policy
(``worker.processor``) instead of importing it: the policy reads these fields and never learns
how SQS spells them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Delivery:
    """One received SQS message, with the system attributes the worker relies on."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at: float | None
    group_id: str | None = None
    trace: dict[str, str] = field(default_factory=dict)

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.sent_at) if self.sent_at else 0.0
