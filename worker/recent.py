"""This replica's own recent sends, remembered in memory for the dedupe window.

The shared store is the one place replicas agree on who was called, but it can be unreachable
when a completion is due, or restart empty. What this replica itself sent (or may have sent) is
also kept here, bounded, and consulted before the store: a duplicate of one of its own sends is
answered from memory whatever state the store is in. Across replicas only the store protects.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class RecentSends:
    """Dedupe key -> stored result, for ``window_seconds``; the oldest go first beyond the bound."""

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
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, key: str, document: dict[str, Any]) -> None:
        now = self._clock()
        self._entries[key] = (now + self._window, document)
        self._entries.move_to_end(key)
        self._evict(now)

    def update(self, key: str, document: dict[str, Any]) -> None:
        """Replace a remembered result (e.g. to note it was published), keeping its expiry."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], document)

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def _evict(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (expires_at, _) = next(iter(entries.items()))
            if expires_at > now and len(entries) <= self._max_entries:
                break
            del entries[key]
