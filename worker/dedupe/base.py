"""The dedupe store contract shared by every backend.

A record says one of three things about a user:

- INPROGRESS: someone claimed the user and has not called Cognito yet. A short lease its owner
  keeps renewing; a worker that dies here blocks its user only until the lease runs out, since
  nothing was sent.
- SENDING: the owner is about to write (or has written) the request to Cognito. From here a code
  may have been sent, so the record lives for the whole dedupe window, whatever becomes of its
  owner, and carries the provisional result (outcome unknown) to answer with. The owner's lease
  (``lease_expires_at``) still says whether it is alive: while it is, others wait for the
  outcome; once it lapses, the owner vanished mid-call and its record answers for it.
- COMPLETED: a code was sent (or may have been) recently; until the window ends, with the
  result to answer duplicates with.

The model follows Powertools for AWS Lambda's idempotency records, with a lease instead of an
hour-long INPROGRESS, and SENDING added so that a lease lapsing mid-call never lets a second
call through.

Every write is conditional on the owner token, so a worker whose lease lapsed and was taken over
can never overwrite or delete the new owner's record. All operations are also safe to retry with
the same owner (a claim or complete that already took effect answers as if it just did), which
is what lets the backends' clients retry timeouts at all.

The public methods here are the only place that validates arguments, serialises results, times
operations into ``dedupe_store_duration`` and turns any backend failure into
``DedupeStoreError``; backends implement the underscored hooks. Whether to fail open or closed
on an error is the caller's decision.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from worker import metrics

T = TypeVar("T")
# Four store calls a message: their metrics' children are looked up once.
_DURATIONS = metrics.Children(metrics.dedupe_store_duration)
_ERRORS = metrics.Children(metrics.dedupe_store_errors)


class Status(StrEnum):
    IN_PROGRESS = "INPROGRESS"
    SENDING = "SENDING"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class Record:
    """One user's dedupe state.

    ``expires_at`` is unix seconds (the store's clock): the lease end while INPROGRESS, the
    window end once SENDING or COMPLETED. ``lease_expires_at`` is the owner's lease on a SENDING
    record (None otherwise). ``result`` is set on SENDING (the provisional result) and COMPLETED
    records.
    """

    key: str
    status: Status
    owner: str
    expires_at: float
    result: dict[str, Any] | None
    lease_expires_at: float | None = None

    def abandoned(self, now: float) -> bool:
        """A SENDING record whose owner stopped renewing: it vanished mid-call."""
        return (
            self.status is Status.SENDING
            and self.lease_expires_at is not None
            and self.lease_expires_at <= now
        )


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim; ``existing`` is the live record that blocked it (None when won)."""

    won: bool
    existing: Record | None


class ResultJson(str):
    """A result already serialised the way every store keeps it (``result_json``).

    Stores take one in place of a dict, so that a result written to the store and remembered in
    memory, then written again marked published, is serialised once rather than each time.
    """

    __slots__ = ()


class DedupeStoreError(Exception):
    """The store could not answer. Messages name the operation and error class, never data."""


class DedupeStore(ABC):
    """An atomic, lease-based claim on a dedupe key."""

    # True for a store held in the worker's own memory: it cannot be unreachable, and loses its
    # records only when the process does.
    in_process: ClassVar[bool] = False

    async def claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        """Take the key unless a live record holds it (one absent or with expires_at <= now).

        A claim by the owner of the live INPROGRESS record wins again and restarts its lease, so
        a retried claim whose first attempt took effect still reports a win.
        """
        _check_ids(key, owner)
        _check_duration("lease_seconds", lease_seconds)
        return await self._observe("claim", self._claim(key, owner, lease_seconds))

    async def renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Restart the lease at now + lease_seconds if the owner still holds an unexpired lease.

        On a SENDING record this restarts ``lease_expires_at`` and leaves the window alone.
        """
        _check_ids(key, owner)
        _check_duration("lease_seconds", lease_seconds)
        return await self._observe("renew", self._renew(key, owner, lease_seconds))

    async def mark_sending(
        self,
        key: str,
        owner: str,
        result: dict[str, Any] | ResultJson,
        lease_seconds: float,
        window_seconds: float,
    ) -> bool:
        """Turn the owner's live INPROGRESS record into SENDING, before the call goes out.

        The record then lives until now + window_seconds with ``result`` (the provisional,
        outcome-unknown result) and the owner's lease until now + lease_seconds. False when the
        owner no longer holds the lease: then the call must not be made. True again if the same
        owner already marked it.
        """
        _check_ids(key, owner)
        _check_duration("lease_seconds", lease_seconds)
        _check_duration("window_seconds", window_seconds)
        return await self._observe(
            "mark_sending",
            self._mark_sending(key, owner, _result_json(result), lease_seconds, window_seconds),
        )

    async def complete(
        self, key: str, owner: str, result: dict[str, Any] | ResultJson, window_seconds: float
    ) -> bool:
        """Turn the owner's INPROGRESS or SENDING record into COMPLETED until now + window_seconds.

        A SENDING record is completed even after its owner's lease lapsed (a completion written
        late, once the store is back); it can never have been taken over. False when the record
        is gone or not the owner's; true again if the same owner already completed it.
        """
        _check_ids(key, owner)
        _check_duration("window_seconds", window_seconds)
        return await self._observe(
            "complete", self._complete(key, owner, _result_json(result), window_seconds)
        )

    async def update_result(
        self, key: str, owner: str, result: dict[str, Any] | ResultJson
    ) -> bool:
        """Replace the result of the owner's live COMPLETED record, keeping its expiry.

        Used to note that the result went out, so a redelivery of the same message is deleted
        instead of answered twice. False when the record is gone or not the owner's.
        """
        _check_ids(key, owner)
        return await self._observe(
            "update_result", self._update_result(key, owner, _result_json(result))
        )

    async def release(self, key: str, owner: str) -> None:
        """Drop the owner's INPROGRESS or SENDING record so the next delivery can claim at once.

        Release a SENDING record only when Cognito's answer proved that nothing was sent.
        """
        _check_ids(key, owner)
        await self._observe("release", self._release(key, owner))

    async def get(self, key: str) -> Record | None:
        """The live record for the key, or None."""
        if not key:
            raise ValueError("key must be a non-empty string")
        return await self._observe("get", self._get(key))

    async def ping(self) -> None:
        """Raise DedupeStoreError unless the store answers (for readiness probes)."""
        await self._observe("ping", self._ping())

    async def close(self) -> None:
        """Release the client's connections; the store must not be used afterwards."""
        try:
            await self._close()
        except Exception as exc:
            raise DedupeStoreError(f"dedupe store close failed: {type(exc).__name__}") from exc

    async def __aenter__(self) -> DedupeStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _observe(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            value = await call
        except DedupeStoreError:
            self._record(operation, started, failed=True)
            raise
        except Exception as exc:
            self._record(operation, started, failed=True)
            # Only the class name: client messages can carry endpoints, keys or values.
            raise DedupeStoreError(
                f"dedupe store {operation} failed: {type(exc).__name__}"
            ) from exc
        self._record(operation, started, failed=False)
        return value

    @staticmethod
    def _record(operation: str, started: float, *, failed: bool) -> None:
        _DURATIONS(operation).observe(time.perf_counter() - started)
        if failed:
            _ERRORS(operation).inc()

    @abstractmethod
    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim: ...

    @abstractmethod
    async def _renew(self, key: str, owner: str, lease_seconds: float) -> bool: ...

    @abstractmethod
    async def _mark_sending(
        self,
        key: str,
        owner: str,
        result_json: str,
        lease_seconds: float,
        window_seconds: float,
    ) -> bool: ...

    @abstractmethod
    async def _complete(
        self, key: str, owner: str, result_json: str, window_seconds: float
    ) -> bool: ...

    @abstractmethod
    async def _update_result(self, key: str, owner: str, result_json: str) -> bool: ...

    @abstractmethod
    async def _release(self, key: str, owner: str) -> None: ...

    @abstractmethod
    async def _get(self, key: str) -> Record | None: ...

    @abstractmethod
    async def _ping(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...


def result_json(result: dict[str, Any]) -> ResultJson:
    """Serialised here so every backend stores and returns exactly the same JSON value, and a
    result that is not JSON fails as the programming error it is, not as a store outage."""
    text = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if not text.startswith("{"):
        raise TypeError("result must be a dict")
    return ResultJson(text)


def _result_json(result: dict[str, Any] | ResultJson) -> str:
    return result if isinstance(result, ResultJson) else result_json(result)


def _check_ids(key: str, owner: str) -> None:
    if not key or not owner:
        raise ValueError("key and owner must be non-empty strings")


def _check_duration(name: str, seconds: float) -> None:
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
