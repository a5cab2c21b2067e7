"""Known series exist from start-up, and every label value the code writes is a known one.

The second half reads the worker's source: a label written as a literal at a call site (a dedupe
hit kind, a store operation, a deferral cause) must be one that ``export_known_series`` creates,
or its series would again appear only on its first event.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from worker import metrics, retry

WORKER = Path(metrics.__file__).resolve().parent


def labelled_catalogue() -> dict[str, Counter | Histogram]:
    return {
        name: metric
        for name, metric in vars(metrics).items()
        if isinstance(metric, Counter | Histogram) and metric._labelnames
    }


def test_every_labelled_metric_has_its_known_values() -> None:
    known = metrics.known_label_values()
    left_out = {metrics.cognito_requests}  # see known_label_values
    assert set(known) == set(labelled_catalogue().values()) - left_out
    assert all(values for values in known.values())


def test_codes_follow_the_retry_policy_tables() -> None:
    known = metrics.known_label_values()
    assert set(known[metrics.permanent_failures]) >= retry.PERMANENT
    assert "DeferralBudgetExhausted" in known[metrics.permanent_failures]
    assert set(known[metrics.retries]) >= retry.RETRY_NOW
    assert retry.CONNECTION_ERROR in known[metrics.retries]
    # A read timeout may hide a sent code: never retried, so never a retry series.
    assert retry.READ_TIMEOUT not in known[metrics.retries]
    deferrals = set(known[metrics.deferrals])
    assert {retry.PER_USER_LIMIT, retry.DAILY_EMAIL_LIMIT, retry.RETRIES_EXHAUSTED} <= deferrals
    assert retry.DEFER - {"LimitExceededException"} <= deferrals
    # LimitExceededException is always deferred under one of its two reasons, never its code.
    assert "LimitExceededException" not in deferrals
    assert known[metrics.messages_processed] == (
        "duplicate",
        "failed",
        "invalid",
        "sent",
        "unknown",
    )


def test_export_creates_every_series_at_zero() -> None:
    metrics.export_known_series()
    exported = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest().decode())
        for sample in family.samples
    }
    series = list(metrics.known_series())
    assert {metric for metric, _ in series} == set(metrics.known_label_values())
    for metric, values in series:
        labels = tuple(sorted(zip(metric._labelnames, values, strict=True)))
        suffix = "_total" if isinstance(metric, Counter) else "_count"
        assert (metric._name + suffix, labels) in exported, (metric._name, values)


def test_lane_labelled_series_exist_for_every_lane() -> None:
    series = set(metrics.known_series())
    for outcome in ("sent", "duplicate"):
        for lane in ("interactive", "bulk"):
            assert (metrics.messages_processed, (outcome, lane)) in series
    assert (metrics.message_age, ("bulk",)) in series
    assert (metrics.rate_limit_wait, ("interactive",)) in series


def _metric_attribute(node: ast.expr) -> str | None:
    """``X`` of an expression ``metrics.X``."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "metrics"
    ):
        return node.attr
    return None


def cached_children(tree: ast.AST) -> dict[str, str]:
    """Names bound to ``metrics.Children(metrics.X)``, each with its metric attribute ``X``."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        call = node.value
        if _metric_attribute(call.func) == "Children" and call.args:
            attribute = _metric_attribute(call.args[0])
            for target in node.targets:
                if attribute is not None and isinstance(target, ast.Name):
                    found[target.id] = attribute
    return found


def literal_labels(tree: ast.AST) -> Iterator[tuple[str, str, int]]:
    """(metric attribute, literal label value, line) of every ``metrics.X.labels("v")``, and of
    every ``_CHILDREN("v")`` where ``_CHILDREN = metrics.Children(metrics.X)``."""
    children = cached_children(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        attribute = None
        if isinstance(node.func, ast.Attribute) and node.func.attr == "labels":
            attribute = _metric_attribute(node.func.value)
        elif isinstance(node.func, ast.Name):
            attribute = children.get(node.func.id)
        if attribute is None:
            continue
        for arg in [*node.args, *(keyword.value for keyword in node.keywords)]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield attribute, arg.value, node.lineno


def call_literals(tree: ast.AST, function: str, position: int) -> Iterator[tuple[str, int]]:
    """The literal string passed at ``position`` to every call of ``function`` (or method)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) <= position:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        name = node.func.id if isinstance(node.func, ast.Name) else name
        arg = node.args[position]
        if name == function and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            yield arg.value, node.lineno


SOURCES = sorted(WORKER.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(WORKER)))
def test_literal_labels_in_the_source_are_known(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    known = metrics.known_label_values()
    for attribute, value, line in literal_labels(tree):
        metric = getattr(metrics, attribute)
        if metric is metrics.cognito_requests:
            continue
        assert value in known[metric], f"{path.name}:{line}: {attribute} label {value!r}"
    for value, line in call_literals(tree, "_observe", 0):
        assert value in known[metrics.dedupe_store_errors], f"{path.name}:{line}: {value!r}"
    for value, line in call_literals(tree, "Wait", 1):
        assert value in known[metrics.deferrals], f"{path.name}:{line}: {value!r}"


def test_the_source_scan_finds_the_call_sites() -> None:
    """The scan must see something, or the test above would pass on any source."""
    claims = ast.parse((WORKER / "claims.py").read_text(encoding="utf-8"))
    assert {value for _, value, _ in literal_labels(claims)} >= {"in_progress"}
    assert {value for value, _ in call_literals(claims, "Wait", 1)} >= {"dedupe_unavailable"}
    base = ast.parse((WORKER / "dedupe" / "base.py").read_text(encoding="utf-8"))
    assert {value for value, _ in call_literals(base, "_observe", 0)} >= {"claim", "ping"}
    hostile = ast.parse('metrics.dedupe_hits.labels("made_up")')
    assert list(literal_labels(hostile)) == [("dedupe_hits", "made_up", 1)]
    cached = ast.parse('_HITS = metrics.Children(metrics.dedupe_hits)\n_HITS("made_up")')
    assert list(literal_labels(cached)) == [("dedupe_hits", "made_up", 2)]
