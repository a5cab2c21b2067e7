"""A fake AWS endpoint that answers the worker's calls at once, with canned valid responses.

The CPU benchmark must measure the worker, not moto: moto spends milliseconds per request and
would be the bottleneck long before the worker is. This server answers exactly the operations
the worker makes, in the protocols botocore 1.43 uses for them (SQS and Cognito speak JSON with
``X-Amz-Target``, SNS speaks the query protocol with XML answers), in tens of microseconds.

Two kinds of queue:

* a stream (the default): every ReceiveMessage answers up to ten new, valid requests (unique
  MessageIds, receipt handles and usernames), so the worker always has work;
* a backlog (``--queue-file``, one request body per line, or ``--cycle-messages N
  --cycle-users U``: N requests whose usernames cycle through U users, message i for user
  ``i % U``, a duplicate storm generated in memory): a real queue with SQS's semantics for
  what the worker relies on: visibility timeouts, ChangeMessageVisibility (deferrals come back
  when they are due), ApproximateReceiveCount, SentTimestamp, and a redrive to a dead-letter
  count after ``MAX_RECEIVE_COUNT`` receives. moto serves the same in O(backlog) per returned
  message (over 0.5 s per receive with 1,000 queued here), so a quota benchmark against moto's
  queue would measure moto; this one is O(log n).

In backlog mode there are two queues, routed by the calls' ``QueueUrl``: the requests queue
(``queue_url``, the interactive lane) and the bulk lane's (``bulk_queue_url``, from
``--bulk-queue-file``, empty without it). ``POST /_bench/send`` with ``{"queue": "bulk" |
"requests", "bodies": [...]}`` appends requests while the worker runs; a long poll waiting on that
queue returns at once.

``GET /_bench/stats`` reports what was served: finished messages are deleted entries; in backlog
mode it also counts published results by outcome, deletions by queue, and the distinct usernames
Cognito was called for; ``GET /_bench/cognito_users`` (backlog mode) answers the Cognito calls
per username. ``GET
/_bench/timings`` (backlog mode) answers, by RequestId, when each request was put on its queue
and when its first result was published, on this machine's wall clock.

Run it as ``python -m bench.fakeaws --client-id ID`` (or ``--queue-file PATH``, or
``--cycle-messages N --cycle-users U``): it prints
``{"port": N}`` on its first line of output, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import heapq
import json
import re
import signal
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

ACCOUNT = "123456789012"
REGION = "us-east-1"
QUEUE_NAME = "bench-requests"
BULK_QUEUE_NAME = "bench-bulk"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:bench-results"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE_NAME}"
# An empty long poll re-checks for due messages this often (deferrals becoming visible).
EMPTY_POLL_STEP_SECONDS = 0.05
# SQS moves a message to the dead-letter queue on the receive after this many (devstack's value).
MAX_RECEIVE_COUNT = 20

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


def bulk_queue_url(endpoint_url: str) -> str:
    return f"{endpoint_url}/{ACCOUNT}/{BULK_QUEUE_NAME}"


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
    # Backlog mode only.
    backlog: int = 0
    redelivered: int = 0
    dead_lettered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    answered_requests: int = 0
    drained_at: float | None = None
    deleted_by_queue: dict[str, int] = field(default_factory=dict)
    cognito_users: int = 0


@dataclass
class _Message:
    number: int
    body: str
    sent_ms: str
    visible_at: float = 0.0
    receives: int = 0
    handle: str = ""


class Backlog:
    """A finite queue with visibility timeouts; a heap orders messages by when they are due."""

    def __init__(self, bodies: list[str], run: str) -> None:
        self.run = run
        sent_ms = str(int(time.time() * 1000))
        self._messages = {n: _Message(n, body, sent_ms) for n, body in enumerate(bodies)}
        self._due: list[tuple[float, int, int]] = [(0.0, n, 0) for n in self._messages]
        self._by_handle: dict[str, int] = {}
        self._version: dict[int, int] = dict.fromkeys(self._messages, 0)
        self.size = len(bodies)
        self._arrived = asyncio.Event()

    @property
    def remaining(self) -> int:
        return len(self._messages)

    def add(self, body: str, now: float) -> None:
        """A message sent now: due at once, behind everything already due."""
        number = self.size
        self.size += 1
        message = _Message(number, body, str(int(time.time() * 1000)))
        self._messages[number] = message
        self._version[number] = 0
        heapq.heappush(self._due, (now, number, 0))
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def wait_arrival(self, within: float) -> None:
        """Until a message is added, or ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), within)

    def next_due(self) -> float | None:
        return self._due[0][0] if self._due else None

    def take(self, count: int, visibility: float, now: float) -> tuple[list[_Message], int]:
        """Up to ``count`` due messages, now invisible; and how many were dead-lettered."""
        taken: list[_Message] = []
        dead = 0
        while self._due and len(taken) < count and self._due[0][0] <= now:
            _, number, version = heapq.heappop(self._due)
            message = self._messages.get(number)
            if message is None or self._version[number] != version:
                continue  # deleted, or its visibility changed since this entry was pushed
            if message.receives >= MAX_RECEIVE_COUNT:
                del self._messages[number]
                dead += 1
                continue
            message.receives += 1
            message.handle = f"rh-{self.run}-{number}-{message.receives}"
            self._by_handle[message.handle] = number
            self._schedule(message, now + visibility)
            taken.append(message)
        return taken, dead

    def delete(self, handle: str) -> bool:
        number = self._by_handle.pop(handle, None)
        if number is None or number not in self._messages:
            return False
        del self._messages[number]
        return True

    def change_visibility(self, handle: str, seconds: float, now: float) -> None:
        number = self._by_handle.get(handle)
        message = self._messages.get(number) if number is not None else None
        if message is not None:
            self._schedule(message, now + seconds)

    def _schedule(self, message: _Message, visible_at: float) -> None:
        message.visible_at = visible_at
        self._version[message.number] += 1
        heapq.heappush(self._due, (visible_at, message.number, self._version[message.number]))


class FakeAws:
    """The request handler; one instance per server process."""

    def __init__(
        self, client_id: str, backlog: list[str] | None, bulk: list[str] | None = None
    ) -> None:
        self._client_id = client_id
        self._run = uuid.uuid4().hex[:8]
        if backlog is None and bulk is not None:
            backlog = []
        self._backlog = Backlog(backlog, self._run) if backlog is not None else None
        # The bulk lane's queue exists in backlog mode, empty unless given; its message ids and
        # receipt handles differ from the requests queue's by their run tag.
        self._bulk = Backlog(bulk or [], self._run + "b") if backlog is not None else None
        self._answered: set[str] = set()
        # RequestId -> (queue, wall time it was put there); -> (wall time, outcome) of the first
        # result published for it.
        self._enqueued: dict[str, tuple[str, float]] = {}
        self._published: dict[str, tuple[float, str]] = {}
        # Backlog mode: Cognito calls per username.
        self._cognito_by_user: dict[str, int] = {}
        self.served = Served(backlog=len(backlog or []) + len(bulk or []))
        loaded = time.time()
        for name, bodies in ((QUEUE_NAME, backlog), (BULK_QUEUE_NAME, bulk)):
            for text in bodies or []:
                self._note_enqueued(name, text, loaded)

    def _queue(self, params: dict[str, Any]) -> Backlog | None:
        """The backlog a call's QueueUrl names (the requests queue unless it is the bulk one)."""
        if self._bulk is not None and str(params.get("QueueUrl", "")).endswith(
            "/" + BULK_QUEUE_NAME
        ):
            return self._bulk
        return self._backlog

    def _note_enqueued(self, queue: str, text: str, at: float) -> None:
        try:
            request_id = json.loads(text).get("RequestId")
        except (ValueError, AttributeError):
            return
        if isinstance(request_id, str):
            self._enqueued[request_id] = (queue, at)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        target = request.headers.get("X-Amz-Target")
        if target is not None:
            operation = target.rpartition(".")[2]
            if operation == "ResendConfirmationCode":
                self.served.cognito_calls += 1
                if self._backlog is not None:
                    self._count_cognito_user(body)
                return _answer(_COGNITO_OK, COGNITO_JSON)
            return await self._sqs(operation, json.loads(body or b"{}"))
        if request.path == "/_bench/stats":
            return web.json_response(asdict(self.served))
        if request.path == "/_bench/send":
            return self._send(json.loads(body or b"{}"))
        if request.path == "/_bench/cognito_users":
            return web.json_response(self._cognito_by_user)
        if request.path == "/_bench/timings":
            return web.json_response({"enqueued": self._enqueued, "published": self._published})
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
            self.served.delete_calls += 1
            backlog = self._queue(params)
            if backlog is None:
                self.served.deleted += len(entries)
            else:
                name = BULK_QUEUE_NAME if backlog is self._bulk else QUEUE_NAME
                deleted = sum(backlog.delete(entry["ReceiptHandle"]) for entry in entries)
                self.served.deleted += deleted
                by_queue = self.served.deleted_by_queue
                by_queue[name] = by_queue.get(name, 0) + deleted
                if not backlog.remaining and self.served.drained_at is None:
                    self.served.drained_at = time.time()
            return _answer(_batch_ok(entries), SQS_JSON)
        if operation == "ChangeMessageVisibilityBatch":
            entries = params.get("Entries", [])
            self.served.visibility_changes += len(entries)
            backlog = self._queue(params)
            if backlog is not None:
                now = time.monotonic()
                for entry in entries:
                    backlog.change_visibility(
                        entry["ReceiptHandle"], float(entry["VisibilityTimeout"]), now
                    )
            return _answer(_batch_ok(entries), SQS_JSON)
        if operation == "GetQueueAttributes":
            self.served.other += 1
            return _answer(_QUEUE_ATTRIBUTES, SQS_JSON)
        return _error(f"the fake does not answer {operation}")

    async def _receive(self, params: dict[str, Any]) -> web.StreamResponse:
        served = self.served
        served.receives += 1
        count = max(1, min(10, int(params.get("MaxNumberOfMessages", 1))))
        backlog = self._queue(params)
        if backlog is not None:
            return await self._receive_backlog(backlog, count, params)
        sent_ms = str(int(time.time() * 1000))
        messages = []
        for _ in range(count):
            served.messages += 1
            number = served.messages
            text = f'{{"ClientId":"{self._client_id}","Username":"bench-{self._run}-{number}"}}'
            messages.append(
                _sqs_message(
                    f"{self._run}-{number:012d}", f"rh-{self._run}-{number}", text, sent_ms, 1
                )
            )
        return _answer(json.dumps({"Messages": messages}).encode(), SQS_JSON)

    async def _receive_backlog(
        self, backlog: Backlog, count: int, params: dict[str, Any]
    ) -> web.StreamResponse:
        served = self.served
        visibility = float(params.get("VisibilityTimeout", 30))
        deadline = time.monotonic() + float(params.get("WaitTimeSeconds", 0))
        while True:
            taken, dead = backlog.take(count, visibility, time.monotonic())
            served.dead_lettered += dead
            left = deadline - time.monotonic()
            if taken or left <= 0:
                break
            served.empty_receives += 1
            # A message sent meanwhile wakes the poll at once; deferrals are re-checked.
            await backlog.wait_arrival(min(EMPTY_POLL_STEP_SECONDS, left))
        messages = []
        for message in taken:
            served.messages += 1
            served.redelivered += message.receives > 1
            messages.append(
                _sqs_message(
                    f"{backlog.run}-{message.number:012d}",
                    message.handle,
                    message.body,
                    message.sent_ms,
                    message.receives,
                )
            )
        return _answer(json.dumps({"Messages": messages}).encode(), SQS_JSON)

    def _publish_batch(self, body: bytes) -> web.StreamResponse:
        ids = [raw.decode() for raw in _PUBLISH_ENTRY_ID.findall(body)]
        self.served.published += len(ids)
        self.served.publish_calls += 1
        if self._backlog is not None:
            self._count_outcomes(body)
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

    def _count_cognito_user(self, body: bytes) -> None:
        try:
            username = str(json.loads(body or b"{}").get("Username"))
        except (ValueError, AttributeError):
            return
        calls = self._cognito_by_user.get(username, 0)
        if not calls:
            self.served.cognito_users += 1
        self._cognito_by_user[username] = calls + 1

    def _send(self, params: dict[str, Any]) -> web.StreamResponse:
        """Append requests to a queue (the harness's producer; SendMessage needs no SDK here)."""
        if self._backlog is None or self._bulk is None:
            return _error("sending needs backlog mode")
        name = BULK_QUEUE_NAME if params.get("queue") == "bulk" else QUEUE_NAME
        backlog = self._bulk if name == BULK_QUEUE_NAME else self._backlog
        at, now = time.time(), time.monotonic()
        bodies = [str(text) for text in params.get("bodies", [])]
        for text in bodies:
            backlog.add(text, now)
            self._note_enqueued(name, text, at)
        self.served.backlog += len(bodies)
        return web.json_response({"at": at, "sent": len(bodies)})

    def _count_outcomes(self, body: bytes) -> None:
        """Results by outcome, each request counted once (a republished result is not new)."""
        published_at = time.time()
        for name, value in parse_qsl(body.decode()):
            if not name.endswith(".Message"):
                continue
            result = json.loads(value)
            request_id = str(result.get("RequestId"))
            if request_id in self._answered:
                continue
            self._answered.add(request_id)
            self.served.answered_requests += 1
            outcome = str(result.get("Outcome"))
            self._published[request_id] = (published_at, outcome)
            self.served.outcomes[outcome] = self.served.outcomes.get(outcome, 0) + 1


def _sqs_message(
    message_id: str, handle: str, body: str, sent_ms: str, receives: int
) -> dict[str, Any]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": handle,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (SQS's checksum)
        "Body": body,
        "Attributes": {"SentTimestamp": sent_ms, "ApproximateReceiveCount": str(receives)},
    }


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


async def serve(
    client_id: str, backlog: list[str] | None, port: int, bulk: list[str] | None = None
) -> None:
    fake = FakeAws(client_id, backlog, bulk)
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
    parser.add_argument("--client-id", default="benchclient", help="ClientId of streamed bodies")
    parser.add_argument(
        "--queue-file", type=Path, help="serve these bodies (one per line) as a finite backlog"
    )
    parser.add_argument(
        "--bulk-queue-file", type=Path, help="the bulk lane's backlog (implies backlog mode)"
    )
    parser.add_argument(
        "--cycle-messages",
        type=int,
        help="serve a backlog of this many requests whose usernames cycle (instead of a file)",
    )
    parser.add_argument(
        "--cycle-users", type=int, default=1000, help="distinct usernames of --cycle-messages"
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if args.cycle_messages is not None and args.queue_file is not None:
        parser.error("--cycle-messages and --queue-file are two ways to give the one backlog")
    backlog = _lines(args.queue_file) if args.queue_file else None
    if args.cycle_messages is not None:
        backlog = cycle_bodies(args.client_id, args.cycle_messages, args.cycle_users)
    bulk = _lines(args.bulk_queue_file) if args.bulk_queue_file else None
    asyncio.run(serve(args.client_id, backlog, args.port, bulk))
    return 0


def cycle_username(number: int, users: int) -> str:
    """The username of a cycled backlog's message ``number``."""
    return f"storm-user-{number % users:06d}"


def cycle_bodies(client_id: str, messages: int, users: int) -> list[str]:
    """``messages`` requests, message i for user ``i % users``, each with its own RequestId."""
    if messages < 0 or users < 1:
        raise ValueError("a cycled backlog needs messages >= 0 and users >= 1")
    return [
        json.dumps(
            {
                "ClientId": client_id,
                "Username": cycle_username(number, users),
                "RequestId": f"storm-{number:09d}",
            }
        )
        for number in range(messages)
    ]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
