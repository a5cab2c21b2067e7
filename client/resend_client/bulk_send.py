"""Sending a stream of requests: ten a call, a bounded number of calls at once.

The input is read only as fast as SQS takes it, so a generator over a large file stays small in
memory. The send stops early, reporting the rest as failed without further calls, when SQS
refuses a call outright (no such queue, access denied) or when several calls in a row could not
connect at all: without that, an unreachable endpoint turns a large file into an hour of
retries. A ``stop`` event (Ctrl-C in the CLI) ends the reading instead: the calls under way
finish and are reported, so what was sent is always known.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from resend_contract.models import InvalidRequest, ResendRequest

from resend_client.batch import (
    SQS_BATCH_MAX_BYTES,
    SQS_BATCH_MAX_ENTRIES,
    Outcome,
    RetryPolicy,
    send_batch,
)
from resend_client.errors import EnqueueError
from resend_client.receipts import BulkOutcome, BulkProblem, BulkReport, Stop
from resend_client.request_entries import Entry, prepare

# Calls in a row whose every attempt failed to connect before the send stops.
UNREACHABLE_CALLS = 2

Requests = (
    Iterable[ResendRequest | Mapping[str, Any]] | AsyncIterable[ResendRequest | Mapping[str, Any]]
)


class BulkSend:
    """One ``enqueue_many`` run; its state lives here rather than in closures."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        fifo: bool,
        concurrency: int,
        policy: RetryPolicy,
        delay_seconds: int,
        on_outcome: Callable[[BulkOutcome], None] | None,
        stop: asyncio.Event | None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._fifo = fifo
        self._policy = policy
        self._delay = delay_seconds
        self._on_outcome = on_outcome
        self._stop = stop
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._ended_by: EnqueueError | None = None  # the refusal or connection failure
        self._unreachable_run = 0
        self.report = BulkReport()

    async def run(self, requests: Requests) -> BulkReport:
        batch: list[Entry] = []
        batch_bytes = 0
        try:
            position = 0
            async for item in _each(requests):
                if self._stopping():
                    break
                entry = self._prepare(position, item)
                position += 1
                if entry is None:
                    continue
                if batch and (
                    len(batch) == SQS_BATCH_MAX_ENTRIES
                    or batch_bytes + entry.size > SQS_BATCH_MAX_BYTES
                ):
                    await self._launch(batch)
                    batch, batch_bytes = [], 0
                batch.append(entry)
                batch_bytes += entry.size
            if batch and not self._stopping():
                await self._launch(batch)
            while self._running:
                await asyncio.gather(*self._running)
        except BaseException:
            for task in self._running:
                task.cancel()
            raise
        return self.report

    def _stopping(self) -> bool:
        if self._stop is not None and self._stop.is_set():
            self.report.stopped = "interrupted"
            return True
        return False

    def _prepare(self, position: int, item: ResendRequest | Mapping[str, Any]) -> Entry | None:
        try:
            return prepare(position, item, fifo=self._fifo, delay_seconds=self._delay)
        except InvalidRequest as exc:
            problem = BulkProblem(position, exc.request_id, "invalid", exc.message)
            self._record(BulkOutcome(position, problem=problem))
            return None

    async def _launch(self, entries: list[Entry]) -> None:
        await self._slots.acquire()
        if self._stopping():  # read but never handed to SQS: not sent, and not failed
            self._slots.release()
            return
        task = asyncio.create_task(self._send(entries))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _send(self, entries: list[Entry]) -> None:
        try:
            if self._ended_by is not None:
                outcomes: list[Outcome] = [self._ended_by] * len(entries)
            else:
                try:
                    outcomes = await send_batch(self._sqs, self._queue_url, entries, self._policy)
                except EnqueueError as exc:
                    self._end(exc, "refused")
                    outcomes = [exc] * len(entries)
                self._count_unreachable(outcomes)
            for entry, outcome in zip(entries, outcomes, strict=True):
                if isinstance(outcome, EnqueueError):
                    problem = BulkProblem(entry.position, entry.request_id, "failed", str(outcome))
                    self._record(BulkOutcome(entry.position, problem=problem))
                else:
                    self._record(BulkOutcome(entry.position, receipt=outcome))
        finally:
            self._slots.release()

    def _count_unreachable(self, outcomes: list[Outcome]) -> None:
        errors = [o for o in outcomes if isinstance(o, EnqueueError)]
        if errors and len(errors) == len(outcomes) and all(e.unreachable for e in errors):
            self._unreachable_run += 1
            if self._unreachable_run >= UNREACHABLE_CALLS:
                self._end(errors[0], "unreachable")
        else:
            self._unreachable_run = 0

    def _end(self, error: EnqueueError, why: Stop) -> None:
        if self._ended_by is None:
            self._ended_by = error
            self.report.stopped = why
            self.report.stop_error = error

    def _record(self, outcome: BulkOutcome) -> None:
        self.report.add(outcome)
        if self._on_outcome is not None:
            self._on_outcome(outcome)


async def _each(items: Requests) -> AsyncIterator[ResendRequest | Mapping[str, Any]]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
