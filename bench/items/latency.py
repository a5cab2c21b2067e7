"""3. Latency: enqueue to result at half the quota, steady arrival, with its parts.

The producer sends one request every ``2 / Q`` seconds to the devstack's queue; a reader takes
results off the subscribed results queue. The worker is configured as an operator would for this
quota (``RESEND_COGNITO_MAX_RPS = Q``) and long-polls (``RESEND_RECEIVE_WAIT_SECONDS=20``, which
returns as soon as a message arrives).

End to end is exact per request: from just before SendMessage to the moment the result is read.
The parts come from three clocks, all on this machine:

* ours: SendMessage start, result read;
* the devstack's: the time each Cognito call was answered (usernames are distinct, so each call
  maps to one request), and each result's SentTimestamp on the results queue, written while the
  worker's PublishBatch is answered (raw delivery), i.e. when the result was published;
* the worker's histograms, scraped before and after the measured window (means are exact, p99s
  are bucket interpolations, as histogram_quantile computes them).

The parts of end to end, in order:

  queue wait  = enqueue -> Cognito answered, minus the rate-limit wait and the Cognito call:
                SendMessage, waiting in the queue, the long poll returning, parse, dedupe claim,
                SECRET_HASH
  rate limit  = rate_limit_wait_seconds (histogram)
  Cognito     = cognito_request_duration_seconds (histogram, the worker's side of the call)
  publish     = Cognito answered -> result on the results queue: building the result, the
                batcher's linger, PublishBatch
  delivery    = result on the results queue -> read by us (the harness's long poll, not the
                worker)

message_age_seconds (SentTimestamp -> published, the worker's own view) is kept as a cross-check
of enqueue -> published.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import uuid
from typing import Any

from bench.devstack import Received, ResultReader, prepare, request_body, sqs_client
from bench.plan import Context, ensure_devstack
from bench.promtext import Histogram, scrape
from bench.report import ItemResult, Target
from bench.stats import percentile
from bench.workers import start_worker
from devstack import AsyncDevStackAdmin

NAME = "latency"
PREFIX = "resend_worker_"
RATE_LIMIT = PREFIX + "rate_limit_wait_seconds"
COGNITO = PREFIX + "cognito_request_duration_seconds"
AGE = PREFIX + "message_age_seconds"


async def run(ctx: Context) -> ItemResult:
    endpoint = await ensure_devstack(ctx)
    admin = AsyncDevStackAdmin(endpoint)
    result = ItemResult(NAME)
    plan = ctx.plan
    runs = [await _one_run(ctx, endpoint, admin) for _ in range(plan.repeats)]
    result.details = {
        "quota_rps": ctx.plan.latency_quota_rps,
        "arrival_rps": ctx.plan.latency_quota_rps / 2,
        "runs": runs,
    }

    def ms(key: str) -> list[float]:
        return [1000 * r[key] for r in runs]

    result.add("e2e_p50_ms", "enqueue -> result p50", "ms", ms("e2e_p50"))
    result.add("e2e_p99_ms", "enqueue -> result p99", "ms", ms("e2e_p99"), Target("<", 250))
    result.add("queue_wait_ms", "part: queue wait (mean)", "ms", ms("queue_wait_mean"))
    result.add("rate_limit_ms", "part: rate-limit wait (mean)", "ms", ms("rate_limit_mean"))
    result.add(
        "rate_limit_p99_ms", "part: rate-limit wait (p99, buckets)", "ms", ms("rate_limit_p99")
    )
    result.add("cognito_ms", "part: Cognito call (mean)", "ms", ms("cognito_mean"))
    result.add("cognito_p99_ms", "part: Cognito call (p99, buckets)", "ms", ms("cognito_p99"))
    result.add("publish_ms", "part: publish (mean)", "ms", ms("publish_mean"))
    result.add("publish_p99_ms", "part: publish (p99)", "ms", ms("publish_p99"))
    result.add("delivery_ms", "part: results queue -> reader (mean)", "ms", ms("delivery_mean"))
    result.add("age_ms", "worker's message age (mean, histogram)", "ms", ms("message_age_mean"))
    result.add(
        "lost", "requests without a result", "msgs", [r["lost"] for r in runs], Target("==", 0)
    )
    return result


async def _produce(
    sqs: Any, queue_url: str, bodies: list[tuple[str, str]], rate: float
) -> dict[str, tuple[float, float]]:
    """Send at a steady rate; returns request id -> (send start, send end), wall clock."""
    sent: dict[str, tuple[float, float]] = {}

    async def send(request_id: str, body: str) -> None:
        start = time.time()
        await sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        sent[request_id] = (start, time.time())

    tasks = []
    origin = time.monotonic()
    for index, (request_id, body) in enumerate(bodies):
        delay = origin + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(request_id, body)))
    await asyncio.gather(*tasks)
    return sent


async def _one_run(ctx: Context, endpoint: str, admin: AsyncDevStackAdmin) -> dict[str, Any]:
    """One run on fresh queues and users (see ``bench.items.duplicates._one_run`` for why)."""
    plan = ctx.plan
    quota = plan.latency_quota_rps
    rate = quota / 2
    warm_count = max(5, int(plan.latency_warmup * rate))
    count = int(plan.latency_seconds * rate)
    run_tag = uuid.uuid4().hex[:8]
    usernames = [f"l{run_tag}-{i:05d}" for i in range(warm_count + count)]
    await admin.reset()
    resources = await prepare(endpoint, admin, usernames)
    env = {
        **resources.worker_env(),
        "RESEND_COGNITO_MAX_RPS": str(quota),
        "RESEND_RECEIVE_WAIT_SECONDS": "20",
    }
    user_of = {f"{u}-{run_tag}": u for u in usernames}
    bodies = [
        (request_id, request_body(resources, u, request_id)) for request_id, u in user_of.items()
    ]
    async with sqs_client(endpoint) as sqs:
        reader = ResultReader(sqs, resources.results_queue_url, run_tag=run_tag)
        worker = None
        try:
            await admin.set_faults(quota_rps=quota)
            worker = await start_worker(ctx.children, "worker-latency", env)
            reader.start()
            await _produce(sqs, resources.queue_url, bodies[:warm_count], rate)
            await reader.wait_for(warm_count, within=30)
            before = await scrape(worker.metrics_url)
            sent = await _produce(sqs, resources.queue_url, bodies[warm_count:], rate)
            await reader.wait_for(warm_count + count, within=30)
            after = await scrape(worker.metrics_url)
            worker.child.check_alive()
        finally:
            if worker is not None:
                await ctx.children.stop(worker.child)
            await reader.stop()
    stats = await admin.calls()
    answered = {c.username: c.timestamp for c in stats.calls if c.result == "ok"}
    results: dict[str, Received] = {r.request_id: r for r in reader.received}
    return _breakdown(
        sent, results, {k: answered.get(u) for k, u in user_of.items()}, before, after
    )


def _breakdown(
    sent: dict[str, tuple[float, float]],
    results: dict[str, Received],
    answered: dict[str, float | None],
    before: dict[str, Histogram],
    after: dict[str, Histogram],
) -> dict[str, Any]:
    e2e, send, to_cognito, publish, delivery, to_published = [], [], [], [], [], []
    for request_id, (start, end) in sent.items():
        received = results.get(request_id)
        if received is None:
            continue
        e2e.append(received.at - start)
        send.append(end - start)
        delivery.append(received.at - received.queued_at)
        to_published.append(received.queued_at - start)
        cognito_at = answered.get(request_id)
        if cognito_at is not None:
            to_cognito.append(cognito_at - start)
            publish.append(received.queued_at - cognito_at)
    rate_limit = after[RATE_LIMIT].minus(before[RATE_LIMIT])
    cognito = after[COGNITO].minus(before[COGNITO])
    age = after[AGE].minus(before[AGE])
    return {
        "requests": len(sent),
        "lost": len(sent) - len(e2e),
        "e2e_p50": percentile(e2e, 50),
        "e2e_p99": percentile(e2e, 99),
        "e2e_mean": _mean(e2e),
        "e2e_max": max(e2e, default=math.nan),
        "send_mean": _mean(send),
        "to_cognito_p50": percentile(to_cognito, 50),
        "to_cognito_p99": percentile(to_cognito, 99),
        "queue_wait_mean": _mean(to_cognito) - rate_limit.mean - cognito.mean,
        "rate_limit_mean": rate_limit.mean,
        "rate_limit_p99": rate_limit.quantile(0.99),
        "cognito_mean": cognito.mean,
        "cognito_p99": cognito.quantile(0.99),
        "publish_mean": _mean(publish),
        "publish_p99": percentile(publish, 99),
        "delivery_mean": _mean(delivery),
        "delivery_p99": percentile(delivery, 99),
        "to_published_mean": _mean(to_published),
        "message_age_mean": age.mean,
        "message_age_p99": age.quantile(0.99),
        "histogram_counts": {
            "rate_limit": rate_limit.count,
            "cognito": cognito.count,
            "message_age": age.count,
        },
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan
