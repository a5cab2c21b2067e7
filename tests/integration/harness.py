"""A harness that runs the real worker in-process against the devstack, over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack import DevResources, DevStackAdmin, DevUser
from worker.app import run_worker
from worker.settings import load_settings

FAST = {
    "RESEND_METRICS_PORT": "0",
    "RESEND_METRICS_HOST": "127.0.0.1",
    "RESEND_RECEIVE_WAIT_SECONDS": "1",
    "RESEND_LOG_LEVEL": "WARNING",
}


@dataclass
class RunningWorker:
    task: asyncio.Task[None]
    stop_event: asyncio.Event

    async def stop(self, timeout: float = 30) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, timeout)


@dataclass
class Harness:
    resources: DevResources
    sqs: Any
    admin: DevStackAdmin
    monkeypatch: pytest.MonkeyPatch
    workers: list[RunningWorker] = field(default_factory=list)

    def environment(self, unset: tuple[str, ...] = (), **overrides: str) -> None:
        for name, value in {**self.resources.worker_env(), **FAST, **overrides}.items():
            self.monkeypatch.setenv(name, value)
        for name in unset:
            self.monkeypatch.delenv(name, raising=False)

    async def start(self, unset: tuple[str, ...] = (), **overrides: str) -> RunningWorker:
        self.environment(unset, **overrides)
        settings = load_settings()
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_worker(settings, ready=ready, stop=stop))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert ready.is_set(), "the worker did not become ready"
        worker = RunningWorker(task, stop)
        self.workers.append(worker)
        return worker

    async def send(
        self, body: str | dict[str, Any], *, queue_url: str | None = None, **params: Any
    ) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        answer = await self.sqs.send_message(
            QueueUrl=queue_url or self.resources.queue_url, MessageBody=text, **params
        )
        return str(answer["MessageId"])

    def add_users(self, prefix: str, count: int) -> list[str]:
        """``count`` unconfirmed users in the pool, named ``<prefix>-000``..."""
        names = [f"{prefix}-{i:04d}" for i in range(count)]
        users = [DevUser(name, f"{name}@example.net") for name in names]
        self.admin.add_users(self.resources.user_pool_id, users)
        return names

    async def send_batch(self, bodies: list[dict[str, Any]]) -> None:
        """Send with SendMessageBatch, ten a call, the way producers send in bulk."""
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(body)}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            answer = await self.sqs.send_message_batch(
                QueueUrl=self.resources.queue_url, Entries=entries
            )
            assert not answer.get("Failed")

    async def results(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        """Collect ``count`` results from the subscribed queue (raw delivery), then a bit more."""
        collected: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(collected) < count and time.monotonic() < deadline:
            collected.extend(await self._receive_results(1))
        # Anything beyond the expected count would be a second result for some request.
        collected.extend(await self._receive_results(0))
        return collected

    async def all_results(self) -> list[dict[str, Any]]:
        """Every result published so far: receive until the results queue answers empty."""
        collected: list[dict[str, Any]] = []
        while batch := await self._receive_results(1):
            collected.extend(batch)
        return collected

    async def _receive_results(self, wait: int) -> list[dict[str, Any]]:
        answer = await self.sqs.receive_message(
            QueueUrl=self.resources.results_queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
        )
        results = []
        for message in answer.get("Messages", []):
            result = json.loads(message["Body"])
            result["_attributes"] = {
                name: value["StringValue"]
                for name, value in message.get("MessageAttributes", {}).items()
            }
            results.append(result)
            await self.sqs.delete_message(
                QueueUrl=self.resources.results_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return results

    async def depth(self, queue_url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        answer = await self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attributes = answer["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


@dataclass
class WorkerProcess:
    """The worker as an orchestrator runs it: its own process, its log in a file."""

    process: asyncio.subprocess.Process
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def terminate(self, timeout: float = 60) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def spawn_worker(
    resources: DevResources, log_dir: Path, name: str, **overrides: str
) -> WorkerProcess:
    env = {
        **os.environ,
        **resources.worker_env(),
        **FAST,
        "RESEND_LOG_FORMAT": "json",
        "RESEND_LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", "run", env=env, stdout=log, stderr=log
        )
    worker = WorkerProcess(process, log_path)
    deadline = time.monotonic() + 30
    while '"worker ready"' not in worker.log():
        if process.returncode is not None or time.monotonic() > deadline:
            await worker.kill()
            raise AssertionError(f"worker {name} did not start:\n{worker.log()[-3000:]}")
        await asyncio.sleep(0.05)
    return worker
