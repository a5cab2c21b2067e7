"""A fake AWS endpoint that answers the worker's calls at once, with canned valid responses.

The CPU benchmark must measure the worker, not moto: moto spends milliseconds per request and
would be the bottleneck long before the worker is. This server answers exactly the operations
the worker makes, in the protocols botocore 1.43 uses for them (SQS and Cognito speak JSON with
``X-Amz-Target``, SNS speaks the query protocol with XML answers), in tens of microseconds.

Every ReceiveMessage answers up to ten new, valid requests (unique MessageIds, receipt handles
and usernames), so the worker always has work; with ``--backlog N`` it stops after N messages and
then answers empty long polls, which is how a finite backlog drains. ``GET /_bench/stats`` reports
what was served, which is how the benchmark counts finished messages (deleted entries).

Run it as ``python -m bench.fakeaws --client-id ID``: it prints ``{"port": N}`` on its first line
of output, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import signal
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

ACCOUNT = "123456789012"
REGION = "us-east-1"
QUEUE_NAME = "bench-requests"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:bench-results"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE_NAME}"
# How long an empty long poll is held once a finite backlog is spent (capped: the worker's
# shutdown cancels the poll anyway, and a short cap keeps the fake responsive to it).
EMPTY_POLL_CAP_SECONDS = 2.0

SQS_JSON = "application/x-amz-json-1.0"
COGNITO_JSON = "application/x-amz-json-1.1"
XML = "text/xml"

_COGNITO_OK = json.dumps(
    {
        "CodeDeliveryDetails": {
            "Destination": "b***@e***.com",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        }
    }
).encode()
_QUEUE_ATTRIBUTES = json.dumps(
    {
        "Attributes": {
            "VisibilityTimeout": "60",
            "QueueArn": QUEUE_ARN,
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": QUEUE_ARN + "-dlq", "maxReceiveCount": 20}
            ),
        }
    }
).encode()
_TOPIC_ATTRIBUTES = (
    '<GetTopicAttributesResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
    "<GetTopicAttributesResult><Attributes>"
    f"<entry><key>TopicArn</key><value>{TOPIC_ARN}</value></entry>"
    "</Attributes></GetTopicAttributesResult>"
    "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
    "</ResponseMetadata></GetTopicAttributesResponse>"
).encode()
_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z]+)")
_PUBLISH_ENTRY_ID = re.compile(rb"PublishBatchRequestEntries\.member\.\d+\.Id=([^&]*)")


def queue_url(endpoint_url: str) -> str:
    return f"{endpoint_url}/{ACCOUNT}/{QUEUE_NAME}"


@dataclass
class Served:
    """What the fake answered so far; ``deleted`` counts finished messages."""

    receives: int = 0
    empty_receives: int = 0
    messages: int = 0
    deleted: int = 0
    delete_calls: int = 0
    visibility_changes: int = 0
    published: int = 0
    publish_calls: int = 0
    cognito_calls: int = 0
    other: int = 0
    backlog_spent_at: float | None = None


class FakeAws:
    """The request handler; one instance per server process."""

    def __init__(self, client_id: str, backlog: int | None) -> None:
        self._client_id = client_id
        self._backlog = backlog
        self._run = uuid.uuid4().hex[:8]
        self.served = Served()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        target = request.headers.get("X-Amz-Target")
        if target is not None:
            operation = target.rpartition(".")[2]
            if operation == "ResendConfirmationCode":
                self.served.cognito_calls += 1
                return _answer(_COGNITO_OK, COGNITO_JSON)
            return await self._sqs(operation, json.loads(body or b"{}"))
        if request.path == "/_bench/stats":
            return web.json_response(asdict(self.served))
        match = _ACTION.search(body)
        action = match.group(1).decode() if match else ""
        if action == "PublishBatch":
            return self._publish_batch(body)
        if action == "GetTopicAttributes":
            self.served.other += 1
            return _answer(_TOPIC_ATTRIBUTES, XML)
        return _error(f"the fake does not answer {action or request.path}")

    async def _sqs(self, operation: str, params: dict[str, Any]) -> web.StreamResponse:
        if operation == "ReceiveMessage":
            return await self._receive(params)
        if operation == "DeleteMessageBatch":
            entries = params.get("Entries", [])
            self.served.deleted += len(entries)
            self.served.delete_calls += 1
            return _answer(_batch_ok(entries), SQS_JSON)
        if operation == "ChangeMessageVisibilityBatch":
            entries = params.get("Entries", [])
            self.served.visibility_changes += len(entries)
            return _answer(_batch_ok(entries), SQS_JSON)
        if operation == "GetQueueAttributes":
            self.served.other += 1
            return _answer(_QUEUE_ATTRIBUTES, SQS_JSON)
        return _error(f"the fake does not answer {operation}")

    async def _receive(self, params: dict[str, Any]) -> web.StreamResponse:
        served = self.served
        served.receives += 1
        count = max(1, min(10, int(params.get("MaxNumberOfMessages", 1))))
        if self._backlog is not None:
            count = min(count, self._backlog - served.messages)
        if count <= 0:
            served.empty_receives += 1
            if served.backlog_spent_at is None:
                served.backlog_spent_at = time.time()
            wait = min(float(params.get("WaitTimeSeconds", 0)), EMPTY_POLL_CAP_SECONDS)
            await asyncio.sleep(wait)
            return _answer(b"{}", SQS_JSON)
        sent_ms = str(int(time.time() * 1000))
        messages = []
        for _ in range(count):
            served.messages += 1
            number = served.messages
            text = f'{{"ClientId":"{self._client_id}","Username":"bench-{self._run}-{number}"}}'
            messages.append(
                {
                    "MessageId": f"{self._run}-{number:012d}",
                    "ReceiptHandle": f"rh-{self._run}-{number}",
                    "MD5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 (SQS's)
                    "Body": text,
                    "Attributes": {"SentTimestamp": sent_ms, "ApproximateReceiveCount": "1"},
                }
            )
        return _answer(json.dumps({"Messages": messages}).encode(), SQS_JSON)

    def _publish_batch(self, body: bytes) -> web.StreamResponse:
        ids = [raw.decode() for raw in _PUBLISH_ENTRY_ID.findall(body)]
        self.served.published += len(ids)
        self.served.publish_calls += 1
        members = "".join(
            f"<member><Id>{entry_id}</Id><MessageId>{uuid.uuid4()}</MessageId></member>"
            for entry_id in ids
        )
        xml = (
            '<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<PublishBatchResult><Successful>{members}</Successful><Failed/>"
            "</PublishBatchResult><ResponseMetadata>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
            "</ResponseMetadata></PublishBatchResponse>"
        )
        return _answer(xml.encode(), XML)


def _batch_ok(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}).encode()


def _answer(body: bytes, content_type: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": content_type})


def _error(message: str) -> web.Response:
    body = json.dumps({"__type": "InvalidAction", "message": message}).encode()
    return web.Response(
        status=400,
        body=body,
        headers={"Content-Type": SQS_JSON, "X-Amzn-ErrorType": "InvalidAction"},
    )


async def serve(client_id: str, backlog: int | None, port: int) -> None:
    fake = FakeAws(client_id, backlog)
    server = web.Server(fake.handle, access_log=None)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, "127.0.0.1", port, backlog=1024)
    bound = listener.sockets[0].getsockname()[1]
    print(json.dumps({"port": bound}), flush=True)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    listener.close()
    await server.shutdown(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fakeaws", description=__doc__)
    parser.add_argument("--client-id", required=True, help="ClientId put in every request body")
    parser.add_argument("--backlog", type=int, default=None, help="stop after N messages")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.client_id, args.backlog, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
