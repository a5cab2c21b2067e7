"""Keeping the worker's view of the queue's redrive policy current (``worker.redrive`` decides).

Read at start, where a policy that cannot fit the delivery budget stops the worker, and again
every ``RESEND_REDRIVE_REFRESH_SECONDS``: operators change policies while replicas run, and the
final receive must follow the policy SQS applies now, even a mismatched one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from worker import metrics, redrive
from worker.lanes import Lane
from worker.logs import describe_error
from worker.redrive import RedriveLimit, RedriveMismatch

log = structlog.get_logger(__name__)


class RedriveWatch:
    def __init__(
        self, max_attempts: int, refresh_seconds: float, lane: Lane = Lane.INTERACTIVE
    ) -> None:
        self.limit = RedriveLimit()
        self._gauge = metrics.redrive_max_receive_count.labels(lane)
        self._lane = lane
        self._max_attempts = max_attempts
        self._refresh_seconds = refresh_seconds

    def read(self, attributes: dict[str, str]) -> None:
        """Follow the policy in these queue attributes; raises RedriveMismatch when it cannot fit
        RESEND_MAX_ATTEMPTS (and follows it anyway)."""
        max_receive = redrive.max_receive_count(attributes)
        if max_receive is None:
            log.warning(
                "the queue has no redrive policy: a message the worker cannot handle stays",
                lane=self._lane.value,
            )
        self.limit.max_receive = max_receive
        self._gauge.set(max_receive or 0)
        redrive.check(max_receive, self._max_attempts)

    async def refresh_forever(self, attributes: Callable[[], Awaitable[dict[str, str]]]) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                self.read(await attributes())
            except RedriveMismatch as exc:
                # Still followed: answering on the final receive beats a silent dead letter.
                log.error("redrive policy changed under the worker", problem=str(exc))
            except Exception as exc:
                log.warning(
                    "redrive policy not read; keeping the last one", error=describe_error(exc)
                )
