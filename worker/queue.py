"""The SQS side: receive, delete, change visibility and copy to the dead-letter queue.

Deletes and visibility changes go through batchers (ten entries a call); each entry's failure is
reported to the message it belongs to, and retried where it can pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resend_contract.models import ErrorInfo

from worker import dead_letters, metrics
from worker.batching import Batcher
from worker.processor import Delivery
from worker.retry import with_plumbing_retries


class EntryFailed(Exception):
    """One entry of a batch call failed; ``sender_fault`` means retrying cannot help."""

    def __init__(self, code: str, message: str, *, sender_fault: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.sender_fault = sender_fault


def entry_outcomes(response: dict[str, Any], count: int) -> list[BaseException | None]:
    """Per-entry results of an SQS or SNS batch call whose entry ids are their indexes."""
    outcomes: list[BaseException | None] = [None] * count
    for failed in response.get("Failed", []):
        outcomes[int(failed["Id"])] = EntryFailed(
            str(failed.get("Code")),
            str(failed.get("Message", "")),
            sender_fault=bool(failed.get("SenderFault")),
        )
    return outcomes


class Queue:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        dead_letter_queue_url: str | None,
        visibility_timeout: int,
        dead_letter_max_bytes: int = 262_144,
    ) -> None:
        self._sqs = sqs
        self.url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self.visibility_timeout = visibility_timeout
        self._dead_letter_max_bytes = dead_letter_max_bytes
        self._deletes: Batcher[str, None] = Batcher(self._delete_batch)
        self._visibility: Batcher[tuple[str, int], None] = Batcher(self._visibility_batch)

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Delivery]:
        response = await self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=self.visibility_timeout,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [Delivery.from_sqs(message) for message in response.get("Messages", [])]

    async def delete(self, receipt_handle: str) -> None:
        try:
            await with_plumbing_retries(lambda: self._deletes.submit(receipt_handle))
        except Exception:
            metrics.sqs_delete_failures.inc()
            raise

    async def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        await with_plumbing_retries(lambda: self._visibility.submit((receipt_handle, seconds)))

    async def dead_letter(self, delivery: Delivery, error: ErrorInfo) -> None:
        """Copy a body the worker can never process, with the reason, before deleting it."""
        assert self._dead_letter_queue_url is not None
        fitted = dead_letters.copy_attributes(
            delivery.body, delivery.message_id, error, self._dead_letter_max_bytes
        )
        assert fitted is not None, "the processor copies only bodies that fit"
        attributes, trimmed = fitted
        if trimmed:
            metrics.dead_letter_attributes_trimmed.inc()
        params: dict[str, Any] = {
            "QueueUrl": self._dead_letter_queue_url,
            "MessageBody": dead_letters.copy_body(delivery.body),
            "MessageAttributes": attributes,
        }
        if self._dead_letter_queue_url.endswith(".fifo"):
            params["MessageGroupId"] = delivery.group_id or "invalid"
            params["MessageDeduplicationId"] = delivery.message_id
        await with_plumbing_retries(lambda: self._sqs.send_message(**params))
        metrics.dead_letters.inc()

    async def attributes(self) -> dict[str, str]:
        response = await self._sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["VisibilityTimeout", "RedrivePolicy", "QueueArn"]
        )
        return dict(response.get("Attributes", {}))

    async def drain(self) -> None:
        await self._visibility.drain()
        await self._deletes.drain()

    async def _delete_batch(self, handles: Sequence[str]) -> list[BaseException | None]:
        response = await self._sqs.delete_message_batch(
            QueueUrl=self.url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)],
        )
        return entry_outcomes(response, len(handles))

    async def _visibility_batch(
        self, changes: Sequence[tuple[str, int]]
    ) -> list[BaseException | None]:
        response = await self._sqs.change_message_visibility_batch(
            QueueUrl=self.url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, (handle, seconds) in enumerate(changes)
            ],
        )
        return entry_outcomes(response, len(changes))
