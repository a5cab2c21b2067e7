"""Micro-batching for the SQS and SNS batch APIs.

Deletes, visibility changes and publications arrive one message at a time from concurrent tasks;
the batch APIs take ten. A ``Batcher`` gathers items for at most ``linger`` seconds (or until ten
are waiting), sends one call, and hands each caller its own entry's outcome, so per-entry failures
of DeleteMessageBatch and PublishBatch reach the message they belong to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from resend_contract.aws_errors import EntryFailed, entry_failure

T = TypeVar("T")
R = TypeVar("R")

# One call's outcome per item, in order: a value, or the exception for that entry.
FlushFn = Callable[[Sequence[T]], Awaitable[Sequence["R | BaseException"]]]

SQS_BATCH_MAX = 10


def entry_outcomes(response: Mapping[str, Any], count: int) -> list[BaseException | None]:
    """Per-entry results of an SQS or SNS batch call whose entry ids are their indexes."""
    outcomes: list[BaseException | None] = [None] * count
    for failed in response.get("Failed", []):
        outcomes[int(failed["Id"])] = EntryFailed(entry_failure(failed))
    return outcomes


class Batcher(Generic[T, R]):
    def __init__(
        self, flush: FlushFn[T, R], *, max_size: int = SQS_BATCH_MAX, linger: float = 0.005
    ) -> None:
        self._flush = flush
        self._max_size = max_size
        self._linger = linger
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._calls: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_size:
            self._send()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._linger, self._send)
        # Shielded: a caller cancelled mid-flight must not lose the other entries' results.
        return await asyncio.shield(future)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[: self._max_size], self._pending[self._max_size :]
        if self._pending:
            self._timer = asyncio.get_running_loop().call_later(0, self._send)
        if batch:
            task = asyncio.create_task(self._call(batch))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _call(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._flush([item for item, _ in batch])
        except Exception as exc:
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def drain(self) -> None:
        """Send whatever is waiting and wait for every call under way (used at shutdown)."""
        while self._pending or self._calls:
            if self._pending:
                self._send()
            if self._calls:
                await asyncio.gather(*self._calls, return_exceptions=True)
