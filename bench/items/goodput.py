"""2. Goodput at the quota: a backlog of 20 x Q requests against a Cognito quota of Q per second.

The devstack's Cognito answers TooManyRequestsException above ``quota_rps`` (a token bucket
holding one second of quota). The queue and the topic are the fake endpoint's backlog mode
(``bench.fakeaws --queue-file``), with SQS's visibility and redelivery semantics: moto's
ReceiveMessage costs O(backlog) per message returned (over half a second per receive with 1,000
queued on this machine), which would cap the drain far below any quota and measure moto instead
of the limiter. Cognito alone goes to the devstack (``AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER``
in the worker's environment), whose call record gives successes, throttles and their times.

The worker is deliberately configured at twice the quota (``RESEND_COGNITO_MAX_RPS = 2 x Q``), as
an operator who misread the quota would, so its AIMD limiter has to find the real rate from
throttles. Three set-ups drain the same backlog:

* one replica with its local limiter;
* two replicas sharing the Redis limiter (and the Redis dedupe store), unique key prefix per run;
* the "naive worker": the same code with the limiter out of the way (``RESEND_COGNITO_MAX_RPS``
  at its maximum) so only tenacity's retries stand between it and the quota. It is stopped after
  ``naive_cap_factor`` ideal drain times: deferred messages come back only after 30 s.

Goodput is successful calls per second over the drain, as a fraction of Q. The devstack's bucket
starts full (one second of quota), so in the first second a caller can get up to 2 x Q successes;
to keep that burst from lifting the figure, the drain is counted from one second after the first
Cognito call to the last success. The figure over the whole drain, burst included, is kept in the
JSON as ``goodput_fraction_with_burst``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.devstack import prepare, request_body
from bench.fakeenv import fake_worker_env, start_fake
from bench.plan import Context, ensure_devstack
from bench.redis_keys import delete_prefix, unique_prefix
from bench.report import ItemResult, Target
from bench.workers import start_worker
from devstack import AsyncDevStackAdmin, DevResources

NAME = "goodput"
THROTTLED = "TooManyRequestsException"


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    replicas: int
    naive: bool


SETUPS = (
    Setup("one", "1 replica", 1, False),
    Setup("two", "2 replicas, Redis limiter", 2, False),
    Setup("naive", "naive (no limiter, retries only)", 1, True),
)


async def run(ctx: Context) -> ItemResult:
    endpoint = await ensure_devstack(ctx)
    admin = AsyncDevStackAdmin(endpoint)
    result = ItemResult(NAME)
    # One pool and one backlog for every run: each run has its own fake queue, worker
    # processes, Redis prefix and (after a reset) Cognito call record, so nothing carries over.
    backlog = await prepare_backlog(
        ctx, endpoint, admin, "goodput", int(ctx.plan.backlog_factor * ctx.plan.quota_rps)
    )
    runs: dict[str, list[dict[str, Any]]] = {s.key: [] for s in SETUPS}
    for _ in range(ctx.plan.repeats):
        for setup in SETUPS:
            runs[setup.key].append(await _one_run(ctx, endpoint, admin, setup, backlog))
    result.details = {
        "quota_rps": ctx.plan.quota_rps,
        "backlog": int(ctx.plan.backlog_factor * ctx.plan.quota_rps),
        "runs": runs,
    }
    for setup in SETUPS:
        values = runs[setup.key]
        limited = not setup.naive
        result.add(
            f"{setup.key}_goodput_fraction",
            f"{setup.label}: goodput / Q",
            "ratio",
            [r["goodput_fraction"] for r in values],
            Target(">=", 0.95) if limited else None,
        )
        result.add(
            f"{setup.key}_throttled_fraction",
            f"{setup.label}: throttled / calls",
            "%",
            [100 * r["throttled_fraction"] for r in values],
            Target("<=", 2.0) if limited else None,
        )
        result.add(
            f"{setup.key}_failed",
            f"{setup.label}: failed + dead-lettered",
            "msgs",
            [r["failed"] + r["dead_lettered"] for r in values],
            Target("==", 0) if limited else None,
        )
        result.add(
            f"{setup.key}_unfinished",
            f"{setup.label}: unfinished at the end",
            "msgs",
            [r["unfinished"] for r in values],
            Target("==", 0) if limited else None,
        )
        result.add(
            f"{setup.key}_drain_seconds",
            f"{setup.label}: drain time",
            "s",
            [r["drain_seconds"] for r in values],
        )
    return result


async def _one_run(
    ctx: Context,
    endpoint: str,
    admin: AsyncDevStackAdmin,
    setup: Setup,
    backlog: Backlog,
) -> dict[str, Any]:
    quota = ctx.plan.quota_rps
    ideal = backlog.size / quota
    return await drain(
        ctx,
        endpoint,
        admin,
        backlog,
        name=f"goodput-{setup.key}",
        quota=quota,
        max_rps=10_000 if setup.naive else 2 * quota,
        replicas=setup.replicas,
        shared_redis=setup.replicas > 1,
        cap=ctx.plan.naive_cap_factor * ideal if setup.naive else 2 * ideal + 15,
    )


# Helpers shared with the other items that drain a backlog through the devstack's Cognito
# (``bench.items.scale_out``, ``bench.items.quota_step``).


@dataclass(frozen=True)
class Backlog:
    """Users in a fresh pool, and a fake-endpoint queue file with one request for each."""

    resources: DevResources
    queue_file: Path
    size: int


async def prepare_backlog(
    ctx: Context, endpoint: str, admin: AsyncDevStackAdmin, stem: str, size: int
) -> Backlog:
    """``size`` unconfirmed users with distinct names and a request for each, in order."""
    tag = uuid.uuid4().hex[:8]
    usernames = [f"{stem[0]}{tag}-{i:05d}" for i in range(size)]
    resources = await prepare(endpoint, admin, usernames)
    queue_file = ctx.workdir / f"{stem}-{tag}.jsonl"
    queue_file.write_text("\n".join(request_body(resources, u, f"{u}-r") for u in usernames) + "\n")
    return Backlog(resources, queue_file, size)


def drain_env(
    ctx: Context,
    fake_url: str,
    endpoint: str,
    resources: DevResources,
    *,
    max_rps: float,
    replicas: int,
    prefix: str,
    shared_redis: bool,
) -> dict[str, str]:
    """A worker on the fake endpoint's queue and topic with only Cognito on the devstack.

    ``shared_redis``: the Redis limiter and the Redis dedupe store under ``prefix``.
    """
    env = {
        **fake_worker_env(
            fake_url,
            concurrency=ctx.plan.concurrency,
            client_secrets={resources.client_id: resources.client_secret},
            cognito_endpoint_url=endpoint,
        ),
        "RESEND_COGNITO_MAX_RPS": str(max_rps),
        "RESEND_EXPECTED_REPLICAS": str(replicas),
        "RESEND_DEDUPE_KEY_PREFIX": prefix,
    }
    if shared_redis:
        env |= {
            "RESEND_RATE_LIMIT_REDIS_URL": ctx.redis_url,
            "RESEND_DEDUPE_BACKEND": "redis",
            "RESEND_REDIS_URL": ctx.redis_url,
        }
    return env


async def drain(
    ctx: Context,
    endpoint: str,
    admin: AsyncDevStackAdmin,
    backlog: Backlog,
    *,
    name: str,
    quota: float,
    max_rps: float,
    replicas: int,
    shared_redis: bool,
    cap: float,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Drain the backlog with ``replicas`` workers against a quota of ``quota`` per second.

    A fresh fake queue, Redis prefix and Cognito call record; the workers are stopped once every
    request is deleted or after ``cap`` seconds. ``extra_env``: settings over the drain's own.
    Answers the run's figures (see ``run``).
    """
    size = backlog.size
    await admin.reset()
    prefix = unique_prefix(name.split("-")[0])
    fake = await start_fake(ctx.children, backlog.queue_file)
    env = drain_env(
        ctx,
        fake.url,
        endpoint,
        backlog.resources,
        max_rps=max_rps,
        replicas=replicas,
        prefix=prefix,
        shared_redis=shared_redis,
    ) | dict(extra_env or {})
    workers = []
    try:
        await admin.set_faults(quota_rps=quota)
        workers = await asyncio.gather(
            *(start_worker(ctx.children, f"worker-{name}-{i}", env) for i in range(replicas))
        )
        started = time.monotonic()
        served = await fake.stats()
        while served["deleted"] < size and time.monotonic() - started < cap:
            for worker in workers:
                worker.child.check_alive()
            await asyncio.sleep(0.2)
            served = await fake.stats()
        elapsed = time.monotonic() - started
    finally:
        await asyncio.gather(*(ctx.children.stop(w.child) for w in workers))
    served = await fake.stats()
    await ctx.children.stop(fake.child)
    await delete_prefix(ctx.redis_url, prefix)
    stats = await admin.calls()
    ok_times = sorted(c.timestamp for c in stats.calls if c.result == "ok")
    first_call = min((c.timestamp for c in stats.calls), default=float("nan"))
    span = ok_times[-1] - first_call if ok_times else float("nan")
    with_burst = _rate(ok_times, first_call)
    goodput = _rate([t for t in ok_times if t >= first_call + 1.0], first_call + 1.0)
    throttled = stats.by_result.get(THROTTLED, 0)
    return {
        "backlog": size,
        "replicas": replicas,
        "max_rps": max_rps,
        "calls": stats.total,
        "ok": len(ok_times),
        "throttled": throttled,
        "by_result": stats.by_result,
        "goodput_rps": goodput,
        "goodput_fraction": goodput / quota,
        "goodput_fraction_with_burst": with_burst / quota,
        "throttled_fraction": throttled / stats.total if stats.total else 0.0,
        "failed": served["outcomes"].get("failed", 0),
        "dead_lettered": served["dead_lettered"],
        "unfinished": size - served["deleted"],
        "outcomes": served["outcomes"],
        "redelivered": served["redelivered"],
        "deferred": served["visibility_changes"],
        "drain_seconds": span,
        "ideal_drain_seconds": size / quota,
        "waited_seconds": elapsed,
        "max_ok_per_second": stats.max_ok_per_second,
    }


def _rate(times: list[float], start: float) -> float:
    """Successes per second from ``start`` to the last one (NaN with too few to tell)."""
    if len(times) < 2 or times[-1] <= start:
        return float("nan")
    return len(times) / (times[-1] - start)
