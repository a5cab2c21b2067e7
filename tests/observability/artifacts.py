"""The operators' files under test, loaded once, and the metric catalogue they must stay within.

The dashboard, the rules and the runbook are data; the tests read them through this module so
each test states a property, not how to dig it out of JSON or YAML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY, Counter
from prometheus_client.metrics import MetricWrapperBase

import worker.metrics  # (also registers the catalogue in the default registry)
from worker.lanes import Lane

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "resend-worker-dashboard.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
ALERTS_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yaml"
PROMETHEUS_RULE = ROOT / "deploy" / "kubernetes" / "prometheusrule.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"

# Series Prometheus itself writes for every scrape target; rules may select them too.
SCRAPE_SERIES = frozenset({"up"})

# Sample names each metric family type exports, by suffix (prometheus-client's text format).
_SUFFIXES: Mapping[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "unknown": ("",),
}

# What the dashboard's variables stand for when a query is checked outside Grafana.
GRAFANA_BUILTINS: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}


# The label that tells the interactive lane (RESEND_QUEUE_URL) from the bulk one, and its values.
LANE = "lane"
LANES = frozenset(lane.value for lane in Lane)


@cache
def lane_metric_families() -> frozenset[str]:
    """The metric families the worker labels by lane, as selectors name them (counters with
    ``_total``, histograms without a suffix)."""
    families: set[str] = set()
    for value in vars(worker.metrics).values():
        if isinstance(value, MetricWrapperBase) and LANE in value._labelnames:
            suffix = "_total" if isinstance(value, Counter) else ""
            families.add(value._name + suffix)
    return frozenset(families)


def sample_family(name: str) -> str:
    """The family a sample name belongs to: ``x_bucket`` -> ``x``; counters keep ``_total``."""
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


@cache
def exported_metric_names() -> frozenset[str]:
    """Every sample name the worker's /metrics can show: its catalogue plus the default collectors.

    Labelled metrics yield no samples until first used, so names come from each family's type.
    """
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(container: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in (container or dashboard()).get("panels", []):
        yield panel
        yield from panels(panel)


@dataclass(frozen=True)
class PanelQuery:
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str

    @property
    def label(self) -> str:
        return f"{self.panel_title} [{self.ref_id}]"


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(panel["id"], panel["title"], target["refId"], target["expr"])
        for panel in panels()
        for target in panel.get("targets", [])
    ]


def variables() -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard()["templating"]["list"]}


def variable_query(variable: Mapping[str, Any]) -> str:
    """A query variable's query text (Grafana stores a string or a {query: ...} object)."""
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<plain>\w+)|\[\[(?P<old>\w+)\]\]")


def used_variables(text: str) -> set[str]:
    return {
        match.group("braced") or match.group("plain") or match.group("old")
        for match in _VARIABLE.finditer(text)
    }


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables as Grafana would; an unknown variable raises KeyError."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain") or match.group("old")
        return values[name]

    return _VARIABLE.sub(value, text)


@cache
def rule_groups() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    groups: list[dict[str, Any]] = loaded["groups"]
    return groups


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def runbook_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """Second-level runbook sections by anchor, with their text."""
    sections: dict[str, str] = {}
    anchor: str | None = None
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("## "):
            anchor = runbook_anchor(line[3:])
            sections[anchor] = ""
        elif line.startswith("# "):
            anchor = None
        elif anchor is not None:
            sections[anchor] += line + "\n"
    return sections
