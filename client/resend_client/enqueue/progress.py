"""A one-line progress bar for bulk sends, drawn on stderr only when stderr is a terminal.

Redrawn at most ten times a second, so a fast send of 100,000 requests spends nothing on it;
when stderr is a file or a pipe it stays silent and the summary says it all.
"""

from __future__ import annotations

import time
from typing import TextIO

_REDRAW_SECONDS = 0.1
_BAR_WIDTH = 30


class ProgressBar:
    def __init__(self, total: int, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._stream = stream
        self._enabled = stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def advance(self, *, failed: bool = False) -> None:
        self.done += 1
        self.failed += failed
        now = time.monotonic()
        if self._enabled and (now - self._drawn_at >= _REDRAW_SECONDS or self.done == self.total):
            self._draw(now)

    def line(self, now: float) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        elapsed = max(now - self._started, 1e-9)
        failed = f"  {self.failed:,} failed" if self.failed else ""
        return (
            f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {self.done:,}/{self.total:,} "
            f"{fraction:4.0%}  {self.done / elapsed:,.0f}/s{failed}"
        )

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        self._stream.write("\r" + self.line(now) + "\033[K")
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()
