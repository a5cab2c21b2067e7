"""The alerting rules: valid, unit-tested for every alert, mirrored for Kubernetes, documented."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from .artifacts import (
    ALERTS,
    ALERTS_TEST,
    LANE,
    PROMETHEUS_RULE,
    SCRAPE_SERIES,
    alert_rules,
    exported_metric_names,
    lane_metric_families,
    rule_groups,
    runbook_sections,
    sample_family,
)
from .promql import Selector, metric_names, selectors

ALERT_NAMES = [rule["alert"] for rule in alert_rules()]
SEVERITIES = {"critical", "warning", "info"}


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERT_NAMES)} rules found" in result.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", ALERTS_TEST.name],
        cwd=ALERTS_TEST.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_there_are_alerts_and_their_names_are_unique() -> None:
    assert len(ALERT_NAMES) >= 10
    assert len(set(ALERT_NAMES)) == len(ALERT_NAMES)


def test_prometheus_rule_carries_exactly_the_same_groups() -> None:
    resource = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["metadata"]["name"]
    assert resource["spec"]["groups"] == rule_groups()


@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_alert_has_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) >= {"summary", "description", "runbook_url"}
    assert annotations["summary"].strip()
    assert annotations["description"].strip()


@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_alert_links_to_its_own_runbook_section(rule: dict[str, Any]) -> None:
    path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    assert path == "docs/runbook.md"
    assert anchor == rule["alert"].lower()
    section = runbook_sections().get(anchor)
    assert section is not None, f"docs/runbook.md has no section '## {rule['alert']}'"
    # Each section answers three questions; headings keep them findable under pressure.
    for part in ("### What it means", "### How to check", "### What to do"):
        assert part in section, f"{rule['alert']}: missing {part!r}"


def test_runbook_has_no_section_for_an_alert_that_does_not_exist() -> None:
    alert_like = {anchor for anchor in runbook_sections() if anchor.startswith("resendworker")}
    assert alert_like == {name.lower() for name in ALERT_NAMES}


@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_alert_reads_only_metrics_the_worker_exports(rule: dict[str, Any]) -> None:
    names = metric_names(rule["expr"])
    assert names, "an alert that selects no metric cannot mean anything"
    unknown = names - exported_metric_names() - SCRAPE_SERIES
    assert not unknown, f"not in worker/metrics.py: {sorted(unknown)}"


def _unit_test_cases() -> dict[str, tuple[int, int]]:
    """Per alert: (evaluations expecting it to fire, evaluations expecting silence)."""
    counts: dict[str, tuple[int, int]] = {}
    for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            firing, silent = counts.get(case["alertname"], (0, 0))
            if case.get("exp_alerts"):
                firing += 1
            else:
                silent += 1
            counts[case["alertname"]] = (firing, silent)
    return counts


def test_unit_tests_load_the_rules_file() -> None:
    assert yaml.safe_load(ALERTS_TEST.read_text())["rule_files"] == [ALERTS.name]


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_every_alert_is_unit_tested_firing_and_silent(name: str) -> None:
    firing, silent = _unit_test_cases().get(name, (0, 0))
    assert firing >= 1, f"no promtool case where {name} fires"
    assert silent >= 1, f"no promtool case where {name} stays silent"


def test_unit_tests_name_only_existing_alerts() -> None:
    assert set(_unit_test_cases()) <= set(ALERT_NAMES)


# -- lanes ---------------------------------------------------------------------------------

# Latency by lane: the bulk lane waits for minutes or hours by design, so rules read interactive.
LATENCY_FAMILIES = {"resend_worker_message_age_seconds", "resend_worker_rate_limit_wait_seconds"}
_GROUPING = re.compile(r"\b(by|without)\s*\(([^)]*)\)")


def _lane_selectors(rule: dict[str, Any]) -> list[tuple[str, Selector]]:
    """(family, selector) for every selector of a lane-labelled metric in the rule."""
    return [
        (sample_family(selector.name), selector)
        for selector in selectors(rule["expr"])
        if selector.name is not None and sample_family(selector.name) in lane_metric_families()
    ]


def test_the_lane_metrics_are_the_ones_the_rules_expect() -> None:
    # The rules and the dashboard are written for these four being labelled by lane.
    assert {
        "resend_worker_messages_received_total",
        "resend_worker_messages_processed_total",
        "resend_worker_message_age_seconds",
        "resend_worker_rate_limit_wait_seconds",
    } <= lane_metric_families()


@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_no_alert_is_split_by_lane(rule: dict[str, Any]) -> None:
    """An alert is about the deployment: its lanes are summed or one lane is selected, so a
    `sum by (...)` never keeps `lane`, and `without` (which would keep it) is not used."""
    if not _lane_selectors(rule):
        return
    for keyword, labels in _GROUPING.findall(rule["expr"]):
        assert keyword == "by", f"{rule['alert']}: `without` keeps the lane label"
        assert LANE not in {label.strip() for label in labels.split(",")}, rule["alert"]


@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_latency_alerts_read_only_the_interactive_lane(rule: dict[str, Any]) -> None:
    for family, selector in _lane_selectors(rule):
        if family not in LATENCY_FAMILIES:
            continue
        matcher = selector.matcher(LANE)
        assert matcher is not None, f"{rule['alert']}: {selector.name} mixes the bulk lane in"
        assert (matcher.operator, matcher.value) == ("=", "interactive"), rule["alert"]
