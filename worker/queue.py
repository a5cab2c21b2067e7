"""The SQS side: receive, delete, change visibility and copy to the dead-letter queue.

Deletes and visibility changes go through batchers (ten entries a call); each entry's failure is
reported to the message it belongs to, and retried where it can pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from resend_contract.models import ErrorInfo

from worker import dead_letters, intake, metrics
from worker.batching import Batcher, entry_outcomes
from worker.delivery import Delivery
from worker.retry import with_plumbing_retries

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef


def parse_message(message: MessageTypeDef) -> Delivery:
    """A received SQS message as the worker reads it; trace attributes only as intake allows."""
    system = message.get("Attributes", {})
    sent_ms = system.get("SentTimestamp")
    trace = intake.trace_attributes(message)
    return Delivery(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        receive_count=int(system.get("ApproximateReceiveCount", "1")),
        sent_at=int(sent_ms) / 1000 if sent_ms else None,
        group_id=system.get("MessageGroupId"),
        trace=trace,
    )


class Queue:
    def __init__(
        self,
        sqs: SQSClient,
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
        return [parse_message(message) for message in response.get("Messages", [])]

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
        return {name: value for name, value in response.get("Attributes", {}).items()}

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
