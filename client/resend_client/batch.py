"""One SendMessageBatch call and its retries: the client's only retry loop.

Entries SQS fails on its own side (``SenderFault`` false, throttling, 5xx, dropped connections)
are retried with the project's shared full-jitter backoff. Connection failures get a shorter
budget than throttling: a refused or timed-out connection proves nothing was sent, and an
endpoint that refused a few times in a row will usually go on refusing, so the caller hears of
it within seconds (the AWS CLI takes five to nine) instead of after a long series of attempts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from resend_contract.aws_errors import entry_failure
from resend_contract.backoff import full_jitter

from resend_client.errors import AWS_CALL_ERRORS, EnqueueError, call_error, from_failure
from resend_client.receipts import EnqueueReceipt
from resend_client.request_entries import Entry

log = logging.getLogger("resend_client")

SQS_BATCH_MAX_ENTRIES = 10
SQS_BATCH_MAX_BYTES = 256 * 1024  # the sum of a SendMessageBatch call's bodies and attributes
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_CONNECT_ATTEMPTS = 3
CONNECT_DELAY_FACTOR = 5

Outcome = EnqueueReceipt | EnqueueError


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, retry: int, error: EnqueueError | None) -> float:
        """Connection failures wait longer between attempts: a blip then has time to pass."""
        factor = CONNECT_DELAY_FACTOR if error is not None and error.unreachable else 1
        return full_jitter(retry, self.base_delay * factor, self.max_delay)

    def attempts_for(self, error: EnqueueError) -> int:
        if error.unreachable:
            return min(self.max_attempts, self.connect_attempts)
        return self.max_attempts


async def send_batch(
    sqs: Any, queue_url: str, entries: list[Entry], policy: RetryPolicy
) -> list[Outcome]:
    """One SendMessageBatch, retrying what SQS failed on its side.

    Raises ``EnqueueError`` when SQS refuses the call itself for a reason retrying cannot fix;
    entries still failing when the budget is spent come back as their last error.
    """
    outcomes: dict[int, Outcome] = {}
    pending = list(range(len(entries)))
    last_errors: dict[int, EnqueueError] = {}
    attempt = 0
    error: EnqueueError | None = None
    while pending:
        attempt += 1
        error = None
        try:
            response = await sqs.send_message_batch(
                QueueUrl=queue_url, Entries=[entries[i].sqs_entry(i) for i in pending]
            )
        except AWS_CALL_ERRORS as exc:
            error = call_error(exc, "SendMessageBatch")
            if not error.retryable:
                raise error from None
            last_errors.update(dict.fromkeys(pending, error))
            budget = policy.attempts_for(error)
        else:
            pending = _read_answer(response, entries, outcomes, last_errors)
            budget = policy.max_attempts
        if not pending or attempt >= budget:
            break
        log.debug("SendMessageBatch: %d entries to retry (attempt %d)", len(pending), attempt)
        await asyncio.sleep(policy.delay(attempt - 1, error))
    for index in pending:
        outcomes[index] = _gave_up(last_errors[index], attempt)
    return [outcomes[i] for i in range(len(entries))]


def _read_answer(
    response: Any,
    entries: list[Entry],
    outcomes: dict[int, Outcome],
    last_errors: dict[int, EnqueueError],
) -> list[int]:
    """Record the call's successes and sender faults; the indexes worth another attempt."""
    for success in response.get("Successful", []):
        index = int(success["Id"])
        outcomes[index] = EnqueueReceipt(
            entries[index].request_id, success["MessageId"], success.get("SequenceNumber")
        )
    retry: list[int] = []
    for failure in response.get("Failed", []):
        index = int(failure["Id"])
        error = from_failure(entry_failure(failure))
        if error.code == "":
            error = EnqueueError("Failed", error.message, retryable=error.retryable)
        if error.retryable:
            retry.append(index)
            last_errors[index] = error
        else:
            outcomes[index] = error
    return retry


def _gave_up(error: EnqueueError, attempts: int) -> EnqueueError:
    return EnqueueError(
        error.code, f"{error.message} (gave up after {attempts} attempts)", kind=error.kind
    )
