"""What to do with a message once the policy has judged it, one name per course of action.

``Processor.process`` returns one of these and the consumer carries it out; neither the policy
nor the consumer has to read a combination of flags to know what happens to the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from resend_contract.models import ErrorInfo, Result

from worker.claims import Proceed


@dataclass(frozen=True, slots=True)
class Answer:
    """Publish the result, then delete the message.

    ``claim`` is the dedupe claim behind a ``sent`` or ``unknown`` result: its record is noted
    as published once the result is out, so a redelivery is deleted, not answered again.
    """

    result: Result
    claim: Proceed | None = None


@dataclass(frozen=True, slots=True)
class AnswerAndDeadLetter:
    """An invalid body: publish the result, copy the body to our dead-letter queue, delete it."""

    result: Result
    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class AnswerAndLeave:
    """Publish the result and leave the message to the queue's redrive policy.

    For an invalid body on its first delivery when the worker has no dead-letter queue of its
    own: the body is never lost, and it is answered once.
    """

    result: Result


@dataclass(frozen=True, slots=True)
class Leave:
    """An invalid body seen again: already answered, still left to the redrive policy."""

    result: Result


@dataclass(frozen=True, slots=True)
class DeleteOnly:
    """A redelivery whose stored result already went out (only the delete was lost)."""

    result: Result


@dataclass(frozen=True, slots=True)
class DeadLetterAndDelete:
    """A redelivery whose result went out but whose dead-letter copy failed: copy, then delete.

    Publishing again would answer the request twice; deleting without the copy would lose the
    body.
    """

    result: Result
    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class Defer:
    """Hand the message back to SQS for ``delay`` seconds; publish nothing yet."""

    delay: int
    reason: str
    error_code: str | None = None


# The dispositions that publish a result, and all that settle a message for good, each with
# the result it reports.
Publishing = Answer | AnswerAndDeadLetter | AnswerAndLeave
Settled = Publishing | Leave | DeleteOnly | DeadLetterAndDelete
Disposition = Settled | Defer
