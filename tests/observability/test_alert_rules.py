"""The alerting rules: valid, unit-tested for every alert, mirrored for Kubernetes, documented."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from .artifacts import (
    ALERTS,
    ALERTS_TEST,
    PROMETHEUS_RULE,
    SCRAPE_SERIES,
    alert_rules,
    exported_metric_names,
    rule_groups,
    runbook_sections,
)
from .promql import metric_names

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
