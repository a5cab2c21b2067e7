"""The tokenizer that finds metric names in PromQL, on the shapes the dashboard and rules use."""

from __future__ import annotations

import pytest

from .promql import PromQLTokenError, metric_names, parse_label_values


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        ('up{job=~".*resend-worker.*"} == 0', {"up"}),
        (
            'sum by (le) (rate(a_bucket{namespace=~".*", le!="1"}[5m]))',
            {"a_bucket"},
        ),
        ("histogram_quantile(0.99, sum(rate(h_bucket[1m])) by (le, job))", {"h_bucket"}),
        ("time() - last_poll_seconds > 120", {"last_poll_seconds"}),
        ("a / ignoring (kind) group_left sum(b)", {"a", "b"}),
        ("a / on (job, instance) group_left (version) b_info", {"a", "b_info"}),
        ("(a unless a offset 5m) and on (job) (time() - start < 900)", {"a", "start"}),
        ("(sum(rate(x_total[1h30m])) or vector(0)) / sum(y_total)", {"x_total", "y_total"}),
        ('{__name__="named_total", result="by"}', {"named_total"}),
        ('count_values("version", b_info)', {"b_info"}),
        ("rate(a_total[5m:30s] @ end())", {"a_total"}),
        ("absent(build_info) # by (oops)", {"build_info"}),
        ("recorded:rate5m > bool 1e3 and inf > nan", {"recorded:rate5m"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
    ],
)
def test_finds_exactly_the_selected_metrics(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_a_leftover_grafana_variable_is_an_error() -> None:
    with pytest.raises(PromQLTokenError):
        metric_names("rate(a_total[$__rate_interval])")


def test_label_values_query_splits_into_selector_and_label() -> None:
    selector, label = parse_label_values(
        'label_values(resend_worker_build_info{namespace=~"$namespace"}, instance)'
    )
    assert selector == 'resend_worker_build_info{namespace=~"$namespace"}'
    assert label == "instance"
    with pytest.raises(ValueError, match="label_values"):
        parse_label_values("query_result(up)")
