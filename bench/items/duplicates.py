"""5. Duplicates: five requests per user, interleaved, must cost one Cognito call per user.

Each user's five requests are spread through the backlog (user 1..N, then 1..N again, five
times), so a user's later requests arrive while the first is in flight or just done, which is
when a dedupe store earns its keep. The devstack's call record counts Cognito calls per user.
Two set-ups: one replica with the memory store (the default), and two replicas sharing the Redis
store (how a fleet runs). No quota is injected: throttles would add calls of their own.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from bench.devstack import ResultReader, enqueue, prepare, request_body, sqs_client
from bench.plan import Context, ensure_devstack
from bench.redis_keys import delete_prefix, unique_prefix
from bench.report import ItemResult, Target
from bench.workers import start_worker
from devstack import AsyncDevStackAdmin

NAME = "duplicates"
RESULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    replicas: int
    backend: str


SETUPS = (
    Setup("memory", "1 replica, memory store", 1, "memory"),
    Setup("redis", "2 replicas, Redis store", 2, "redis"),
)


async def run(ctx: Context) -> ItemResult:
    endpoint = await ensure_devstack(ctx)
    admin = AsyncDevStackAdmin(endpoint)
    result = ItemResult(NAME)
    runs: dict[str, list[dict[str, Any]]] = {s.key: [] for s in SETUPS}
    for _ in range(ctx.plan.repeats):
        for setup in SETUPS:
            runs[setup.key].append(await _one_run(ctx, endpoint, admin, setup))
    result.details = {
        "users": ctx.plan.duplicate_users,
        "requests_per_user": ctx.plan.duplicates_per_user,
        "runs": runs,
    }
    for setup in SETUPS:
        values = runs[setup.key]
        result.add(
            f"{setup.key}_calls_per_user",
            f"{setup.label}: Cognito calls per user",
            "calls",
            [r["calls_per_user"] for r in values],
            Target("==", 1.0),
        )
        result.add(
            f"{setup.key}_max_calls_per_user",
            f"{setup.label}: most calls for one user",
            "calls",
            [r["max_calls_for_one_user"] for r in values],
        )
        result.add(
            f"{setup.key}_unanswered",
            f"{setup.label}: requests without a result",
            "msgs",
            [r["unanswered"] for r in values],
            Target("==", 0),
        )
    return result


async def _one_run(
    ctx: Context, endpoint: str, admin: AsyncDevStackAdmin, setup: Setup
) -> dict[str, Any]:
    """One run on fresh queues: a worker stopping mid long poll can leave moto holding that
    poll open, and it would take messages a next run put on the same queue."""
    plan = ctx.plan
    run_tag = uuid.uuid4().hex[:8]
    usernames = [f"d{run_tag}-{i:04d}" for i in range(plan.duplicate_users)]
    await admin.reset()
    resources = await prepare(endpoint, admin, usernames)
    prefix = unique_prefix("dupes")
    env = {
        **resources.worker_env(),
        "RESEND_COGNITO_MAX_RPS": "1000",
        "RESEND_DEDUPE_BACKEND": setup.backend,
        "RESEND_DEDUPE_KEY_PREFIX": prefix,
        "RESEND_EXPECTED_REPLICAS": str(setup.replicas),
    }
    if setup.backend == "redis":
        env["RESEND_REDIS_URL"] = ctx.redis_url
    bodies = [
        request_body(resources, username, f"{username}-{round_}-{run_tag}")
        for round_ in range(plan.duplicates_per_user)
        for username in usernames
    ]
    async with sqs_client(endpoint) as sqs:
        reader = ResultReader(sqs, resources.results_queue_url, run_tag=run_tag)
        workers = []
        try:
            await enqueue(sqs, resources.queue_url, bodies, parallel=1)
            reader.start()
            workers = await asyncio.gather(
                *(
                    start_worker(ctx.children, f"worker-dupes-{setup.key}-{i}", env)
                    for i in range(setup.replicas)
                )
            )
            await reader.wait_for(len(bodies), within=RESULT_TIMEOUT_SECONDS)
            for worker in workers:
                worker.child.check_alive()
        finally:
            await asyncio.gather(*(ctx.children.stop(w.child) for w in workers))
            await reader.stop()
    await delete_prefix(ctx.redis_url, prefix)
    stats = await admin.calls()
    per_user = {u: 0 for u in usernames}
    for call in stats.calls:
        if call.username in per_user:
            per_user[call.username] += 1
    outcomes: dict[str, str] = {r.request_id: r.outcome for r in reader.received}
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return {
        "requests": len(bodies),
        "calls": stats.total,
        "by_result": stats.by_result,
        "calls_per_user": sum(per_user.values()) / len(usernames),
        "max_calls_for_one_user": max(per_user.values()),
        "users_without_call": sum(1 for n in per_user.values() if n == 0),
        "unanswered": len(bodies) - len(outcomes),
        "outcomes": counts,
    }
