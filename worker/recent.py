"""This replica's own recent sends and answers, remembered in memory for a window.

The shared store is the one place replicas agree on who was called, but it can be unreachable
when a completion is due, or restart empty. What this replica itself sent (or may have sent) is
also kept here, bounded, and consulted before the store: a duplicate of one of its own sends is
answered from memory whatever state the store is in. Across replicas only the store protects.

Every answer is remembered too, whatever its outcome, by SQS message id (``AnsweredMessages``):
while DeleteMessage fails, or the dead-letter queue refuses a copy, the message comes back, and
must be deleted (or its copy retried) without publishing its result a second time.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from resend_contract.models import ErrorInfo, Outcome, Result

from worker.dedupe.compact import key_digest, pack_text, unpack_text

_EXPIRY = struct.Struct("<d")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Window(Generic[_K, _V]):
    """Entries kept for ``window_seconds``, at most ``max_entries``, oldest first.

    Ordered by insertion, which is also expiry order: every entry lives one window.
    """

    def __init__(
        self,
        max_entries: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._window = window_seconds
        self._clock = clock
        self._entries: OrderedDict[_K, _V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)


class RecentSends(_Window[int, bytes]):
    """Dedupe key -> stored result, for ``window_seconds``; the oldest go first beyond the bound.

    Held as compactly as in the memory store (``worker.dedupe.compact``): a key digest and one
    bytes object of expiry and packed JSON, since a decoded result costs over a kilobyte and the
    bound runs to hundreds of thousands.
    """

    def remember(self, key: str, document: dict[str, Any] | str) -> None:
        """Remember a result, as a dict or as its JSON text (what the store was given)."""
        now = self._clock()
        digest = key_digest(key)
        self._entries[digest] = _EXPIRY.pack(now + self._window) + _packed(document)
        self._entries.move_to_end(digest)
        self._evict(now)

    def update(self, key: str, document: dict[str, Any] | str) -> None:
        """Replace a remembered result (e.g. to note it was published), keeping its expiry."""
        digest = key_digest(key)
        entry = self._entries.get(digest)
        if entry is not None:
            self._entries[digest] = entry[: _EXPIRY.size] + _packed(document)

    def get(self, key: str) -> dict[str, Any] | None:
        digest = key_digest(key)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if _EXPIRY.unpack_from(entry)[0] <= self._clock():
            del self._entries[digest]
            return None
        document: dict[str, Any] = json.loads(unpack_text(entry[_EXPIRY.size :]))
        return document

    def _evict(self, now: float) -> None:
        entries = self._entries
        while entries:
            digest, entry = next(iter(entries.items()))
            if _EXPIRY.unpack_from(entry)[0] > now and len(entries) <= self._max_entries:
                break
            del entries[digest]


def _packed(document: dict[str, Any] | str) -> bytes:
    return pack_text(document if isinstance(document, str) else _encode(document))


@dataclass(frozen=True, slots=True)
class Answer:
    """What went out for one message, and what is still owed for it.

    Kept as a few strings rather than the result itself (a pydantic model costs about 1.7 KiB):
    a repeat needs only to be recognised and logged, never published again.
    ``copy_owed`` is the error to copy the body to the dead-letter queue with, until the copy is
    made; ``delete`` is false when the message is left for the queue's redrive policy.
    """

    message_id: str
    outcome: Outcome
    request_id: str | None
    error_code: str | None = None
    reason: str | None = None
    copy_owed: ErrorInfo | None = None
    delete: bool = True

    @property
    def result(self) -> Result:
        error = None
        if self.error_code is not None:
            error = ErrorInfo(Code=self.error_code, Message="", Reason=self.reason)
        return Result(
            Outcome=self.outcome,
            RequestId=self.request_id,
            MessageId=self.message_id,
            ClientId=None,
            Username=None,
            Error=error,
        )


class AnsweredMessages(_Window[str, tuple[float, Answer]]):
    """SQS message id -> its answer, for ``window_seconds``; the oldest go first beyond the bound.

    Nothing of the username (often an email) is kept.
    """

    def remember(
        self, result: Result, *, copy_owed: ErrorInfo | None = None, delete: bool = True
    ) -> None:
        now = self._clock()
        error = result.Error
        answer = Answer(
            result.MessageId,
            result.Outcome,
            result.RequestId,
            error.Code if error else None,
            error.Reason if error else None,
            copy_owed,
            delete,
        )
        key = result.MessageId
        self._entries[key] = (now + self._window, answer)
        self._entries.move_to_end(key)
        while self._entries:
            oldest, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now and len(self._entries) <= self._max_entries:
                break
            del self._entries[oldest]

    def copied(self, message_id: str) -> None:
        """The dead-letter copy is made: nothing more is owed but the delete."""
        entry = self._entries.get(message_id)
        if entry is not None and entry[1].copy_owed is not None:
            self._entries[message_id] = (entry[0], dataclasses.replace(entry[1], copy_owed=None))

    def get(self, message_id: str) -> Answer | None:
        entry = self._entries.get(message_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[message_id]
            return None
        return entry[1]
