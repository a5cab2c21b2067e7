"""A worker process that has handled nothing yet already exports every series operators read.

A labelled counter that does not exist yet shows "No data" on the dashboard and gives ``increase()``
no earlier sample, so an alert on it misses the first event. Every selector of the dashboard and
the rules must therefore find a series (at 0) on a fresh worker's /metrics.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack import DevResources

from .artifacts import (
    GRAFANA_BUILTINS,
    SCRAPE_SERIES,
    alert_rules,
    panel_queries,
    substitute,
    variable_query,
    variables,
)
from .processes import free_port, start_worker
from .promql import Selector, parse_label_values, selectors

pytestmark = pytest.mark.integration

# Labels Prometheus attaches to every series of a target; the worker never exports them.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod"})
PLACEHOLDERS = {**GRAFANA_BUILTINS, "namespace": ".*", "instance": ".*"}
# The series that existed before start-up exported known label values, for the record.
WERE_MISSING = {
    "resend_worker_dedupe_hits_total",
    "resend_worker_dedupe_store_errors_total",
    "resend_worker_deferrals_total",
    "resend_worker_permanent_failures_total",
    "resend_worker_retries_total",
}

# Not created at start while ResendWorkerCognitoConfigError handles a series' first appearance
# itself (see worker.metrics.known_label_values): its zeros would make that rule fire.
NOT_PRESET = frozenset({"resend_worker_cognito_requests_total"})

Sample = tuple[str, dict[str, str]]


def used_selectors() -> Iterator[tuple[str, Selector]]:
    for query in panel_queries():
        for selector in selectors(substitute(query.expr, PLACEHOLDERS)):
            yield query.label, selector
    for name in ("namespace", "instance"):
        selector_text, _ = parse_label_values(variable_query(variables()[name]))
        for selector in selectors(substitute(selector_text, PLACEHOLDERS)):
            yield f"variable {name}", selector
    for rule in alert_rules():
        for selector in selectors(rule["expr"]):
            yield str(rule["alert"]), selector


def matches(selector: Selector, name: str, labels: dict[str, str]) -> bool:
    if name != selector.name:
        return False
    for matcher in selector.matchers:
        if matcher.label in TARGET_LABELS or matcher.label == "__name__":
            continue
        value = labels.get(matcher.label, "")
        found = {
            "=": value == matcher.value,
            "!=": value != matcher.value,
            "=~": re.fullmatch(matcher.value, value) is not None,
            "!~": re.fullmatch(matcher.value, value) is None,
        }[matcher.operator]
        if not found:
            return False
    return True


def missing(samples: list[Sample]) -> list[str]:
    gaps = []
    for where, selector in used_selectors():
        if selector.name is None or selector.name in SCRAPE_SERIES | NOT_PRESET:
            continue
        if not any(matches(selector, name, labels) for name, labels in samples):
            shown = ", ".join(f"{m.label}{m.operator}{m.value!r}" for m in selector.matchers)
            gaps.append(f"{where}: {selector.name}{{{shown}}}")
    return gaps


def test_the_matcher_can_fail() -> None:
    """The check below must be able to find a gap, or it proves nothing."""
    samples: list[Sample] = [("resend_worker_sns_publish_total", {"result": "ok"})]
    (selector,) = selectors('sum(rate(resend_worker_sns_publish_total{result="error"}[5m]))')
    assert not matches(selector, *samples[0])
    (regex,) = selectors('resend_worker_sns_publish_total{result=~"ok|error"}')
    assert matches(regex, *samples[0])
    assert missing(samples), "an empty /metrics must leave gaps"


async def test_a_fresh_worker_exports_every_series_the_dashboard_and_rules_read(
    resources: DevResources, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **resources.worker_env(),
        "RESEND_METRICS_HOST": "127.0.0.1",
        "RESEND_METRICS_PORT": str(port),
        "RESEND_LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        worker = await start_worker(tmp_path, env, url, session)
        try:
            async with session.get(url) as answer:
                text = await answer.text()
        finally:
            await worker.stop()
    samples: list[Sample] = [
        (sample.name, dict(sample.labels))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
    assert missing(samples) == []
    names = {name for name, _ in samples}
    assert names >= WERE_MISSING
    # Nothing has been asked of it yet: those series exist, at 0.
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in WERE_MISSING
    ]
    assert len(values) >= len(WERE_MISSING) and set(values) == {0.0}
