"""One receive at a time per queue: moto's ReceiveMessage is not safe across server threads.

moto's receive scans a queue, checks that each message is visible and only then marks it
received, with nothing held in between. The server answers requests on threads, so two long
polls served at once can both take the same message, the second counting it as a redelivery:
something real SQS never does within a visibility timeout, and a worker test then sees one
request answered twice by two replicas. Installed by ``DevStack.start``: each receive scans
under its queue's lock without waiting, and waits for messages outside it, so one long poll
never holds up another receiver.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.sqs.models import SQSBackend

# A guard against spinning when visible messages exist that a receive may not take (a FIFO
# group in flight): moto's wait returns at once while any message is visible.
_RESCAN_PAUSE_SECONDS = 0.002

_original = SQSBackend.receive_message
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(queue: Any) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(id(queue), threading.Lock())


def _receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> Any:
    queue = self.get_queue(queue_name)
    lock = _lock_for(queue)
    deadline = time.monotonic() + wait_seconds_timeout
    while True:
        with lock:
            received = _original(
                self, queue_name, count, 0, visibility_timeout, message_attribute_names
            )
        remaining = deadline - time.monotonic()
        if received or remaining <= 0:
            return received
        queue.wait_for_messages(min(1.0, remaining))  # type: ignore[arg-type]
        time.sleep(_RESCAN_PAUSE_SECONDS)


def install() -> None:
    """Serialise each queue's receives; calling it again changes nothing."""
    if SQSBackend.receive_message is not _receive_message:
        SQSBackend.receive_message = _receive_message  # type: ignore[method-assign]
