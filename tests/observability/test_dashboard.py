"""The Grafana dashboard: schema, variables, datasources, and queries that parse and stay in the
metric catalogue."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .artifacts import (
    GRAFANA_BUILTINS,
    LANE,
    LANES,
    PanelQuery,
    dashboard,
    exported_metric_names,
    lane_metric_families,
    panel_queries,
    panels,
    sample_family,
    substitute,
    used_variables,
    variable_query,
    variables,
)
from .promql import metric_names, parse_label_values, selectors

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Values standing in for the variables when a query is checked outside Grafana.
VALUES = {**GRAFANA_BUILTINS, "namespace": ".*", "instance": ".*"}
QUERIES = panel_queries()
QUERY_IDS = [query.label for query in QUERIES]

# What an operator must be able to see; each is read by at least one panel.
KEY_METRICS = {
    "resend_worker_messages_processed_total",
    "resend_worker_cognito_request_duration_seconds_bucket",
    "resend_worker_cognito_requests_total",
    "resend_worker_rate_limit_allowed_rps",
    "resend_worker_rate_limit_max_rps",
    "resend_worker_retries_total",
    "resend_worker_deferrals_total",
    "resend_worker_dedupe_hits_total",
    "resend_worker_messages_in_flight",
    "resend_worker_message_age_seconds_bucket",
    "resend_worker_sns_publish_total",
    "resend_worker_last_successful_poll_timestamp_seconds",
    "resend_worker_messages_received_total",
    "resend_worker_rate_limit_wait_seconds_bucket",
}
# The Lanes row: each lane-labelled metric shown per lane, one panel each.
LANE_PANELS = {
    "Message age p50 / p95 by lane": "resend_worker_message_age_seconds_bucket",
    "Throughput by lane": "resend_worker_messages_processed_total",
    "Rate limit wait p50 / p95 by lane": "resend_worker_rate_limit_wait_seconds_bucket",
    "Received by lane": "resend_worker_messages_received_total",
}


def test_is_a_current_schema_dashboard() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert board["uid"] == "resend-worker"
    assert board["title"]
    assert board.get("id") is None, "exported dashboards carry no instance-specific id"


def test_datasource_variable_lists_prometheus_sources() -> None:
    variable = variables()["datasource"]
    assert variable["type"] == "datasource"
    assert variable["query"] == "prometheus"


@pytest.mark.parametrize(
    ("name", "selector", "label"),
    [
        ("namespace", "resend_worker_build_info", "namespace"),
        ("instance", 'resend_worker_build_info{namespace=~"$namespace"}', "instance"),
    ],
)
def test_query_variable(name: str, selector: str, label: str) -> None:
    variable = variables()[name]
    assert variable["type"] == "query"
    assert variable["datasource"] == DATASOURCE
    assert parse_label_values(variable_query(variable)) == (selector, label)
    # All must also match series without the label (ECS has no namespace): ".*" does, the
    # default alternation of every listed value would not.
    assert variable["includeAll"] is True
    assert variable["allValue"] == ".*"


@pytest.mark.parametrize("panel", list(panels()), ids=lambda panel: panel["title"])
def test_panel_uses_the_datasource_variable(panel: dict[str, Any]) -> None:
    assert panel["datasource"] == DATASOURCE
    for target in panel.get("targets", []):
        assert target.get("datasource", DATASOURCE) == DATASOURCE


def test_panel_ids_are_unique_and_ref_ids_unique_per_panel() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]


def test_panels_fit_the_grid_without_overlapping() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_query_panel_has_queries() -> None:
    for panel in panels():
        if panel["type"] != "row":
            assert panel.get("targets"), panel["title"]


@pytest.mark.parametrize("query", QUERIES, ids=QUERY_IDS)
def test_query_uses_only_defined_variables(query: PanelQuery) -> None:
    assert used_variables(query.expr) <= set(variables()) | set(GRAFANA_BUILTINS)


@pytest.mark.parametrize("query", QUERIES, ids=QUERY_IDS)
def test_query_reads_only_exported_metrics(query: PanelQuery) -> None:
    names = metric_names(substitute(query.expr, VALUES))
    assert names
    unknown = names - exported_metric_names()
    assert not unknown, f"not in worker/metrics.py: {sorted(unknown)}"


@pytest.mark.parametrize("query", QUERIES, ids=QUERY_IDS)
def test_query_follows_the_namespace_and_instance_variables(query: PanelQuery) -> None:
    # Builtins become durations; the two filters stay as written so their matchers show.
    kept = {**GRAFANA_BUILTINS, "namespace": "$namespace", "instance": "$instance"}
    for selector in selectors(substitute(query.expr, kept)):
        for label in ("namespace", "instance"):
            matcher = selector.matcher(label)
            assert matcher is not None, f"{selector.name} is not filtered on {label}"
            assert (matcher.operator, matcher.value) == ("=~", f"${label}")


def test_variable_selectors_read_only_exported_metrics() -> None:
    for name in ("namespace", "instance"):
        selector, _ = parse_label_values(variable_query(variables()[name]))
        assert metric_names(substitute(selector, VALUES)) <= exported_metric_names()


def test_dashboard_shows_the_key_metrics() -> None:
    shown = set().union(*(metric_names(substitute(q.expr, VALUES)) for q in QUERIES))
    assert shown >= KEY_METRICS, f"no panel reads {sorted(KEY_METRICS - shown)}"


def test_every_query_parses(promtool: str, tmp_path: Path) -> None:
    """promtool has no bare PromQL check here, but it parses every recording rule's expression."""
    rules = [
        {"record": f"dashboard:panel_{q.panel_id}_{q.ref_id}", "expr": substitute(q.expr, VALUES)}
        for q in QUERIES
    ]
    for name in ("namespace", "instance"):
        selector, _ = parse_label_values(variable_query(variables()[name]))
        rules.append({"record": f"dashboard:variable_{name}", "expr": substitute(selector, VALUES)})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def _grouped_by(expr: str) -> set[str]:
    """Every label named in a `by (...)` of the expression."""
    found: set[str] = set()
    for labels in re.findall(r"\bby\s*\(([^)]*)\)", expr):
        found |= {label.strip() for label in labels.split(",")}
    return found


@pytest.mark.parametrize(("title", "metric"), sorted(LANE_PANELS.items()))
def test_lane_panel_shows_its_metric_per_lane(title: str, metric: str) -> None:
    (panel,) = [p for p in panels() if p["title"] == title]
    assert sample_family(metric) in lane_metric_families(), f"{metric} has no lane label"
    targets = panel["targets"]
    assert targets
    for target in targets:
        assert metric_names(substitute(target["expr"], VALUES)) == {metric}
        # One line per lane, named after it, and no lane filtered out.
        assert LANE in _grouped_by(target["expr"]), f"{title} [{target['refId']}]"
        assert "{{lane}}" in target["legendFormat"], f"{title} [{target['refId']}]"
        for selector in selectors(substitute(target["expr"], VALUES)):
            assert selector.matcher(LANE) is None, f"{title} shows only some lanes"


def test_the_lanes_row_holds_the_lane_panels() -> None:
    rows = sorted((p["gridPos"]["y"], p["title"]) for p in panels() if p["type"] == "row")
    (lanes_y,) = [y for y, title in rows if title == "Lanes"]
    next_y = min((y for y, _ in rows if y > lanes_y), default=10**6)
    inside = {p["title"] for p in panels() if lanes_y < p["gridPos"]["y"] < next_y}
    assert inside == set(LANE_PANELS)


@pytest.mark.parametrize("query", QUERIES, ids=QUERY_IDS)
def test_a_lane_is_selected_only_by_its_exact_name(query: PanelQuery) -> None:
    """A lane matcher names a lane the worker has; a typo would show an empty panel forever."""
    for selector in selectors(substitute(query.expr, VALUES)):
        matcher = selector.matcher(LANE)
        if matcher is not None:
            assert matcher.operator == "=" and matcher.value in LANES, query.label


def test_overview_age_is_the_interactive_lanes() -> None:
    """The objective (and ResendWorkerMessageAgeHigh) is about interactive requests; a bulk
    campaign must not turn the overview red."""
    (panel,) = [p for p in panels() if p["type"] == "stat" and "Message age" in p["title"]]
    for target in panel["targets"]:
        for selector in selectors(substitute(target["expr"], VALUES)):
            matcher = selector.matcher(LANE)
            assert matcher is not None and (matcher.operator, matcher.value) == ("=", "interactive")
