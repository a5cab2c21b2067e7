"""This replica's own recent sends, remembered in memory for the dedupe window.

The shared store is the one place replicas agree on who was called, but it can be unreachable
when a completion is due, or restart empty. What this replica itself sent (or may have sent) is
also kept here, bounded, and consulted before the store: a duplicate of one of its own sends is
answered from memory whatever state the store is in. Across replicas only the store protects.
"""

from __future__ import annotations

import json
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from worker.dedupe.compact import key_digest, pack_text, unpack_text

_EXPIRY = struct.Struct("<d")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RecentSends:
    """Dedupe key -> stored result, for ``window_seconds``; the oldest go first beyond the bound.

    Held as compactly as in the memory store (``worker.dedupe.compact``): a key digest and one
    bytes object of expiry and packed JSON, since a decoded result costs over a kilobyte and the
    bound runs to hundreds of thousands.
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
        # Ordered by insertion, which is also expiry order: every entry lives one window.
        self._entries: OrderedDict[int, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

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
