"""The in-process dedupe store, for a single replica.

Nothing is shared between processes, so two replicas would each send a code: use Redis or
DynamoDB as soon as there is more than one. Every method body runs without awaiting, so on one
event loop each operation is atomic without a lock.

Memory is bounded by ``max_entries``: expired records go first, then the least recently written
live ones, which are the closest to the end of their window. Expiries are found without
scanning: every record is listed under the second it expires in, and a second's list is swept
once that second is over (so a record can outlive its expiry by under a second before its memory
is freed; reads never see it). A record whose expiry moved on is listed again under its new
second when the old one is swept, so each record is listed about once.

Each record is one bytes object under a 128-bit digest of its key (``worker.dedupe.compact``):
status and expiry (and a SENDING record's lease) as a fixed header, the owner token (a message
id and 12 hex digits, packed to 23 bytes), then the result; about 300 bytes a record in all,
against 990 for the key, a tuple and the JSON text. Compacting a result costs about 12 us, so
only the one that stays is compacted: a SENDING or just completed record keeps its result whole
for the few milliseconds until the claims mark it published (``update_result``), which
replaces it with the compact form. A result never marked published (its publish failed) stays
whole, 300 bytes more, for its window. It becomes a ``Record``
only when read: most stored results are never read again, and a decoded one costs several
times more. The claims keep no copy of their own beside this store (``in_process``).
"""

from __future__ import annotations

import heapq
import json
import math
import re
import struct
import time
from collections import OrderedDict
from collections.abc import Callable

from worker.dedupe.base import Claim, DedupeStore, Record, Status
from worker.dedupe.compact import keep_whole, key_digest, pack_text, unpack_text

# status and expires_at; a SENDING record's lease_expires_at follows, the only one it has.
_HEADER = struct.Struct("<Bd")
_LEASE = struct.Struct("<d")
_STATUSES = (Status.IN_PROGRESS, Status.SENDING, Status.COMPLETED)
_IN_PROGRESS, _SENDING, _COMPLETED = 0, 1, 2
# The owners Claims makes: "<SQS message id>/<12 hex digits>".
_OWNER = re.compile(
    r"([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})/([0-9a-f]{12})",
    re.ASCII,
)
_PACKED_OWNER, _TEXT_OWNER = b"\x00", b"\x01"
_PACKED_OWNER_SIZE = 1 + 16 + 6


def _pack_owner(owner: str) -> bytes:
    """Prefix-free, so comparing a record's owner bytes with these is comparing owners."""
    match = _OWNER.fullmatch(owner)
    if match is not None:
        return _PACKED_OWNER + bytes.fromhex("".join(match.groups()))
    text = owner.encode("utf-8", "surrogatepass")
    return _TEXT_OWNER + len(text).to_bytes(4, "little") + text


def _owner_start(value: bytes) -> int:
    return _HEADER.size + _LEASE.size if value[0] == _SENDING else _HEADER.size


def _unpack_owner(value: bytes) -> tuple[str, int]:
    """The owner of a packed record and where its result starts."""
    start = _owner_start(value)
    if value[start : start + 1] == _PACKED_OWNER:
        digits = value[start + 1 : start + _PACKED_OWNER_SIZE].hex()
        owner = (
            f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:32]}"
            f"/{digits[32:]}"
        )
        return owner, start + _PACKED_OWNER_SIZE
    length = int.from_bytes(value[start + 1 : start + 5], "little")
    end = start + 5 + length
    return value[start + 5 : end].decode("utf-8", "surrogatepass"), end


def _pack(status: int, expires_at: float, owner: bytes, result: bytes) -> bytes:
    return _HEADER.pack(status, expires_at) + owner + result


def _pack_sending(expires_at: float, lease: float, owner: bytes, result: bytes) -> bytes:
    return _HEADER.pack(_SENDING, expires_at) + _LEASE.pack(lease) + owner + result


def _expires_at(value: bytes) -> float:
    expires_at: float = _HEADER.unpack_from(value)[1]
    return expires_at


def _lease(value: bytes) -> float:
    lease: float = _LEASE.unpack_from(value, _HEADER.size)[0]
    return lease


def _owned(value: bytes, owner: bytes) -> bool:
    start = _owner_start(value)
    return value[start : start + len(owner)] == owner


def _record(key: str, value: bytes) -> Record:
    status, expires_at = _HEADER.unpack_from(value)
    owner, result_start = _unpack_owner(value)
    packed_result = value[result_start:]
    result = json.loads(unpack_text(packed_result)) if packed_result else None
    lease = _lease(value) if status == _SENDING else None
    return Record(key, _STATUSES[status], owner, expires_at, result, lease)


class MemoryDedupeStore(DedupeStore):
    in_process = True

    def __init__(self, max_entries: int, *, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        # Ordered by last write, so the first entry is the one to evict when all are live.
        self._records: OrderedDict[int, bytes] = OrderedDict()
        # Expiry second -> digests listed under it, and a heap of those seconds.
        self._expiring: dict[int, list[int]] = {}
        self._seconds: list[int] = []
        self._listed = 0

    def __len__(self) -> int:
        return len(self._records)

    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        now = self._clock()
        digest = key_digest(key)
        packed_owner = _pack_owner(owner)
        current = self._live(digest, now)
        if current is not None and not (
            current[0] == _IN_PROGRESS and _owned(current, packed_owner)
        ):
            return Claim(won=False, existing=_record(key, current))
        self._write(digest, _pack(_IN_PROGRESS, now + lease_seconds, packed_owner, b""))
        return Claim(won=True, existing=None)

    async def _renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        held = self._held(key, owner)
        if held is None:
            return False
        now, digest, packed_owner, current = held
        if current[0] == _SENDING:
            if _lease(current) <= now:
                return False
            start = _HEADER.size
            self._records[digest] = (
                current[:start] + _LEASE.pack(now + lease_seconds) + current[start + _LEASE.size :]
            )
            return True
        if current[0] != _IN_PROGRESS:
            return False
        self._write(digest, _pack(_IN_PROGRESS, now + lease_seconds, packed_owner, b""))
        return True

    async def _mark_sending(
        self,
        key: str,
        owner: str,
        result_json: str,
        lease_seconds: float,
        window_seconds: float,
    ) -> bool:
        held = self._held(key, owner)
        if held is None:
            return False
        now, digest, packed_owner, current = held
        if current[0] == _SENDING:
            return True
        if current[0] != _IN_PROGRESS:
            return False
        self._write(
            digest,
            _pack_sending(
                now + window_seconds, now + lease_seconds, packed_owner, keep_whole(result_json)
            ),
        )
        return True

    async def _complete(
        self, key: str, owner: str, result_json: str, window_seconds: float
    ) -> bool:
        held = self._held(key, owner)
        if held is None:
            return False
        now, digest, packed_owner, current = held
        if current[0] == _COMPLETED:
            return True
        self._write(
            digest,
            _pack(_COMPLETED, now + window_seconds, packed_owner, keep_whole(result_json)),
        )
        return True

    async def _update_result(self, key: str, owner: str, result_json: str) -> bool:
        held = self._held(key, owner)
        if held is None or held[3][0] != _COMPLETED:
            return False
        _, digest, packed_owner, current = held
        self._records[digest] = current[: _owner_start(current) + len(packed_owner)] + pack_text(
            result_json
        )
        return True

    async def _release(self, key: str, owner: str) -> None:
        digest = key_digest(key)
        current = self._records.get(digest)
        if (
            current is not None
            and current[0] in (_IN_PROGRESS, _SENDING)
            and _owned(current, _pack_owner(owner))
        ):
            del self._records[digest]

    async def _get(self, key: str) -> Record | None:
        current = self._live(key_digest(key), self._clock())
        return None if current is None else _record(key, current)

    async def _ping(self) -> None:
        return None

    async def _close(self) -> None:
        self._records.clear()
        self._expiring.clear()
        self._seconds.clear()
        self._listed = 0

    def _held(self, key: str, owner: str) -> tuple[float, int, bytes, bytes] | None:
        """``(now, digest, packed owner, record)`` when ``owner`` holds a live record of ``key``.

        Every write but a claim starts here: only the holder may change its record.
        """
        now = self._clock()
        digest = key_digest(key)
        packed_owner = _pack_owner(owner)
        current = self._live(digest, now)
        if current is None or not _owned(current, packed_owner):
            return None
        return now, digest, packed_owner, current

    def _live(self, digest: int, now: float) -> bytes | None:
        value = self._records.get(digest)
        if value is None:
            return None
        if _expires_at(value) <= now:
            del self._records[digest]
            return None
        return value

    def _write(self, digest: int, value: bytes) -> None:
        """Store a record just checked by ``_live`` (so any earlier one under it is live)."""
        records = self._records
        previous = records.get(digest)
        records[digest] = value
        records.move_to_end(digest)
        expires_at = _expires_at(value)
        # A live record is listed already, under a second at or before its new expiry (expiries
        # only move on), except when a write shortens it: then it is listed again, earlier.
        if previous is None or expires_at < _expires_at(previous):
            self._list(digest, expires_at)
        self._evict(self._clock())

    def _list(self, digest: int, expires_at: float) -> None:
        second = math.floor(expires_at)
        listed = self._expiring.get(second)
        if listed is None:
            self._expiring[second] = [digest]
            heapq.heappush(self._seconds, second)
        else:
            listed.append(digest)
        self._listed += 1

    def _evict(self, now: float) -> None:
        records = self._records
        seconds = self._seconds
        # A second's list is swept once the whole second is past: all of it has expired then.
        while seconds and seconds[0] + 1 <= now:
            listed = self._expiring.pop(heapq.heappop(seconds))
            self._listed -= len(listed)
            for digest in listed:
                value = records.get(digest)
                if value is None:
                    continue
                expires_at = _expires_at(value)
                if expires_at <= now:
                    del records[digest]
                else:
                    self._list(digest, expires_at)
        while len(records) > self._max_entries:
            records.popitem(last=False)
        # Evicted and released records stay listed until their second; relist from scratch
        # before those dominate.
        if self._listed > 2 * len(records) + 1024:
            self._expiring = {}
            self._seconds = []
            self._listed = 0
            for digest, value in records.items():
                self._list(digest, _expires_at(value))
