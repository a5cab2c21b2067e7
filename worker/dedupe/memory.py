"""The in-process dedupe store, for a single replica.

Nothing is shared between processes, so two replicas would each send a code: use Redis or
DynamoDB as soon as there is more than one. Every method body runs without awaiting, so on one
event loop each operation is atomic without a lock.

Memory is bounded by ``max_entries``: expired records go first (a heap ordered by expiry finds
them without scanning), then the least recently written live ones, which are the closest to
the end of their window. Entries keep the result as its JSON text and become a ``Record`` only
when read: a decoded result costs several times the memory of its text, and most stored
results are never read again.
"""

from __future__ import annotations

import heapq
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from worker.dedupe.base import Claim, DedupeStore, Record, Status


class _Entry(NamedTuple):
    status: Status
    owner: str
    expires_at: float
    result_json: str | None
    lease_expires_at: float | None = None

    def record(self, key: str) -> Record:
        result = None if self.result_json is None else json.loads(self.result_json)
        return Record(key, self.status, self.owner, self.expires_at, result, self.lease_expires_at)


class MemoryDedupeStore(DedupeStore):
    def __init__(self, max_entries: int, *, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        # Ordered by last write, so the first entry is the one to evict when all are live.
        self._records: OrderedDict[str, _Entry] = OrderedDict()
        # (expires_at, key) for every write; entries made stale by a later write are skipped
        # because the record's own expires_at is checked before anything is dropped.
        self._expiries: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._records)

    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        now = self._clock()
        current = self._live(key, now)
        if current is not None and not (
            current.status is Status.IN_PROGRESS and current.owner == owner
        ):
            return Claim(won=False, existing=current.record(key))
        self._write(key, _Entry(Status.IN_PROGRESS, owner, now + lease_seconds, None), now)
        return Claim(won=True, existing=None)

    async def _renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        now = self._clock()
        current = self._live(key, now)
        if current is None or current.owner != owner:
            return False
        if current.status is Status.SENDING:
            if current.lease_expires_at is None or current.lease_expires_at <= now:
                return False
            self._records[key] = current._replace(lease_expires_at=now + lease_seconds)
            return True
        if current.status is not Status.IN_PROGRESS:
            return False
        self._write(key, _Entry(Status.IN_PROGRESS, owner, now + lease_seconds, None), now)
        return True

    async def _mark_sending(
        self,
        key: str,
        owner: str,
        result_json: str,
        lease_seconds: float,
        window_seconds: float,
    ) -> bool:
        now = self._clock()
        current = self._live(key, now)
        if current is None or current.owner != owner:
            return False
        if current.status is Status.SENDING:
            return True
        if current.status is not Status.IN_PROGRESS:
            return False
        entry = _Entry(
            Status.SENDING, owner, now + window_seconds, result_json, now + lease_seconds
        )
        self._write(key, entry, now)
        return True

    async def _complete(
        self, key: str, owner: str, result_json: str, window_seconds: float
    ) -> bool:
        now = self._clock()
        current = self._live(key, now)
        if current is None or current.owner != owner:
            return False
        if current.status is Status.COMPLETED:
            return True
        self._write(key, _Entry(Status.COMPLETED, owner, now + window_seconds, result_json), now)
        return True

    async def _update_result(self, key: str, owner: str, result_json: str) -> bool:
        now = self._clock()
        current = self._live(key, now)
        if current is None or current.owner != owner or current.status is not Status.COMPLETED:
            return False
        self._records[key] = current._replace(result_json=result_json)
        return True

    async def _release(self, key: str, owner: str) -> None:
        current = self._records.get(key)
        if (
            current is not None
            and current.status in (Status.IN_PROGRESS, Status.SENDING)
            and current.owner == owner
        ):
            del self._records[key]

    async def _get(self, key: str) -> Record | None:
        current = self._live(key, self._clock())
        return None if current is None else current.record(key)

    async def _ping(self) -> None:
        return None

    async def _close(self) -> None:
        self._records.clear()
        self._expiries.clear()

    def _live(self, key: str, now: float) -> _Entry | None:
        record = self._records.get(key)
        if record is None:
            return None
        if record.expires_at <= now:
            del self._records[key]
            return None
        return record

    def _write(self, key: str, entry: _Entry, now: float) -> None:
        self._records[key] = entry
        self._records.move_to_end(key)
        heapq.heappush(self._expiries, (entry.expires_at, key))
        self._evict(now)

    def _evict(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, key = heapq.heappop(expiries)
            record = self._records.get(key)
            if record is not None and record.expires_at <= now:
                del self._records[key]
        while len(self._records) > self._max_entries:
            self._records.popitem(last=False)
        # Renewals and evictions leave stale heap entries behind; rebuild before they dominate.
        if len(expiries) > 2 * len(self._records) + 1024:
            self._expiries = [(r.expires_at, k) for k, r in self._records.items()]
            heapq.heapify(self._expiries)
