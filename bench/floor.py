"""The SDK floor: only the AWS calls one message needs, made by the worker's own clients.

The worker cannot be cheaper than the SDK calls it makes. This process builds the same
aiobotocore clients (``worker.aws.AwsClients``, from the same environment) and makes, back to back
with the worker's concurrency, exactly what one message costs: one ResendConfirmationCode, and per
ten messages one ReceiveMessage, one DeleteMessageBatch and one PublishBatch of ten entries,
against the same fake endpoint. Its messages per second and CPU per message are the ceiling the
worker's figures are divided by.

With ``--duplicates`` it is the floor of a duplicate instead (the duplicate storm item): no
Cognito call, only per ten messages one ReceiveMessage, one PublishBatch of ten ``duplicate``
results and one DeleteMessageBatch of what was received. Each task receives, publishes and
deletes, back to back; a message counts once it is deleted. The queue must not run dry in the
window (a backlog bigger than the floor drains in it): an empty long poll would wait.

Run as ``python -m bench.floor --seconds S`` with the worker's environment; prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from worker.aws import AwsClients
from worker.secret_hash import secret_hash
from worker.settings import load_settings

# A result of the size the worker publishes (outcome sent, delivery details, ids, timestamp).
_RESULT = json.dumps(
    {
        "Outcome": "sent",
        "RequestId": "00000000-0000-0000-0000-000000000000",
        "MessageId": "00000000-0000-0000-0000-000000000000",
        "ClientId": "c" * 26,
        "Username": "bench-user-000000",
        "CodeDeliveryDetails": {
            "Destination": "b***@e***.com",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        },
        "Error": None,
        "Attempts": 1,
        "ProcessedAt": "2025-01-01T00:00:00.000Z",
    }
)

# A duplicate's result as the worker renders it (compact JSON, 470 bytes or so): no Cognito
# call, the first request's outcome and delivery named instead.
_DUPLICATE_RESULT = json.dumps(
    {
        "Outcome": "duplicate",
        "RequestId": "storm-000001234",
        "MessageId": "00000000-000000001234",
        "ClientId": "c" * 27,
        "Username": "storm-user-000234",
        "CodeDeliveryDetails": {
            "Destination": "b***@e***.com",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        },
        "Error": None,
        "Attempts": 0,
        "ProcessedAt": "2025-01-01T00:00:00.000Z",
        "Original": {
            "RequestId": "storm-000000234",
            "MessageId": "00000000-000000000234",
            "Outcome": "sent",
            "ProcessedAt": "2025-01-01T00:00:00.000Z",
        },
    },
    separators=(",", ":"),
)


class Floor:
    def __init__(self, clients: AwsClients, queue_url: str, topic_arn: str, client_id: str):
        self._clients = clients
        self._queue_url = queue_url
        self._topic_arn = topic_arn
        self._client_id = client_id
        self._hash = secret_hash("floor-secret", "bench-user", client_id)
        self.messages = 0
        self._next = 0

    async def run_task(self) -> None:
        while True:
            number = self._next
            self._next += 1
            await self._clients.cognito.resend_confirmation_code(
                ClientId=self._client_id, Username=f"floor-{number}", SecretHash=self._hash
            )
            if number % 10 == 9:
                await self._tenth_of_plumbing()
            self.messages += 1

    async def run_duplicates_task(self) -> None:
        """Receive ten, publish their ten duplicate results, delete them; again."""
        while True:
            received = await self._receive()
            if not received:
                continue
            await self._clients.sns.publish_batch(
                TopicArn=self._topic_arn,
                PublishBatchRequestEntries=[
                    {
                        "Id": str(i),
                        "Message": _DUPLICATE_RESULT,
                        "MessageAttributes": {
                            "outcome": {"DataType": "String", "StringValue": "duplicate"}
                        },
                    }
                    for i in range(len(received))
                ],
            )
            await self._clients.sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(received)],
            )
            self.messages += len(received)

    async def _receive(self) -> list[str]:
        received = await self._clients.sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=20,
            VisibilityTimeout=60,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [m["ReceiptHandle"] for m in received.get("Messages", [])]

    async def _tenth_of_plumbing(self) -> None:
        handles = await self._receive()
        await self._clients.sqs.delete_message_batch(
            QueueUrl=self._queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)],
        )
        await self._clients.sns.publish_batch(
            TopicArn=self._topic_arn,
            PublishBatchRequestEntries=[
                {
                    "Id": str(i),
                    "Message": _RESULT,
                    "MessageAttributes": {"outcome": {"DataType": "String", "StringValue": "sent"}},
                }
                for i in range(10)
            ],
        )


async def measure(
    seconds: float, warmup: float, client_id: str, *, duplicates: bool = False
) -> dict[str, float]:
    settings = load_settings()
    async with AwsClients(settings) as clients:
        floor = Floor(clients, settings.queue_url, settings.result_topic_arn, client_id)
        body = floor.run_duplicates_task if duplicates else floor.run_task
        tasks = [asyncio.create_task(body()) for _ in range(settings.concurrency)]
        try:
            await asyncio.sleep(warmup)
            start_messages, start_cpu, start_wall = (
                floor.messages,
                time.process_time(),
                time.monotonic(),
            )
            await asyncio.sleep(seconds)
            messages = floor.messages - start_messages
            cpu = time.process_time() - start_cpu
            wall = time.monotonic() - start_wall
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "messages": messages,
        "seconds": wall,
        "cpu_seconds": cpu,
        "concurrency": settings.concurrency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--client-id", required=True)
    parser.add_argument(
        "--duplicates", action="store_true", help="the floor of a duplicate: no Cognito call"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(
        measure(args.seconds, args.warmup, args.client_id, duplicates=args.duplicates)
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
