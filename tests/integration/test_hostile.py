"""Hostile producers and edge outages against real worker processes over real HTTP.

Each case once stalled a replica, looped, got two results or leaked the producer's text: a
1 MiB traceparent, poison bodies, random invalid bodies, DeleteMessage failing for a while, the
dead-letter queue refusing writes, and a redrive policy tightened under a running worker. Each
message must get exactly one result, each invalid body exactly one dead-letter copy, and nothing
the producer chose may appear in results, dead-letter attributes or logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .harness import Harness, WorkerProcess, spawn_worker
from .test_http_port import listening_port

pytestmark = pytest.mark.integration

Spawn = Callable[..., Awaitable[WorkerProcess]]
SECRETS = ("jane.doe@example.com", "TOPSECRETVALUE", "m" * 64, "ab\\ud800cd")


@pytest.fixture
async def spawn(harness: Harness, tmp_path: Path) -> AsyncIterator[Spawn]:
    """Starts worker processes and kills any still running at the end, even when a test fails:
    a survivor would consume the next test's queue (its name is the same after a reset)."""
    started: list[WorkerProcess] = []

    async def start(name: str, **overrides: str) -> WorkerProcess:
        worker = await spawn_worker(harness.resources, tmp_path, name, **overrides)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        await worker.kill()


class HealthProbe:
    """Asks /healthz every 0.1 s while a test runs; a probe that fails or times out counts 5 s."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.port = listening_port(worker.log())
        self.latencies: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HealthProbe:
        self._task = asyncio.create_task(self._probe())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _probe(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                started = time.monotonic()
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as answer:
                        ok = answer.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                self.latencies.append(time.monotonic() - started if ok else 5.0)
                await asyncio.sleep(0.1)

    @property
    def worst(self) -> float:
        return max(self.latencies)


async def metric(worker: WorkerProcess, series: str) -> float:
    """One series' value from the worker's /metrics, e.g. ``name{label="value"}``."""
    port = listening_port(worker.log())
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as answer,
    ):
        text = await answer.text()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not exported")


async def dead_letters(harness: Harness) -> list[dict[str, Any]]:
    """Every copy in the dead-letter queue: body and attributes."""
    copies: list[dict[str, Any]] = []
    while True:
        answer = await harness.sqs.receive_message(
            QueueUrl=harness.resources.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return copies
        for message in messages:
            copies.append(
                {
                    "body": message["Body"],
                    "attributes": {
                        k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                    },
                }
            )
            await harness.sqs.delete_message(
                QueueUrl=harness.resources.dead_letter_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
            )


async def until_drained(harness: Harness, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await harness.depth() != (0, 0):
        assert time.monotonic() < deadline, f"left in the queue: {await harness.depth()}"
        await asyncio.sleep(0.5)


async def results_until_drained(harness: Harness, timeout: float) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while await harness.depth() != (0, 0) and time.monotonic() < deadline:
        collected.extend(await harness.all_results())
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)
    collected.extend(await harness.all_results())
    assert await harness.depth() == (0, 0), "messages left in the queue"
    return collected


def one_each(results: list[dict[str, Any]], ids: list[str]) -> dict[str, dict[str, Any]]:
    counts = Counter(r["MessageId"] for r in results)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1), counts
    assert set(counts) == set(ids), counts
    return {r["MessageId"]: r for r in results}


def no_echo(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret[:20]!r} in {where}"


async def stop(worker: WorkerProcess) -> str:
    code = await worker.terminate()
    assert code == 0, worker.log()[-3000:]
    return worker.log()


async def test_huge_trace_attributes_never_stall_the_worker(harness: Harness, spawn: Spawn) -> None:
    resources = harness.resources
    worker = await spawn("trace")
    port = listening_port(worker.log())
    hostile = {
        "traceparent": "a" * (1024 * 1024 - 4096) + "+",
        "tracestate": "a" * 64_000 + "+",
    }
    message_id = await harness.send(
        {"ClientId": resources.client_id, "Username": resources.unconfirmed_users[0].username},
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in hostile.items()
        },
    )
    latencies: list[float] = []
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline and not results:
            started = time.monotonic()
            async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                assert answer.status == 200
            latencies.append(time.monotonic() - started)
            results.extend(await harness._receive_results(0))
            await asyncio.sleep(0.05)
        # A few more probes after the answer: the log line of the message comes after it.
        for _ in range(10):
            started = time.monotonic()
            async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                assert answer.status == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    dropped = await metric(
        worker, 'resend_worker_message_attributes_dropped_total{attribute="traceparent"}'
    )
    assert dropped == 1
    log = await stop(worker)
    print(
        f"/healthz with a 1 MiB traceparent: {len(latencies)} probes, worst "
        f"{max(latencies) * 1000:.0f} ms"
    )
    [result] = results
    assert result["MessageId"] == message_id and result["Outcome"] == "sent"
    assert result["_attributes"] == {"outcome": "sent"}
    assert max(latencies) < 1, sorted(latencies)[-5:]
    assert "a" * 2000 not in log
    assert '"message done"' in log


POISON: dict[str, str] = {
    "lone surrogate": '{"ClientId": "abc", "Username": "ab\\ud800cd"}',
    "4,301-digit integer": '{"ClientId": "abc", "Username": "u", "Attempt": ' + "7" * 4301 + "}",
    "member named like an email": '{"ClientId": "abc", "Username": "u", '
    '"jane.doe@example.com": "x"}',
    "ClientMetadata key": '{"ClientId": "abc", "Username": "u", '
    '"ClientMetadata": {"client_secret=TOPSECRETVALUE": 1}}',
    "200 KB member name": '{"ClientId": "abc", "Username": "u", "' + "m" * 200_000 + '": 1}',
    "262,100 bytes": "x" * 262_100,
    "262,144 bytes": "x" * 262_144,
}


async def test_poison_bodies_get_one_invalid_result_and_one_copy_each(
    harness: Harness, spawn: Spawn
) -> None:
    # The dead-letter queue at the classic 256 KiB, as the worker's default assumes.
    await harness.sqs.set_queue_attributes(
        QueueUrl=harness.resources.dead_letter_queue_url,
        Attributes={"MaximumMessageSize": "262144"},
    )
    worker = await spawn("poison")
    async with HealthProbe(worker) as probe:
        ids = {name: await harness.send(body) for name, body in POISON.items()}
        results = await results_until_drained(harness, 60)
    print(
        f"/healthz during the poison bodies: {len(probe.latencies)} probes, worst "
        f"{probe.worst * 1000:.0f} ms"
    )
    assert probe.worst < 1, sorted(probe.latencies)[-5:]
    copies = await dead_letters(harness)
    log = await stop(worker)
    by_id = one_each(results, list(ids.values()))
    for name, message_id in ids.items():
        result = by_id[message_id]
        assert result["Outcome"] == "invalid", name
        assert result["Error"]["Code"] == "InvalidRequest", name
        no_echo(json.dumps(result), f"the result of {name}")
        print(f"{name}: {result['Error']['Message']}")
    bodies = Counter(copy["body"] for copy in copies)
    assert bodies == Counter(POISON.values()), "one dead-letter copy per body, as it came"
    for copy in copies:
        no_echo(json.dumps(copy["attributes"]), "dead-letter attributes")
    no_echo(log, "the worker's log")
    assert "processing failed unexpectedly" not in log


def fuzzed_bodies(rng: random.Random, count: int) -> list[str]:
    """Invalid bodies of the kinds that once went unanswered."""
    makers = [
        lambda: '{"ClientId": "abc", "Username": ' + "9" * rng.randint(4000, 9000) + "}",
        lambda: '{"ClientId": "abc", "Username": "u\\ud8' + f"{rng.randint(0, 255):02x}" + '"}',
        lambda: "[" * rng.randint(9, 5000) + "]" * rng.randint(0, 10),
        lambda: json.dumps({"ClientId": "abc", "Username": "u" * rng.randint(129, 100_000)}),
        lambda: json.dumps({"ClientId": rng.choice([1, None, [], {}, True]), "Username": "u"}),
        lambda: json.dumps({"ClientId": "abc", "Username": "u", f"x{rng.random()}": 1}),
        lambda: json.dumps({"Type": "Notification", "TopicArn": "a", "Message": "{" * 3}),
        lambda: json.dumps(
            {"Type": "Notification", "TopicArn": "a", "Message": "[" + "1" * 5000 + "]"}
        ),
        lambda: "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(1, 300))),
        lambda: json.dumps({"ClientId": "abc", "Username": "u", "ClientMetadata": {"k": 1.5}}),
    ]
    return [rng.choice(makers)() for _ in range(count)]


async def test_fuzzed_invalid_bodies_each_get_one_result(harness: Harness, spawn: Spawn) -> None:
    bodies = fuzzed_bodies(random.Random(12), 200)
    worker = await spawn("fuzz", RESEND_CONCURRENCY="64")
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])
        ]
        answer = await harness.sqs.send_message_batch(
            QueueUrl=harness.resources.queue_url, Entries=entries
        )
        assert not answer.get("Failed")
        ids.extend(entry["MessageId"] for entry in answer["Successful"])
    async with HealthProbe(worker) as probe:
        results = await results_until_drained(harness, 120)
    log = await stop(worker)
    print(f"/healthz during 200 fuzzed bodies: worst {probe.worst * 1000:.0f} ms")
    assert probe.worst < 1, sorted(probe.latencies)[-5:]
    by_id = one_each(results, ids)
    assert Counter(r["Outcome"] for r in by_id.values()) == {"invalid": len(ids)}
    assert "processing failed unexpectedly" not in log
    assert len(await dead_letters(harness)) == len(ids)


async def test_delete_outage_gets_one_result_per_message(harness: Harness, spawn: Spawn) -> None:
    resources = harness.resources
    user = resources.unconfirmed_users[0].username
    worker = await spawn(
        "delete-outage",
        RESEND_VISIBILITY_TIMEOUT_SECONDS="10",
        RESEND_RETRY_MAX_SECONDS="4",
    )
    harness.admin.fail_sqs(["DeleteMessage", "DeleteMessageBatch"], 25, "-requests")
    sent = await harness.send({"ClientId": resources.client_id, "Username": user, "RequestId": "a"})
    [first] = await harness.results(1)
    assert first["Outcome"] == "sent"
    ids = {
        "sent": sent,
        "duplicate": await harness.send(
            {"ClientId": resources.client_id, "Username": user, "RequestId": "b"}
        ),
        "failed": await harness.send(
            {"ClientId": resources.client_id, "Username": "nobody-here", "RequestId": "c"}
        ),
        "invalid": await harness.send("not json"),
    }
    results = [first, *await results_until_drained(harness, 90)]
    refused = harness.admin.sqs_faults()["refused"]
    log = await stop(worker)
    by_id = one_each(results, list(ids.values()))
    assert {kind: by_id[i]["Outcome"] for kind, i in ids.items()} == {
        "sent": "sent",
        "duplicate": "duplicate",
        "failed": "failed",
        "invalid": "invalid",
    }
    assert sum(refused.values()) > 0, "the outage did not happen"
    assert log.count('"repeat": true') >= 4, "each message came back at least once"
    assert harness.admin.calls().sent_by_user == {user: 1}
    assert len(await dead_letters(harness)) == 1
    print(f"delete outage: refused {refused}, {len(results)} results for {len(ids)} messages")


async def test_dead_letter_outage_one_result_and_one_copy_per_body(
    harness: Harness, spawn: Spawn
) -> None:
    worker = await spawn("dlq-outage")
    harness.admin.fail_sqs(["SendMessage", "SendMessageBatch"], 15, "-dlq")
    bodies = [f"invalid body {n}" for n in range(10)]
    ids = [await harness.send(body) for body in bodies]
    results = await results_until_drained(harness, 90)
    refused = harness.admin.sqs_faults()["refused"]
    log = await stop(worker)
    one_each(results, ids)
    copies = await dead_letters(harness)
    assert Counter(copy["body"] for copy in copies) == Counter(bodies)
    assert sum(refused.values()) > 0, "the outage did not happen"
    assert "dead-letter copy failed; it is retried" in log
    print(f"dead-letter outage: refused {refused}, {len(results)} results, {len(copies)} copies")


async def test_a_redrive_policy_tightened_under_the_worker_is_followed(
    harness: Harness, spawn: Spawn
) -> None:
    resources = harness.resources
    user = resources.unconfirmed_users[0].username
    harness.admin.set_faults(user_errors={user: "LimitExceededException"})
    worker = await spawn(
        "redrive",
        RESEND_REDRIVE_REFRESH_SECONDS="10",
        RESEND_DEFER_MAX_SECONDS="1",
        RESEND_MAX_ATTEMPTS="8",
    )
    policy = {"deadLetterTargetArn": resources.dead_letter_queue_arn, "maxReceiveCount": "3"}
    await harness.sqs.set_queue_attributes(
        QueueUrl=resources.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
    await asyncio.sleep(11)  # one refresh
    message_id = await harness.send({"ClientId": resources.client_id, "Username": user})
    results = await results_until_drained(harness, 40)
    log = await stop(worker)
    [result] = results
    assert result["MessageId"] == message_id
    assert result["Outcome"] == "failed" and result["Attempts"] == 3
    assert result["Error"]["Code"] == "LimitExceededException"
    assert "redrive policy changed under the worker" in log
    [copy] = await dead_letters(harness)
    assert copy["attributes"]["source_message_id"] == message_id


async def test_refuses_to_start_when_the_redrive_policy_cannot_fit(
    harness: Harness, spawn: Spawn
) -> None:
    resources = harness.resources
    policy = {"deadLetterTargetArn": resources.dead_letter_queue_arn, "maxReceiveCount": "3"}
    await harness.sqs.set_queue_attributes(
        QueueUrl=resources.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
    with pytest.raises(AssertionError, match="did not start") as caught:
        await spawn("tight", RESEND_MAX_ATTEMPTS="8")
    assert "maxReceiveCount (3) is below RESEND_MAX_ATTEMPTS (8)" in str(caught.value)
