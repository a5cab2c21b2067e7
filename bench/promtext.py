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

# The label of the worker's per-lane series (interactive, bulk).
LANE = "lane"


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


def parse_histograms(text: str, *, lane: str | None = None) -> dict[str, Histogram]:
    """The histograms of a Prometheus text page, by name (without ``_bucket``).

    Unlabelled histograms as they are. A histogram labelled by ``lane`` alone is summed over its
    lanes, so it means what it meant before the worker had lanes; with ``lane`` only that lane's
    series is kept. Histograms with any other label are left out.
    """
    found: dict[str, Histogram] = {}
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        buckets: dict[float, float] = {}
        total = count = 0.0
        labelled = False
        for sample in family.samples:
            extra = {k: v for k, v in sample.labels.items() if k != "le"}
            if set(extra) - {LANE}:
                labelled = True
                continue
            if lane is not None and extra.get(LANE, lane) != lane:
                continue
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + float(sample.value)
            elif sample.name.endswith("_sum"):
                total += float(sample.value)
            elif sample.name.endswith("_count"):
                count += float(sample.value)
        if buckets or not labelled:
            found[family.name] = Histogram(tuple(sorted(buckets.items())), total, count)
    return found


def parse_counters(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every counter's samples of a Prometheus text page: name -> sorted labels -> value."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        if family.type != "counter":
            continue
        series = found.setdefault(family.name, {})
        for sample in family.samples:
            if sample.name.endswith("_total"):
                series[tuple(sorted(sample.labels.items()))] = float(sample.value)
    return found


async def scrape_text(url: str) -> str:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(url) as answer,
    ):
        answer.raise_for_status()
        return await answer.text()


async def scrape(url: str) -> dict[str, Histogram]:
    return parse_histograms(await scrape_text(url))
