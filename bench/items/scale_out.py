"""9. Scale-out: 1, 2 and 4 worker processes sharing the Redis limiter at one Cognito quota.

The set-up of the goodput item (``bench.items.goodput``: the fake endpoint's backlog mode for the
queue and the topic, only Cognito on the devstack, whose token bucket holds one second of
``quota_rps = Q``), with every worker configured as an operator following the README would:
``RESEND_COGNITO_MAX_RPS = Q`` (the fleet's budget), ``RESEND_RATE_LIMIT_REDIS_URL`` (one shared
bucket) and ``RESEND_EXPECTED_REPLICAS`` equal to the replica count, with the Redis dedupe store,
under a fresh key prefix per run. The same configuration at every size, so the figures say what
adding processes costs: more processes asking Redis for the same tokens, each with its own
pacing error, must still add up to the quota and no more.

A backlog of ``scale_out_drain_seconds x Q`` requests from distinct users per run; goodput and
the throttled share are computed as in the goodput item (successful calls per second from one
second after the first call to the last success, over Q; TooManyRequestsException over all
calls).
"""

from __future__ import annotations

from typing import Any

from bench.items.goodput import drain, prepare_backlog
from bench.plan import Context, ensure_devstack
from bench.report import ItemResult, Target
from devstack import AsyncDevStackAdmin

NAME = "scale_out"
GOODPUT_TARGET = 0.97
THROTTLED_TARGET_PCT = 1.0
# A short long poll: workers that have drained the backlog stop within it, not the default 20 s
# (receives with a backlog queued return at once, so the drain itself is the same).
EXTRA_ENV = {"RESEND_RECEIVE_WAIT_SECONDS": "2"}


async def run(ctx: Context) -> ItemResult:
    endpoint = await ensure_devstack(ctx)
    admin = AsyncDevStackAdmin(endpoint)
    plan = ctx.plan
    quota = plan.scale_out_quota_rps
    size = int(plan.scale_out_drain_seconds * quota)
    # One pool and backlog for every run: each run has its own fake queue, Redis prefix (limiter
    # and dedupe store) and Cognito call record.
    backlog = await prepare_backlog(ctx, endpoint, admin, "scale", size)
    ideal = size / quota
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in plan.scale_out_replicas}
    for _ in range(plan.scale_out_repeats):
        for replicas in plan.scale_out_replicas:
            runs[replicas].append(
                await drain(
                    ctx,
                    endpoint,
                    admin,
                    backlog,
                    name=f"scale-{replicas}",
                    quota=quota,
                    max_rps=quota,
                    replicas=replicas,
                    shared_redis=True,
                    cap=2 * ideal + 15,
                    extra_env=EXTRA_ENV,
                )
            )
    result = ItemResult(NAME)
    result.details = {
        "quota_rps": quota,
        "max_rps": quota,
        "backlog": size,
        "runs": {str(n): values for n, values in runs.items()},
    }
    for replicas, values in runs.items():
        label = f"{replicas} worker{'s' if replicas > 1 else ''}, Redis limiter"
        result.add(
            f"r{replicas}_goodput_fraction",
            f"{label}: goodput / Q",
            "ratio",
            [r["goodput_fraction"] for r in values],
            Target(">=", GOODPUT_TARGET),
        )
        result.add(
            f"r{replicas}_throttled_fraction",
            f"{label}: throttled / calls",
            "%",
            [100 * r["throttled_fraction"] for r in values],
            Target("<=", THROTTLED_TARGET_PCT),
        )
        result.add(
            f"r{replicas}_failed",
            f"{label}: failed + dead-lettered",
            "msgs",
            [r["failed"] + r["dead_lettered"] for r in values],
            Target("==", 0),
        )
        result.add(
            f"r{replicas}_unfinished",
            f"{label}: unfinished at the end",
            "msgs",
            [r["unfinished"] for r in values],
            Target("==", 0),
        )
        result.add(
            f"r{replicas}_drain_seconds",
            f"{label}: drain time",
            "s",
            [r["drain_seconds"] for r in values],
        )
    return result
