"""The consumer loop: long-poll SQS, keep N messages in flight, carry out each disposition.

A message is deleted only after its result is published. Messages still being worked on get their
visibility extended before it runs out, so a slow call never causes a redelivery. On FIFO queues a
receive's messages are processed group by group, in order; once one of a group is handed back, the
rest of that group is handed back too, so order survives retries.

Shutdown: stop receiving at once, let in-flight messages finish within the shutdown timeout,
publish and delete what finished, hand the rest back to the queue (visibility 0). A message whose
Cognito call has started is never handed back or cancelled: a code may be on its way, so it is
waited for (the settings make the timeout cover one call), recorded and answered; only messages
whose call never started go back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from resend_contract.models import ErrorInfo, Outcome

from worker import metrics
from worker.delivery import Delivery
from worker.dispositions import (
    Answer,
    AnswerAndDeadLetter,
    AnswerAndLeave,
    DeadLetterAndDelete,
    Defer,
    DeleteOnly,
    Leave,
    Publishing,
    Settled,
)
from worker.health import Health
from worker.lanes import Lane
from worker.logs import describe_error
from worker.processor import Processor
from worker.queue import Queue
from worker.results import ResultPublisher

log = structlog.get_logger(__name__)
# Looked up once per label value rather than once a message.
_PROCESSED = metrics.Children(metrics.messages_processed)
_RECEIVED = metrics.Children(metrics.messages_received)
_AGE = metrics.Children(metrics.message_age)
_PERMANENT_FAILURES = metrics.Children(metrics.permanent_failures)
_DEFERRALS = metrics.Children(metrics.deferrals)

# Extend a message's visibility when less than this share of the timeout is left.
EXTEND_WHEN_LEFT = 0.5
# Back-off after a failed receive, so a broken queue does not spin the loop.
RECEIVE_ERROR_PAUSE_SECONDS = 2.0
# A message whose publication failed comes back after this long (its result is in the store).
PUBLISH_FAILED_RETRY_SECONDS = 10
# A message whose processing raised unexpectedly comes back after this long.
INTERNAL_ERROR_RETRY_SECONDS = 30


@dataclass
class InFlight:
    delivery: Delivery
    visible_at: float  # monotonic time at which SQS would make the message visible again


class Consumer:
    def __init__(
        self,
        queue: Queue,
        publisher: ResultPublisher,
        processor: Processor,
        health: Health,
        *,
        concurrency: int,
        wait_seconds: int,
        fifo: bool,
        allowed_rps: Callable[[], float] | None = None,
        hold_seconds: float | None = None,
        lane: Lane = Lane.INTERACTIVE,
    ) -> None:
        self._queue = queue
        self._publisher = publisher
        self._processor = processor
        self._health = health
        self._concurrency = concurrency
        self._wait_seconds = wait_seconds
        self._fifo = fifo
        self._allowed_rps = allowed_rps
        self._hold_seconds = hold_seconds or queue.visibility_timeout * 0.5
        self.lane = lane
        self._in_flight: dict[str, InFlight] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        # Tasks whose Cognito call may have gone out: shutdown waits for them, never cancels.
        self._calling: set[asyncio.Task[Any]] = set()
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop receiving now; ``run`` then finishes the work in hand and returns."""
        self._stopping.set()

    async def run(self, shutdown_timeout: float) -> None:
        extender = asyncio.create_task(self._extend_visibility_forever())
        try:
            await self._poll_until_stopped()
        finally:
            await self._finish_in_flight(shutdown_timeout)
            await self._processor.flush_store()
            extender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await extender
            await self._publisher.drain()
            await self._queue.drain()

    # -- receiving -------------------------------------------------------------------------

    async def _poll_until_stopped(self) -> None:
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                free = self._capacity() - len(self._in_flight)
                if free <= 0:
                    self._slot_freed.clear()
                    await asyncio.wait(
                        {asyncio.create_task(self._slot_freed.wait()), stop_wait},
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    continue
                receive = asyncio.create_task(self._queue.receive(free, self._wait_seconds))
                await asyncio.wait({receive, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    # Shutdown during a long poll. Cancelling it could drop a response SQS has
                    # already sent, leaving its messages invisible for a whole visibility
                    # timeout; instead it finishes with the in-flight work and whatever it
                    # brings is handed straight back.
                    self._spawn(self._release_late(receive))
                    break
                try:
                    deliveries = receive.result()
                except Exception as exc:
                    log.error("receive failed", error=describe_error(exc))
                    await asyncio.sleep(RECEIVE_ERROR_PAUSE_SECONDS)
                    continue
                self._health.polled()
                metrics.last_successful_poll.set_to_current_time()
                self._dispatch(deliveries)
        finally:
            stop_wait.cancel()

    def _capacity(self) -> int:
        """Hold no more than can start within ``hold_seconds`` at the allowed rate.

        Messages waiting for rate-limit tokens keep their visibility extended, but a message
        this replica cannot start soon is better left in the queue for another one. The
        interactive lane holds up to half a visibility timeout's worth; the bulk lane, which
        gets only the tokens interactive leaves, holds its short horizon's worth.
        """
        if self._allowed_rps is None:
            return self._concurrency
        startable = int(self._allowed_rps() * self._hold_seconds)
        return max(1, min(self._concurrency, startable))

    def _dispatch(self, deliveries: list[Delivery]) -> None:
        _RECEIVED(self.lane).inc(len(deliveries))
        visible_at = time.monotonic() + self._queue.visibility_timeout
        for delivery in deliveries:
            self._in_flight[delivery.message_id] = InFlight(delivery, visible_at)
        metrics.messages_in_flight.set(len(self._in_flight))
        if self._stopping.is_set():
            self._spawn(self._release(deliveries))
        elif self._fifo:
            for group in _groups(deliveries):
                self._spawn(self._handle_group(group))
        else:
            for delivery in deliveries:
                self._spawn(self._handle_one(delivery))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one message -----------------------------------------------------------------------

    async def _handle_group(self, group: list[Delivery]) -> None:
        for index, delivery in enumerate(group):
            if self._stopping.is_set() or not await self._handle_one(delivery):
                await self._release(group[index + 1 :])
                return

    async def _handle_one(self, delivery: Delivery) -> bool:
        """Process and settle one message; True when it is finished (deleted or answered)."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=delivery.message_id,
            attempt=delivery.receive_count,
            lane=self.lane.value,
            **delivery.trace,
        )
        started = time.perf_counter()
        finished = False
        try:
            disposition = await self._processor.process(delivery, self._call_started)
            structlog.contextvars.bind_contextvars(
                duration_ms=round((time.perf_counter() - started) * 1000, 1)
            )
            if isinstance(disposition, Defer):
                await self._defer(delivery, disposition)
            else:
                finished = await self._settle(delivery, disposition)
        except asyncio.CancelledError:
            # Shutdown ran out of time: hand the message back for another replica.
            with contextlib.suppress(Exception):
                await self._queue.change_visibility(delivery.receipt_handle, 0)
            log.info("message returned to the queue at shutdown", outcome="returned")
            raise
        except Exception as exc:
            log.exception("processing failed unexpectedly", error=describe_error(exc))
            metrics.deferrals.labels("internal_error").inc()
            with contextlib.suppress(Exception):
                await self._queue.change_visibility(
                    delivery.receipt_handle, INTERNAL_ERROR_RETRY_SECONDS
                )
        finally:
            self._done(delivery)
        return finished

    def _call_started(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._calling.add(task)
            task.add_done_callback(self._calling.discard)

    async def _settle(self, delivery: Delivery, disposition: Settled) -> bool:
        """Carry out a final disposition; False when its result could not be published."""
        result = disposition.result
        match disposition:
            case Answer():
                if not await self._publish(delivery, disposition):
                    return False
                await self._delete(delivery)
            case AnswerAndDeadLetter(error=error):
                if not await self._publish(delivery, disposition):
                    return False
                if not await self._dead_letter(delivery, error):
                    return False
                await self._delete(delivery)
            case AnswerAndLeave():
                if not await self._publish(delivery, disposition):
                    return False
            case DeadLetterAndDelete(error=error):
                if not await self._dead_letter(delivery, error):
                    return False
                await self._delete(delivery)
            case DeleteOnly():
                await self._delete(delivery)
            case Leave():
                pass
        log.info(
            "message done",
            outcome=result.Outcome.value,
            error_code=result.Error.Code if result.Error else None,
            reason=result.Error.Reason if result.Error else None,
            published=isinstance(disposition, Answer | AnswerAndDeadLetter | AnswerAndLeave),
            deleted=isinstance(
                disposition, Answer | AnswerAndDeadLetter | DeleteOnly | DeadLetterAndDelete
            ),
        )
        return True

    async def _publish(self, delivery: Delivery, answer: Publishing) -> bool:
        """Publish a result; when that fails, the message comes back later (False)."""
        result = answer.result
        try:
            await self._publisher.publish(result, delivery.trace)
        except Exception as exc:
            log.error(
                "result not published; the message will come back",
                outcome=result.Outcome.value,
                error_code=result.Error.Code if result.Error else None,
                error=describe_error(exc),
            )
            await self._queue.change_visibility(
                delivery.receipt_handle, PUBLISH_FAILED_RETRY_SECONDS
            )
            return False
        await self._processor.published(answer)
        _PROCESSED(result.Outcome.value, self.lane).inc()
        _AGE(self.lane).observe(delivery.age_seconds)
        if result.Error is not None and result.Outcome is Outcome.FAILED:
            _PERMANENT_FAILURES(result.Error.Code).inc()
        return True

    async def _dead_letter(self, delivery: Delivery, error: ErrorInfo) -> bool:
        """Copy the body to the dead-letter queue; when that fails, it comes back later (False).

        The result is already out and remembered, so the redelivery makes only the copy.
        """
        try:
            await self._queue.dead_letter(delivery, error)
        except Exception as exc:
            metrics.dead_letter_failures.inc()
            log.error("dead-letter copy failed; it is retried", error=describe_error(exc))
            with contextlib.suppress(Exception):
                await self._queue.change_visibility(
                    delivery.receipt_handle, PUBLISH_FAILED_RETRY_SECONDS
                )
            return False
        self._processor.dead_lettered(delivery)
        return True

    async def _delete(self, delivery: Delivery) -> None:
        try:
            await self._queue.delete(delivery.receipt_handle)
        except Exception as exc:
            # The result is out; a redelivery is answered from the dedupe store.
            log.error("delete failed", error=describe_error(exc))

    async def _defer(self, delivery: Delivery, defer: Defer) -> None:
        _DEFERRALS(defer.reason).inc()
        await self._queue.change_visibility(delivery.receipt_handle, defer.delay)
        log.info(
            "message deferred",
            outcome="deferred",
            error_code=defer.error_code,
            reason=defer.reason,
            delay=defer.delay,
        )

    async def _release(self, deliveries: Iterable[Delivery]) -> None:
        """Hand messages back to the queue at once (shutdown, or after a FIFO group stopped)."""
        for delivery in list(deliveries):
            with contextlib.suppress(Exception):
                await self._queue.change_visibility(delivery.receipt_handle, 0)
            self._done(delivery)

    async def _release_late(self, receive: asyncio.Task[list[Delivery]]) -> None:
        try:
            deliveries = await receive
        except Exception:
            return
        if deliveries:
            _RECEIVED(self.lane).inc(len(deliveries))
            log.info("returning messages received during shutdown", count=len(deliveries))
            await self._release(deliveries)

    def _done(self, delivery: Delivery) -> None:
        self._in_flight.pop(delivery.message_id, None)
        metrics.messages_in_flight.set(len(self._in_flight))
        self._slot_freed.set()

    # -- visibility and shutdown -----------------------------------------------------------

    async def _extend_visibility_forever(self) -> None:
        timeout = self._queue.visibility_timeout
        while True:
            await asyncio.sleep(max(1.0, timeout * EXTEND_WHEN_LEFT / 3))
            now = time.monotonic()
            due = [
                entry
                for entry in list(self._in_flight.values())
                if entry.visible_at - now < timeout * EXTEND_WHEN_LEFT
            ]
            if due:
                await asyncio.gather(*(self._extend(entry, timeout) for entry in due))

    async def _extend(self, entry: InFlight, seconds: int) -> None:
        try:
            await self._queue.change_visibility(entry.delivery.receipt_handle, seconds)
        except Exception as exc:
            log.warning(
                "visibility extension failed",
                message_id=entry.delivery.message_id,
                error=describe_error(exc),
            )
            return
        entry.visible_at = time.monotonic() + seconds
        metrics.sqs_visibility_extensions.inc()

    async def _finish_in_flight(self, shutdown_timeout: float) -> None:
        if self._tasks:
            log.info("finishing in-flight messages", in_flight=len(self._in_flight))
            _, pending = await asyncio.wait(set(self._tasks), timeout=shutdown_timeout)
            calling = {task for task in pending if task in self._calling}
            for task in pending - calling:
                task.cancel()
            if calling:
                # Their calls are under way: cancelling could lose a sent code's record.
                log.warning("waiting for Cognito calls under way", calls=len(calling))
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        unfinished = [entry.delivery for entry in self._in_flight.values()]
        if unfinished:
            log.warning("returning unfinished messages to the queue", count=len(unfinished))
            await self._release(unfinished)


def _groups(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """Split a FIFO receive into its message groups, each in queue order."""
    groups: dict[str | None, list[Delivery]] = {}
    for delivery in deliveries:
        groups.setdefault(delivery.group_id, []).append(delivery)
    return list(groups.values())
