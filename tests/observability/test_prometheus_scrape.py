"""The dashboard and the alerts against a real Prometheus scraping a real worker on the devstack.

Unit checks prove the queries parse and name catalogue metrics; only a real scrape proves they
mean something: that label names, histogram buckets and variables line up with what the worker
actually exports, that rule evaluation raises no error, and that the key panels show data.

One worker process handles a mix of requests (sent, duplicate, failed, invalid, throttled, daily
email limit) in waves a scrape or more apart, so counters move between scrapes and rate() sees it.
It drains both lanes: most requests come on the interactive queue, a few on the bulk one.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiobotocore.session import get_session
from resend_contract.models import Outcome

from devstack import DAILY_EMAIL_LIMIT, AsyncDevStackAdmin, DevResources, DevStack, provision

from .artifacts import (
    ALERTS,
    GRAFANA_BUILTINS,
    PanelQuery,
    alert_rules,
    panel_queries,
    substitute,
    variable_query,
    variables,
)
from .conftest import require_binary
from .processes import (
    ChildProcess,
    Prometheus,
    PrometheusError,
    eventually,
    free_port,
    start_worker,
)
from .promql import metric_names, parse_label_values

pytestmark = pytest.mark.integration

JOB = "resend-worker"
NAMESPACE = "observability-test"
POD = "resend-worker-0"
# Panels that must show a positive, finite value for every query once traffic has flowed.
MUST_SHOW_DATA = {
    "Throughput by outcome",
    "Cognito latency p50 / p95 / p99",
    "Cognito results by code",
    "Message age p50 / p95 by lane",
    "Throughput by lane",
    "Received by lane",
}
# What the traffic below must produce, as Prometheus sees it.
EXPECTED_OUTCOMES = {"sent": 10, "duplicate": 2, "failed": 3, "invalid": 1}
# Of those, the results of each lane: the bulk queue carries two requests, both sent.
EXPECTED_RESULTS_BY_LANE = {"interactive": 14, "bulk": 2}


@dataclass
class Scraped:
    """A worker that has handled traffic, and the Prometheus that scraped it all along."""

    prometheus: Prometheus
    worker: ChildProcess
    instance: str


def requests_in_waves(resources: DevResources) -> list[list[tuple[str, str]]]:
    """(queue URL, body) of each request, wave by wave."""
    users = [user.username for user in resources.unconfirmed_users]

    def body(username: str, client_id: str | None = None) -> str:
        return json.dumps({"ClientId": client_id or resources.client_id, "Username": username})

    confirmed = resources.confirmed_users[0].username
    interactive, bulk = resources.queue_url, resources.bulk_queue_url
    waves = [
        [*map(body, users[0:3]), body(confirmed), body("nobody-here")],
        [*map(body, users[3:6]), '{"ClientId": 42}', body(users[0], "nosuchclient1234")],
        # users[0:2] again: duplicates; users[8] is throttled, users[9] hits the daily limit.
        [*map(body, users[6:8]), *map(body, users[0:2]), body(users[8]), body(users[9])],
    ]
    lanes = [[(interactive, text) for text in wave] for wave in waves]
    # The bulk lane: users[10:12], in the last wave, so rate() over the last minute sees them.
    lanes[-1] += [(bulk, body(username)) for username in users[10:12]]
    return lanes


async def send_traffic(resources: DevResources) -> None:
    async with get_session().create_client(
        "sqs",
        region_name=resources.region,
        endpoint_url=resources.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as sqs:
        for wave in requests_in_waves(resources):
            for queue_url, text in wave:
                await sqs.send_message(QueueUrl=queue_url, MessageBody=text)
            # More than a scrape interval: each wave lands in a later scrape than the last.
            await asyncio.sleep(2.5)


@pytest_asyncio.fixture(scope="module")
async def scraped(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scraped]:
    prometheus_binary = require_binary("prometheus")
    workdir = tmp_path_factory.mktemp("scrape")
    suffix = uuid.uuid4().hex[:8]
    with DevStack() as devstack:
        admin = AsyncDevStackAdmin(devstack.endpoint_url)
        resources = await provision(
            devstack.endpoint_url, name=f"obs{suffix}", users=12, user_prefix=f"obs{suffix}"
        )
        users = resources.unconfirmed_users
        await admin.set_faults(
            user_errors={
                users[8].username: "TooManyRequestsException",
                users[9].username: DAILY_EMAIL_LIMIT,
            },
            latency_ms=2,
            jitter_ms=10,
        )
        metrics_port = free_port()
        instance = f"127.0.0.1:{metrics_port}"
        prometheus = Prometheus(
            prometheus_binary,
            workdir,
            job=JOB,
            target=instance,
            target_labels={"namespace": NAMESPACE, "pod": POD},
            rule_files=[ALERTS],
        )
        worker: ChildProcess | None = None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            try:
                await prometheus.start()
                worker = await start_worker(
                    workdir,
                    {
                        **resources.worker_env(bulk_lane=True),
                        "RESEND_METRICS_HOST": "127.0.0.1",
                        "RESEND_METRICS_PORT": str(metrics_port),
                        "RESEND_RECEIVE_WAIT_SECONDS": "1",
                        "RESEND_COGNITO_MAX_RPS": "50",
                        "RESEND_RETRY_MAX_ATTEMPTS": "3",
                        "RESEND_RETRY_MAX_SECONDS": "2",
                        "RESEND_LOG_LEVEL": "WARNING",
                    },
                    f"http://{instance}/metrics",
                    session,
                )
                # Scraped before any traffic: unlabelled counters start at 0 in Prometheus.
                await eventually(
                    lambda: prometheus.value(f'up{{job="{JOB}"}} == 1'),
                    timeout=15,
                    what="a successful scrape of the worker",
                )
                await send_traffic(resources)
                await wait_until_prometheus_saw_everything(prometheus)
                yield Scraped(prometheus, worker, instance)
            finally:
                if worker is not None:
                    await worker.stop()
                await prometheus.stop()
                await admin.reset()


async def outcomes(prometheus: Prometheus) -> dict[str, int]:
    result = await prometheus.query(
        f'sum by (outcome) (resend_worker_messages_processed_total{{job="{JOB}"}})'
    )
    return {sample["metric"]["outcome"]: round(float(sample["value"][1])) for sample in result}


async def wait_until_prometheus_saw_everything(prometheus: Prometheus) -> None:
    async def all_finished() -> bool | None:
        seen = await outcomes(prometheus)
        done = all(seen.get(name, 0) >= count for name, count in EXPECTED_OUTCOMES.items())
        return True if done else None

    async def both_deferred() -> bool | None:
        # The throttled user after its retries, and the daily-limit user.
        seen = await prometheus.value("sum(resend_worker_deferrals_total)")
        return True if seen is not None and seen >= 2 else None

    await eventually(all_finished, timeout=60, what=f"outcomes {EXPECTED_OUTCOMES} in Prometheus")
    await eventually(both_deferred, timeout=30, what="2 deferrals in Prometheus")


def grafana_values(scraped: Scraped) -> dict[str, str]:
    return {**GRAFANA_BUILTINS, "namespace": NAMESPACE, "instance": scraped.instance}


def finite_values(result: list[dict[str, Any]]) -> list[float]:
    values = (float(sample["value"][1]) for sample in result)
    return [value for value in values if math.isfinite(value)]


async def test_outcomes_match_the_traffic(scraped: Scraped) -> None:
    """Every expected outcome, and no other. A count may exceed its expectation: SQS delivers at
    least once, and a redelivered message is answered (and counted) again. Every outcome of the
    contract is exported from start-up, so the ones this traffic never produced read 0."""
    seen = await outcomes(scraped.prometheus)
    assert set(seen) == {outcome.value for outcome in Outcome}
    assert {name for name, count in seen.items() if count > 0} == set(EXPECTED_OUTCOMES)
    assert all(seen[name] >= count for name, count in EXPECTED_OUTCOMES.items()), seen


async def by_lane(prometheus: Prometheus, expr: str) -> dict[str, int]:
    result = await prometheus.query(f"sum by (lane) ({expr})")
    return {sample["metric"]["lane"]: round(float(sample["value"][1])) for sample in result}


async def test_each_lane_is_counted_apart(scraped: Scraped) -> None:
    """Both lanes' series exist, and each counts its own queue's requests: every delivery
    received, every result, every age observed, every token waited for."""
    prometheus, selector = scraped.prometheus, f'{{job="{JOB}"}}'
    received = await by_lane(prometheus, f"resend_worker_messages_received_total{selector}")
    results = await by_lane(prometheus, f"resend_worker_messages_processed_total{selector}")
    ages = await by_lane(prometheus, f"resend_worker_message_age_seconds_count{selector}")
    waits = await by_lane(prometheus, f"resend_worker_rate_limit_wait_seconds_count{selector}")
    for name, seen in (("received", received), ("results", results), ("ages", ages)):
        assert set(seen) == set(EXPECTED_RESULTS_BY_LANE), f"{name}: {seen}"
        # At least once: a redelivered message is received (and may be answered) again.
        for lane, count in EXPECTED_RESULTS_BY_LANE.items():
            assert seen[lane] >= count, f"{name} of the {lane} lane: {seen}"
    # The bulk requests were sent, so each took a token in the bulk lane.
    assert waits.get("bulk", 0) >= EXPECTED_RESULTS_BY_LANE["bulk"], waits
    bulk_outcomes = await prometheus.query(
        f'sum by (outcome) (resend_worker_messages_processed_total{{job="{JOB}", lane="bulk"}}) > 0'
    )
    assert {sample["metric"]["outcome"] for sample in bulk_outcomes} == {"sent"}


async def test_dashboard_variables_resolve(scraped: Scraped) -> None:
    prometheus, values = scraped.prometheus, grafana_values(scraped)
    for name, expected in (("namespace", NAMESPACE), ("instance", scraped.instance)):
        selector, label = parse_label_values(variable_query(variables()[name]))
        found = await prometheus.label_values(label, substitute(selector, values))
        assert found == [expected], f"variable {name}"


@pytest.mark.parametrize("query", panel_queries(), ids=lambda query: query.label)
async def test_dashboard_query_runs(scraped: Scraped, query: PanelQuery) -> None:
    expr = substitute(query.expr, grafana_values(scraped))
    try:
        result = await scraped.prometheus.query(expr)
    except PrometheusError as exc:
        pytest.fail(f"{query.label}: {exc}")
    if query.panel_title in MUST_SHOW_DATA:
        values = finite_values(result)
        assert values, f"{query.label} shows no data: {result}"
        assert max(values) > 0, f"{query.label} shows only zeros: {result}"


async def test_panels_that_show_data(scraped: Scraped, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a gate beyond MUST_SHOW_DATA: records which panels had data for this traffic."""
    shown: dict[str, bool] = {}
    for query in panel_queries():
        result = await scraped.prometheus.query(substitute(query.expr, grafana_values(scraped)))
        shown[query.panel_title] = shown.get(query.panel_title, False) or bool(
            finite_values(result)
        )
    with capsys.disabled():
        print("\npanels with data:", ", ".join(t for t, ok in shown.items() if ok))
        print("panels without data:", ", ".join(t for t, ok in shown.items() if not ok) or "none")
    assert all(shown[title] for title in MUST_SHOW_DATA)


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule["alert"]))
async def test_rule_expression_runs(scraped: Scraped, rule: dict[str, Any]) -> None:
    try:
        await scraped.prometheus.query(rule["expr"])
    except PrometheusError as exc:
        pytest.fail(f"{rule['alert']}: {exc}")


def every_metric_name() -> set[str]:
    names: set[str] = set()
    placeholders = {**GRAFANA_BUILTINS, "namespace": ".*", "instance": ".*"}
    for query in panel_queries():
        names |= metric_names(substitute(query.expr, placeholders))
    for name in ("namespace", "instance"):
        selector, _ = parse_label_values(variable_query(variables()[name]))
        names |= metric_names(substitute(selector, placeholders))
    for rule in alert_rules():
        names |= metric_names(rule["expr"])
    return names


async def test_every_metric_used_is_exported_by_the_worker(scraped: Scraped) -> None:
    """A series, or at least a declared family: labelled metrics have no series until used."""
    prometheus = scraped.prometheus
    declared = set(await prometheus.api("metadata"))
    missing = []
    for name in sorted(every_metric_name()):
        if await prometheus.query(f'count({{__name__="{name}", job="{JOB}"}})'):
            continue
        family = name
        for suffix in ("_bucket", "_count", "_sum", "_total", "_created", "_info"):
            family = family.removesuffix(suffix)
        if family not in declared and name not in declared:
            missing.append(name)
    assert not missing, f"used but not exported by the worker: {missing}"


async def test_rules_evaluate_without_errors(scraped: Scraped) -> None:
    async def evaluated() -> list[dict[str, Any]] | None:
        groups = (await scraped.prometheus.api("rules"))["groups"]
        rules: list[dict[str, Any]] = [rule for group in groups for rule in group["rules"]]
        return rules if all(rule["health"] != "unknown" for rule in rules) else None

    rules = await eventually(evaluated, timeout=15, what="every rule to be evaluated")
    assert {rule["name"] for rule in rules} == {rule["alert"] for rule in alert_rules()}
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert not broken


async def test_alerts_fire_on_real_signals_and_only_those(scraped: Scraped) -> None:
    """The unknown ClientId and the daily-limit user must page; a healthy worker must not."""
    expected = {
        ("ResendWorkerCognitoConfigError", "ResourceNotFoundException"),
        ("ResendWorkerDailyEmailLimit", None),
    }

    async def firing() -> set[tuple[str, str | None]] | None:
        alerts = (await scraped.prometheus.api("alerts"))["alerts"]
        now = {
            (alert["labels"]["alertname"], alert["labels"].get("result"))
            for alert in alerts
            if alert["state"] == "firing"
        }
        return now if expected <= now else None

    now = await eventually(firing, timeout=20, what=f"alerts {sorted(map(str, expected))}")
    assert now == expected
    active = {
        alert["labels"]["alertname"] for alert in (await scraped.prometheus.api("alerts"))["alerts"]
    }
    assert not active & {"ResendWorkerAbsent", "ResendWorkerTargetDown", "ResendWorkerNotPolling"}
