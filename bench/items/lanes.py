"""7. Priority lanes: interactive requests beside a bulk backlog, at the Cognito quota.

The devstack's Cognito answers TooManyRequestsException above ``quota_rps = Q`` (a token bucket
holding one second of quota); the workers are configured as an operator would for it
(``RESEND_COGNITO_MAX_RPS = Q``). The queues and the topic are the fake endpoint's backlog mode
(``bench.fakeaws``: a requests queue, the interactive lane, and a bulk queue), for the reason
the goodput item gives: moto's ReceiveMessage costs O(backlog) per message returned, which would
measure moto. Only Cognito goes to the devstack, whose call record gives successes, throttles
and their times.

Interactive requests arrive at ``lanes_arrival_rps`` for ``lanes_arrival_seconds``, put on the
requests queue one at a time through the fake's send route, from the moment every worker is
ready. Four scenarios, each on fresh users (distinct usernames, so the dedupe store hides no
call) and a fresh fake, Cognito call record and Redis key prefix:

* A, one lane, no backlog: the arrivals alone (the latency baseline);
* B, two lanes: a backlog of ``lanes_backlog_factor x Q`` requests on the bulk queue before the
  worker starts (``RESEND_BULK_QUEUE_URL`` set), then the arrivals;
* C, as B with two replicas sharing the Redis limiter (``RESEND_RATE_LIMIT_REDIS_URL``) and the
  Redis dedupe store, ``RESEND_EXPECTED_REPLICAS=2``;
* D, a one-lane worker with the same backlog and the same arrivals both on the requests queue:
  the picture before lanes.

Latency is exact per request, on the fake's clock: from the moment a request is put on its queue
to the moment the worker's PublishBatch carrying its result reaches the fake (the result
"published"; the fake answers in microseconds, so what is measured is the worker and Cognito).
Goodput is successful Cognito calls per second, all lanes together, from one second after the
first call (the devstack's bucket starts full) to the last success, over Q, as in the goodput
item. The drain time is from the first Cognito call to the backlog's last result published.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.devstack import prepare, request_body
from bench.fakeenv import FakeEndpoint, fake_worker_env, start_fake
from bench.plan import Context, ensure_devstack
from bench.promtext import parse_counters, parse_histograms, scrape_text
from bench.redis_keys import delete_prefix, unique_prefix
from bench.report import ItemResult, Target
from bench.stats import percentile
from bench.workers import WorkerProcess, start_worker
from devstack import AsyncDevStackAdmin, DevResources

NAME = "lanes"
THROTTLED = "TooManyRequestsException"
PREFIX = "resend_worker_"
RATE_LIMIT = PREFIX + "rate_limit_wait_seconds"
AGE = PREFIX + "message_age_seconds"
PROCESSED = PREFIX + "messages_processed"
RECEIVED = PREFIX + "messages_received"
LANES = ("interactive", "bulk")
# Targets of the scenarios with a bulk lane.
P95_LIMIT_MS = 1500.0
P95_VS_BASELINE = 2.0
GOODPUT_FLOOR = 0.9
THROTTLED_LIMIT_PCT = 5.0
RECEIVE_WAIT_SECONDS = 2


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    bulk_lane: bool  # the worker drains RESEND_BULK_QUEUE_URL
    backlog_on: str | None  # "bulk", "interactive" (the requests queue) or no backlog
    replicas: int


SCENARIOS = (
    Scenario("a", "A one lane, no backlog", False, None, 1),
    Scenario("b", "B two lanes", True, "bulk", 1),
    Scenario("c", "C two lanes, 2 replicas, Redis limiter", True, "bulk", 2),
    Scenario("d", "D one lane, backlog in it", False, "interactive", 1),
)


@dataclass(frozen=True)
class Users:
    backlog: list[str]
    arrivals: list[str]


async def run(ctx: Context) -> ItemResult:
    endpoint = await ensure_devstack(ctx)
    admin = AsyncDevStackAdmin(endpoint)
    plan = ctx.plan
    quota = plan.lanes_quota_rps
    backlog = int(plan.lanes_backlog_factor * quota)
    arrivals = max(1, int(plan.lanes_arrival_rps * plan.lanes_arrival_seconds))
    repeats = plan.lanes_repeats
    tag = uuid.uuid4().hex[:8]
    users: dict[tuple[int, str], Users] = {}
    for repeat in range(repeats):
        for scenario in SCENARIOS:
            stem = f"n{tag}-{repeat}{scenario.key}"
            users[repeat, scenario.key] = Users(
                [f"{stem}b{i:05d}" for i in range(backlog if scenario.backlog_on else 0)],
                [f"{stem}i{i:05d}" for i in range(arrivals)],
            )
    resources = await prepare(
        endpoint, admin, [u for group in users.values() for u in group.backlog + group.arrivals]
    )
    runs: dict[str, list[dict[str, Any]]] = {s.key: [] for s in SCENARIOS}
    for repeat in range(repeats):
        for scenario in SCENARIOS:
            runs[scenario.key].append(
                await _one_run(
                    ctx, endpoint, admin, scenario, resources, users[repeat, scenario.key]
                )
            )
    result = ItemResult(NAME)
    result.details = {
        "quota_rps": quota,
        "worker_max_rps": quota,
        "backlog": backlog,
        "arrival_rps": plan.lanes_arrival_rps,
        "arrivals": arrivals,
        "repeats": repeats,
        "runs": runs,
    }
    _rows(result, runs)
    return result


def _rows(result: ItemResult, runs: dict[str, list[dict[str, Any]]]) -> None:
    baseline = [r["arrival_p95"] for r in runs["a"]]
    for scenario in SCENARIOS:
        values = runs[scenario.key]
        lanes = scenario.bulk_lane
        key, label = scenario.key, scenario.label

        def ms(name: str, values: list[dict[str, Any]] = values) -> list[float]:
            return [1000 * r[name] for r in values]

        result.add(
            f"{key}_p50_ms", f"{label}: interactive enqueue -> result p50", "ms", ms("arrival_p50")
        )
        result.add(
            f"{key}_p95_ms",
            f"{label}: interactive enqueue -> result p95",
            "ms",
            ms("arrival_p95"),
            Target("<=", P95_LIMIT_MS) if lanes else None,
        )
        result.add(
            f"{key}_p99_ms", f"{label}: interactive enqueue -> result p99", "ms", ms("arrival_p99")
        )
        result.add(
            f"{key}_rate_limit_ms",
            f"{label}: part: interactive rate-limit wait (mean)",
            "ms",
            ms("interactive_rate_limit_mean"),
        )
        if scenario.backlog_on is not None:
            result.add(
                f"{key}_p95_vs_a",
                f"{label}: interactive p95 / A's p95",
                "ratio",
                [r["arrival_p95"] / a for r, a in zip(values, baseline, strict=False) if a > 0],
                Target("<=", P95_VS_BASELINE) if lanes else None,
            )
            result.add(
                f"{key}_goodput_fraction",
                f"{label}: goodput / Q during the drain",
                "ratio",
                [r["goodput_fraction"] for r in values],
                Target(">=", GOODPUT_FLOOR) if lanes else None,
            )
            result.add(
                f"{key}_throttled_pct",
                f"{label}: throttled / Cognito calls",
                "%",
                [100 * r["throttled_fraction"] for r in values],
                Target("<=", THROTTLED_LIMIT_PCT) if lanes else None,
            )
            result.add(
                f"{key}_drain_seconds",
                f"{label}: {'bulk' if lanes else 'backlog'} drain time",
                "s",
                [r["drain_seconds"] for r in values],
            )
        result.add(
            f"{key}_lost",
            f"{label}: requests without a result",
            "msgs",
            [r["lost"] for r in values],
            Target("==", 0),
        )


async def _one_run(
    ctx: Context,
    endpoint: str,
    admin: AsyncDevStackAdmin,
    scenario: Scenario,
    resources: DevResources,
    users: Users,
) -> dict[str, Any]:
    plan = ctx.plan
    quota = plan.lanes_quota_rps
    run_id = uuid.uuid4().hex[:8]
    backlog_ids = [f"{u}-r" for u in users.backlog]
    arrival_ids = [f"{u}-r" for u in users.arrivals]
    backlog_file = ctx.workdir / f"lanes-{scenario.key}-{run_id}-backlog.jsonl"
    backlog_file.write_text(
        "".join(request_body(resources, u, f"{u}-r") + "\n" for u in users.backlog)
    )
    empty_file = ctx.workdir / f"lanes-{scenario.key}-{run_id}-empty.jsonl"
    empty_file.write_text("")
    arrival_bodies = [request_body(resources, u, f"{u}-r") for u in users.arrivals]
    total = len(backlog_ids) + len(arrival_ids)
    ideal = total / quota

    await admin.reset()
    prefix = unique_prefix("lanes")
    fake = await start_fake(
        ctx.children,
        backlog_file if scenario.backlog_on == "interactive" else empty_file,
        backlog_file if scenario.backlog_on == "bulk" else None,
    )
    env = {
        **fake_worker_env(
            fake.url,
            concurrency=plan.concurrency,
            client_secrets={resources.client_id: resources.client_secret},
            cognito_endpoint_url=endpoint,
        ),
        "RESEND_COGNITO_MAX_RPS": str(quota),
        "RESEND_EXPECTED_REPLICAS": str(scenario.replicas),
        "RESEND_DEDUPE_KEY_PREFIX": prefix,
        # A message put on a queue wakes the fake's long poll at once, so the poll's length
        # does not show in latency; a short one lets a stopping worker go in 2 s instead of
        # waiting its shutdown timeout (12 s) for a 20 s poll, four times a repeat.
        "RESEND_RECEIVE_WAIT_SECONDS": str(RECEIVE_WAIT_SECONDS),
    }
    if scenario.bulk_lane:
        env["RESEND_BULK_QUEUE_URL"] = fake.bulk_queue_url
    if scenario.replicas > 1:
        env |= {
            "RESEND_RATE_LIMIT_REDIS_URL": ctx.redis_url,
            "RESEND_DEDUPE_BACKEND": "redis",
            "RESEND_REDIS_URL": ctx.redis_url,
        }
    cap = max(2 * ideal, plan.lanes_arrival_seconds) + 20
    workers: list[WorkerProcess] = []
    pages: list[str] = []
    try:
        await admin.set_faults(quota_rps=quota)
        workers = list(
            await asyncio.gather(
                *(
                    start_worker(ctx.children, f"worker-lanes-{scenario.key}-{i}", env)
                    for i in range(scenario.replicas)
                )
            )
        )
        started = time.monotonic()
        producer = asyncio.create_task(_arrive(fake, arrival_bodies, plan.lanes_arrival_rps))
        served = await fake.stats()
        while (not producer.done() or served["deleted"] < total) and (
            time.monotonic() - started < cap
        ):
            for worker in workers:
                worker.child.check_alive()
            await asyncio.sleep(0.2)
            served = await fake.stats()
        await producer
        elapsed = time.monotonic() - started
        pages = [await scrape_text(w.metrics_url) for w in workers]
    finally:
        await asyncio.gather(*(ctx.children.stop(w.child) for w in workers))
    served = await fake.stats()
    timings = await fake.timings()
    await ctx.children.stop(fake.child)
    await delete_prefix(ctx.redis_url, prefix)
    stats = await admin.calls()
    return _figures(
        scenario,
        quota,
        backlog_ids,
        arrival_ids,
        timings,
        served,
        stats.calls,
        stats.by_result,
        pages,
        users,
        elapsed,
    )


async def _arrive(fake: FakeEndpoint, bodies: list[str], rate: float) -> None:
    """One request every ``1 / rate`` seconds, each put on the requests queue on its own."""
    origin = time.monotonic()
    for index, body in enumerate(bodies):
        delay = origin + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await fake.send([body])


def _figures(
    scenario: Scenario,
    quota: float,
    backlog_ids: list[str],
    arrival_ids: list[str],
    timings: dict[str, Any],
    served: dict[str, Any],
    calls: list[Any],
    by_result: dict[str, int],
    pages: list[str],
    users: Users,
    elapsed: float,
) -> dict[str, Any]:
    enqueued: dict[str, list[Any]] = timings["enqueued"]
    published: dict[str, list[Any]] = timings["published"]

    def latencies(ids: list[str]) -> list[float]:
        return [
            float(published[i][0]) - float(enqueued[i][1])
            for i in ids
            if i in published and i in enqueued
        ]

    arrival = latencies(arrival_ids)
    backlog = latencies(backlog_ids)
    lost = sum(1 for i in arrival_ids + backlog_ids if i not in published)
    outcomes: dict[str, int] = {}
    for i in arrival_ids + backlog_ids:
        if i in published:
            outcome = str(published[i][1])
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    ok_times = sorted(c.timestamp for c in calls if c.result == "ok")
    first_call = min((c.timestamp for c in calls), default=math.nan)
    goodput = _rate([t for t in ok_times if t >= first_call + 1.0], first_call + 1.0)
    throttled = by_result.get(THROTTLED, 0)
    last_backlog = max(
        (float(published[i][0]) for i in backlog_ids if i in published), default=math.nan
    )
    arrival_users = set(users.arrivals)
    first_arrival = min(
        (float(enqueued[i][1]) for i in arrival_ids if i in enqueued), default=math.nan
    )
    last_arrival = max(
        (float(enqueued[i][1]) for i in arrival_ids if i in enqueued), default=math.nan
    )
    # How the quota was shared while interactive requests were arriving.
    workers = [_worker_metrics(page) for page in pages]
    window_ok = [
        c for c in calls if c.result == "ok" and first_arrival <= c.timestamp <= last_arrival
    ]
    return {
        "requests": len(arrival_ids) + len(backlog_ids),
        "arrivals": len(arrival_ids),
        "backlog": len(backlog_ids),
        "lost": lost,
        "outcomes": outcomes,
        "arrival_p50": percentile(arrival, 50),
        "arrival_p95": percentile(arrival, 95),
        "arrival_p99": percentile(arrival, 99),
        "arrival_max": max(arrival, default=math.nan),
        "arrival_latencies": [round(v, 4) for v in arrival],
        "backlog_p50": percentile(backlog, 50),
        "backlog_max": max(backlog, default=math.nan),
        "calls": len(calls),
        "ok": len(ok_times),
        "throttled": throttled,
        "by_result": by_result,
        "throttled_fraction": throttled / len(calls) if calls else 0.0,
        "goodput_rps": goodput,
        "goodput_fraction": goodput / quota,
        "drain_seconds": last_backlog - first_call,
        "ok_during_arrivals": {
            "interactive": sum(1 for c in window_ok if c.username in arrival_users),
            "backlog": sum(1 for c in window_ok if c.username not in arrival_users),
            "seconds": last_arrival - first_arrival,
        },
        "deleted_by_queue": served.get("deleted_by_queue", {}),
        "redelivered": served["redelivered"],
        "deferred": served["visibility_changes"],
        "dead_lettered": served["dead_lettered"],
        "waited_seconds": elapsed,
        "workers": workers,
        # Over every replica: sum of the waits over their count, as the histograms give them.
        "interactive_rate_limit_mean": (
            sum(w["interactive"]["rate_limit_wait_sum"] for w in workers) / waits
            if (waits := sum(w["interactive"]["rate_limit_wait_count"] for w in workers))
            else math.nan
        ),
    }


def _worker_metrics(page: str) -> dict[str, Any]:
    """Each lane's rate-limit wait and message age, and its counters, from one /metrics page."""
    counters = parse_counters(page)
    figures: dict[str, Any] = {}
    for lane in LANES:
        histograms = parse_histograms(page, lane=lane)
        wait, age = histograms.get(RATE_LIMIT), histograms.get(AGE)
        figures[lane] = {
            "rate_limit_wait_count": wait.count if wait else 0.0,
            "rate_limit_wait_sum": wait.total if wait else 0.0,
            "rate_limit_wait_mean": wait.mean if wait else None,
            "rate_limit_wait_p99": wait.quantile(0.99) if wait else None,
            "message_age_mean": age.mean if age else None,
            "message_age_p99": age.quantile(0.99) if age else None,
            "received": sum(
                v for labels, v in counters.get(RECEIVED, {}).items() if ("lane", lane) in labels
            ),
            "processed": {
                dict(labels).get("outcome", ""): v
                for labels, v in counters.get(PROCESSED, {}).items()
                if ("lane", lane) in labels
            },
        }
    return figures


def _rate(times: list[float], start: float) -> float:
    """Successes per second from ``start`` to the last one (NaN with too few to tell)."""
    if len(times) < 2 or times[-1] <= start:
        return math.nan
    return len(times) / (times[-1] - start)
