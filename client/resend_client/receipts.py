"""What became of each request handed to the client: the records a producer keeps.

Kept apart from the sending code so that a caller (the CLI's receipts file, a producer's own log)
can hold and write these without pulling in the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class EnqueueReceipt:
    """What SQS said about one accepted request."""

    request_id: str
    message_id: str
    sequence_number: str | None = None  # FIFO queues only

    def document(self) -> dict[str, Any]:
        """The receipt as the CLI prints it and the receipts file stores it."""
        answer: dict[str, Any] = {"RequestId": self.request_id, "MessageId": self.message_id}
        if self.sequence_number is not None:
            answer["SequenceNumber"] = self.sequence_number
        return answer


@dataclass(frozen=True)
class BulkProblem:
    """A request of ``enqueue_many`` that was not sent; ``position`` counts from 0."""

    position: int
    request_id: str | None
    outcome: Literal["invalid", "failed"]
    reason: str


@dataclass(frozen=True)
class BulkOutcome:
    """Handed to ``on_outcome`` once per request, as soon as its fate is known."""

    position: int
    receipt: EnqueueReceipt | None = None
    problem: BulkProblem | None = None


# Why a bulk send stopped before the end of its input.
Stop = Literal["refused", "unreachable", "interrupted"]


@dataclass
class BulkReport:
    """Exact counts; ``problems`` keeps the first ``max_problems`` only, so memory stays flat.

    ``stopped`` says why the send ended early, if it did. After ``refused`` or ``unreachable``
    the rest of the input is counted as failed without calls; after ``interrupted`` it is not
    read at all, so ``total`` counts only what was read.
    """

    sent: int = 0
    invalid: int = 0
    failed: int = 0
    problems: list[BulkProblem] = field(default_factory=list)
    max_problems: int = 1000
    stopped: Stop | None = None
    stop_error: Exception | None = None  # the refusal or connection failure that stopped it

    @property
    def total(self) -> int:
        return self.sent + self.invalid + self.failed

    @property
    def all_sent(self) -> bool:
        return self.invalid == 0 and self.failed == 0 and self.stopped is None

    def add(self, outcome: BulkOutcome) -> None:
        if outcome.problem is None:
            self.sent += 1
            return
        if outcome.problem.outcome == "invalid":
            self.invalid += 1
        else:
            self.failed += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(outcome.problem)
