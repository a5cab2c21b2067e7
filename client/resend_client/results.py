"""Finding one request's result on a queue subscribed to the result topic.

Finding and deleting are separate steps so that a caller deletes a result only once it has
done what it wanted with it (the CLI: printed it). A result found and then lost to a closed pipe
or a Ctrl-C reappears on the queue when its hold ends, instead of being gone.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from resend_contract.backoff import full_jitter
from resend_contract.models import Result

from resend_client.connection import SQS_MAX_WAIT_SECONDS
from resend_client.errors import AWS_CALL_ERRORS, call_error

SQS_BATCH_MAX_ENTRIES = 10


def parse_result(body: str) -> Result | None:
    """A result message as it arrives on a subscribed queue: raw, or in an SNS envelope."""
    try:
        document = json.loads(body)
        if (
            isinstance(document, dict)
            and document.get("Type") == "Notification"
            and isinstance(document.get("Message"), str)
        ):
            document = json.loads(document["Message"])
        return Result.model_validate(document)
    except (ValueError, ValidationError):
        return None


@dataclass(frozen=True)
class FoundResult:
    """A result held out of sight on its queue; ``delete`` it once it has been used."""

    result: Result
    queue_url: str
    receipt_handle: str


async def find_result(
    sqs: Any,
    request_id: str,
    *,
    results_queue_url: str,
    wait_seconds: float,
    hold_seconds: int = 30,
    longest_poll: float = SQS_MAX_WAIT_SECONDS,
) -> FoundResult | None:
    """Look for the result of ``request_id`` until ``wait_seconds`` pass; None if it never came.

    Other results are held out of sight while looking (at most ``hold_seconds`` at a time) and
    made visible again before returning, so another consumer of that queue loses nothing. Each
    look counts as a receive: point this at a queue without a tight redrive policy. Throttling
    and lost connections are retried while time remains; other errors raise ``EnqueueError``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    held: dict[str, str] = {}
    retry = 0
    try:
        while (remaining := deadline - loop.time()) > 0:
            try:
                response = await sqs.receive_message(
                    QueueUrl=results_queue_url,
                    MaxNumberOfMessages=SQS_BATCH_MAX_ENTRIES,
                    WaitTimeSeconds=int(max(0, min(longest_poll, remaining))),
                    VisibilityTimeout=hold_seconds,
                )
            except AWS_CALL_ERRORS as exc:
                error = call_error(exc, "ReceiveMessage")
                if not error.retryable or (error.unreachable and retry >= 2):
                    raise error from None
                await asyncio.sleep(min(remaining, full_jitter(retry, 0.2, 5.0)))
                retry += 1
                continue
            retry = 0
            found: FoundResult | None = None
            for message in response.get("Messages", []):
                result = parse_result(message.get("Body", ""))
                if found is None and result is not None and result.RequestId == request_id:
                    found = FoundResult(result, results_queue_url, message["ReceiptHandle"])
                else:
                    held[message["MessageId"]] = message["ReceiptHandle"]
            if found is not None:
                return found
        return None
    finally:
        await release(sqs, results_queue_url, list(held.values()))


async def delete_result(sqs: Any, found: FoundResult) -> None:
    try:
        await sqs.delete_message(QueueUrl=found.queue_url, ReceiptHandle=found.receipt_handle)
    except AWS_CALL_ERRORS as exc:
        raise call_error(exc, "DeleteMessage") from None


async def release(sqs: Any, queue_url: str, receipt_handles: list[str]) -> None:
    """Best effort: a hold that already expired has nothing left to release."""
    for start in range(0, len(receipt_handles), SQS_BATCH_MAX_ENTRIES):
        chunk = receipt_handles[start : start + SQS_BATCH_MAX_ENTRIES]
        try:
            await sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(chunk)
                ],
            )
        except AWS_CALL_ERRORS:
            continue
