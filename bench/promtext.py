"""Read the worker's histograms from its /metrics page, and quantiles from histogram buckets.

The latency breakdown uses the worker's own instruments (rate-limit wait, Cognito call, message
age), scraped at the start and end of the measured window and subtracted, so warm-up traffic does
not count. Quantiles come from cumulative buckets by linear interpolation, as PromQL's
``histogram_quantile`` computes them; means are exact (sum / count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts by upper bound (``+Inf`` included), with sum and count."""

    buckets: tuple[tuple[float, float], ...]
    total: float
    count: float

    def minus(self, earlier: Histogram) -> Histogram:
        before = dict(earlier.buckets)
        return Histogram(
            tuple((le, value - before.get(le, 0.0)) for le, value in self.buckets),
            self.total - earlier.total,
            self.count - earlier.count,
        )

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def quantile(self, q: float) -> float:
        """histogram_quantile(q): interpolate inside the bucket holding the q-th observation."""
        if not self.count or not self.buckets:
            return math.nan
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for le, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(le):
                    return lower_bound  # PromQL answers the highest finite bound
                span = cumulative - lower_count
                fraction = (rank - lower_count) / span if span else 0.0
                return lower_bound + (le - lower_bound) * fraction
            lower_bound, lower_count = le, cumulative
        return lower_bound


def parse_histograms(text: str) -> dict[str, Histogram]:
    """Every unlabelled histogram of a Prometheus text page, by name (without ``_bucket``)."""
    found: dict[str, Histogram] = {}
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        buckets: list[tuple[float, float]] = []
        total = count = 0.0
        labelled = False
        for sample in family.samples:
            extra = {k: v for k, v in sample.labels.items() if k != "le"}
            if extra:
                labelled = True
                continue
            if sample.name.endswith("_bucket"):
                buckets.append((float(sample.labels["le"]), float(sample.value)))
            elif sample.name.endswith("_sum"):
                total = float(sample.value)
            elif sample.name.endswith("_count"):
                count = float(sample.value)
        if buckets or not labelled:
            found[family.name] = Histogram(tuple(sorted(buckets)), total, count)
    return found


async def scrape(url: str) -> dict[str, Histogram]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(url) as answer,
    ):
        answer.raise_for_status()
        return parse_histograms(await answer.text())
