"""Summaries of repeated measurements: median with min-max and the interquartile range.

One run on a shared 2-core machine proves little; every figure in the report is a ``Summary`` of
several runs, so a reader sees the spread next to the median and can tell noise from a change.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    median: float
    minimum: float
    maximum: float
    q1: float
    q3: float
    n: int
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        clean = [float(v) for v in values if v is not None and math.isfinite(v)]
        if not clean:
            nan = math.nan
            return cls(nan, nan, nan, nan, nan, 0, ())
        ordered = sorted(clean)
        return cls(
            median=statistics.median(ordered),
            minimum=ordered[0],
            maximum=ordered[-1],
            q1=percentile(ordered, 25),
            q3=percentile(ordered, 75),
            n=len(ordered),
            values=tuple(clean),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "median": _finite(self.median),
            "min": _finite(self.minimum),
            "max": _finite(self.maximum),
            "q1": _finite(self.q1),
            "q3": _finite(self.q3),
            "n": self.n,
            "values": [_finite(v) for v in self.values],
        }


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on any order of values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
