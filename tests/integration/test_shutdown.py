"""SIGTERM in the middle of work: every request ends with exactly one result or back in the queue.

The worker runs as a real process, as an orchestrator runs it. Its whole log is also scanned for
the client secret, SecretHash values and email addresses, which must never appear.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devstack import DevUser
from worker.secret_hash import secret_hash

from .harness import FAST, Harness, spawn_worker

pytestmark = pytest.mark.integration

USERS = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.mark.parametrize(
    ("latency_ms", "shutdown_timeout", "max_rps", "finishes_all"),
    # The second: calls start every 5 s and take 5 s; at the 8 s timeout one call is under way
    # (waited for, never cancelled) and the messages still waiting for a token go back.
    [(1500, "15", "10", True), (5000, "8", "0.2", False)],
    ids=["in-flight-finish", "in-flight-returned"],
)
async def test_sigterm_mid_batch(
    harness: Harness, latency_ms: int, shutdown_timeout: str, max_rps: str, finishes_all: bool
) -> None:
    resources = harness.resources
    users = [DevUser(f"term-{i}", f"term-{i}@example.org") for i in range(USERS)]
    harness.admin.add_users(resources.user_pool_id, users)
    harness.admin.set_faults(latency_ms=latency_ms)
    port = free_port()
    env = {
        **os.environ,
        **resources.worker_env(),
        **FAST,
        "RESEND_METRICS_PORT": str(port),
        "RESEND_LOG_LEVEL": "DEBUG",
        "RESEND_LOG_FORMAT": "json",
        "RESEND_CONCURRENCY": "4",
        "RESEND_SHUTDOWN_TIMEOUT_SECONDS": shutdown_timeout,
        "RESEND_COGNITO_CONNECT_TIMEOUT_SECONDS": "1",
        "RESEND_COGNITO_READ_TIMEOUT_SECONDS": "7",
        "RESEND_COGNITO_MAX_RPS": max_rps,
    }
    for user in users:
        await harness.send(
            {"ClientId": resources.client_id, "Username": user.username, "RequestId": user.username}
        )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        # Wait until the worker is busy: messages in flight, calls under way.
        deadline = time.monotonic() + 30
        while (await harness.depth())[1] < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert probe(port, "/readyz") == 200
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.1)
        assert probe(port, "/readyz") == 503  # not ready as soon as shutdown starts
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, output.decode()[-3000:]

    results = await harness.all_results()
    answered = [r["RequestId"] for r in results]
    assert len(answered) == len(set(answered)), "a request was answered twice"
    assert all(r["Outcome"] == "sent" for r in results)
    # The rest is back in the queue, visible at once, none lost.
    remaining: list[str] = []
    for _ in range(5):
        answer = await harness.sqs.receive_message(
            QueueUrl=resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        remaining += [json.loads(m["Body"])["RequestId"] for m in answer.get("Messages", [])]
    assert sorted(answered + remaining) == sorted(u.username for u in users)
    assert not set(answered) & set(remaining)
    calls = harness.admin.calls()
    # Every code sent was answered: no call was cut off and its message handed back.
    assert sum(calls.sent_by_user.values()) == len(answered)
    if finishes_all:
        assert len(answered) >= 4
    else:
        assert remaining, "messages whose call never started must be returned"
        assert len(answered) >= 2, "the call under way at the timeout was waited for"

    log = output.decode()
    forbidden = (
        [resources.client_secret]
        + [u.email for u in users]
        + [secret_hash(resources.client_secret, u.username, resources.client_id) for u in users]
    )
    leaks = [needle for needle in forbidden if needle in log]
    assert not leaks, f"secrets or emails in the log: {len(leaks)}"
    assert '"message_id"' in log  # the scan did read the worker's per-message lines


async def test_sigterm_under_steady_load(harness: Harness, tmp_path: Path) -> None:
    """As an orchestrator stops a replica: traffic keeps arriving while it shuts down."""
    resources = harness.resources
    users = [DevUser(f"steady-{i:03d}", f"steady-{i:03d}@example.org") for i in range(300)]
    harness.admin.add_users(resources.user_pool_id, users)
    harness.admin.set_faults(latency_ms=300, jitter_ms=300)
    worker = await spawn_worker(
        resources,
        tmp_path,
        "steady",
        RESEND_CONCURRENCY="8",
        RESEND_SHUTDOWN_TIMEOUT_SECONDS="3",
        RESEND_COGNITO_CONNECT_TIMEOUT_SECONDS="1",
        RESEND_COGNITO_READ_TIMEOUT_SECONDS="2",
        RESEND_COGNITO_MAX_RPS="100",
        RESEND_LOG_LEVEL="DEBUG",
    )
    sent: list[str] = []

    async def produce() -> None:
        for user in users:
            await harness.send(
                {
                    "ClientId": resources.client_id,
                    "Username": user.username,
                    "RequestId": user.username,
                }
            )
            sent.append(user.username)
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(produce())
    await asyncio.sleep(3)
    signalled = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(worker.process.wait(), 30)
    took = time.monotonic() - signalled
    await producer
    assert code == 0
    assert took < 3 + 5, f"shutdown took {took:.1f}s with a 3 s timeout"

    log = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    signal_at = next(i for i, e in enumerate(log) if e["event"] == "signal received; shutting down")
    [finishing] = [e for e in log if e["event"] == "finishing in-flight messages"]
    after = [e for e in log[signal_at:] if "message_id" in e and e.get("outcome")]
    # Stopped receiving at once: nothing was handled after the signal but what was in flight.
    assert len(after) <= finishing["in_flight"]

    results = await harness.all_results()
    answered = [r["RequestId"] for r in results]
    assert len(answered) == len(set(answered)), "a request was answered twice"
    remaining: list[str] = []
    while True:
        answer = await harness.sqs.receive_message(
            QueueUrl=resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        if not answer.get("Messages"):
            break
        remaining += [json.loads(m["Body"])["RequestId"] for m in answer["Messages"]]
    assert sorted(answered + remaining) == sorted(sent), "a request was lost"
