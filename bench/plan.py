"""How long and how big each item runs, in full and quick mode, and what each run shares.

Full mode has a budget of 15 minutes on this 2-core machine; the 10-minute steady memory run is
most of it, so every other item is sized to a few tens of seconds per repeat. Quick mode only
proves the benchmark code works (a few seconds per item); its figures are not for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench.procs import Children


@dataclass(frozen=True)
class Plan:
    mode: str
    repeats: int
    # 1. CPU efficiency against the fake endpoint.
    cpu_warmup: float
    cpu_seconds: float
    concurrency: int
    # 2. Goodput at the quota (devstack).
    quota_rps: float
    backlog_factor: int  # backlog = factor x quota
    naive_cap_factor: float  # the naive worker is stopped after this many ideal drain times
    # 3. Latency at half the quota (devstack).
    latency_quota_rps: float
    latency_seconds: float
    latency_warmup: float
    # 4. Memory.
    backlog_messages: int
    steady_seconds: float
    steady_warmup: float
    dedupe_entries: int
    # 5. Duplicates (devstack).
    duplicate_users: int
    duplicates_per_user: int
    # 7. Priority lanes (the fake endpoint's two queues, the devstack's Cognito).
    lanes_quota_rps: float
    lanes_backlog_factor: int  # bulk backlog = factor x quota
    lanes_arrival_rps: float  # interactive arrivals
    lanes_arrival_seconds: float
    # Four scenarios of ~25 s each make one repeat about 2 minutes, so full mode runs one;
    # ``--repeats N`` sets this too.
    lanes_repeats: int
    # 8. The quota moves: one worker at Q, the devstack's quota halved mid-drain, then restored.
    quota_step_rps: float
    quota_step_before: float  # seconds at Q before the down-step
    quota_step_halved: float  # seconds at Q / 2
    quota_step_after: float  # seconds at Q after the up-step
    quota_step_repeats: int  # one run is about a minute; ``--repeats N`` sets this too
    # 9. Scale-out: 1, 2, 4 workers sharing the Redis limiter at one quota.
    scale_out_quota_rps: float
    scale_out_drain_seconds: float  # backlog = this x quota (the ideal drain time)
    scale_out_replicas: tuple[int, ...]
    scale_out_repeats: int  # ``--repeats N`` sets this too
    # 10. Duplicate storm: one worker drains a backlog of requests cycling through a few users
    # (the fake endpoint), then the duplicate floor runs on a fresh fake.
    storm_messages: int
    storm_users: int
    storm_floor_warmup: float
    storm_floor_seconds: float
    storm_repeats: int  # ``--repeats N`` sets this too


FULL = Plan(
    mode="full",
    repeats=3,
    cpu_warmup=2.0,
    cpu_seconds=6.0,
    concurrency=32,
    quota_rps=50.0,
    backlog_factor=20,
    naive_cap_factor=1.0,
    latency_quota_rps=50.0,
    latency_seconds=12.0,
    latency_warmup=2.0,
    backlog_messages=100_000,
    steady_seconds=450.0,
    # The dedupe store reaches its bound early in the backlog, but its expiry lists (which keep
    # the keys of evicted records until their second comes) keep growing for one dedupe window
    # (300 s by default) after the first write: steady state starts after that window plus a
    # minute.
    steady_warmup=360.0,
    dedupe_entries=100_000,
    duplicate_users=40,
    duplicates_per_user=5,
    lanes_quota_rps=20.0,
    lanes_backlog_factor=20,
    lanes_arrival_rps=2.0,
    lanes_arrival_seconds=15.0,
    lanes_repeats=1,
    # Halved for 20 s to see whether the throttles stop; 36 s after the up-step because the
    # limiter remembers the last throttle's rate for 30 s (worker/rate_limit/aimd.py).
    quota_step_rps=40.0,
    quota_step_before=8.0,
    quota_step_halved=20.0,
    quota_step_after=36.0,
    quota_step_repeats=1,
    scale_out_quota_rps=50.0,
    scale_out_drain_seconds=17.0,
    scale_out_replicas=(1, 2, 4),
    scale_out_repeats=1,
    # 50 requests per user, not the scenario's 100: 100,000 take 110 s here (see the doc).
    storm_messages=50_000,
    storm_users=1_000,
    storm_floor_warmup=2.0,
    storm_floor_seconds=6.0,
    storm_repeats=1,
)

QUICK = Plan(
    mode="quick",
    repeats=1,
    cpu_warmup=1.0,
    cpu_seconds=3.0,
    concurrency=32,
    quota_rps=20.0,
    backlog_factor=4,
    naive_cap_factor=1.0,
    latency_quota_rps=20.0,
    latency_seconds=4.0,
    latency_warmup=1.0,
    backlog_messages=1_500,
    steady_seconds=10.0,
    steady_warmup=3.0,
    dedupe_entries=20_000,
    duplicate_users=12,
    duplicates_per_user=5,
    lanes_quota_rps=20.0,
    lanes_backlog_factor=1,
    lanes_arrival_rps=2.0,
    lanes_arrival_seconds=2.0,
    lanes_repeats=1,
    quota_step_rps=20.0,
    quota_step_before=1.5,
    quota_step_halved=2.0,
    quota_step_after=2.0,
    quota_step_repeats=1,
    scale_out_quota_rps=20.0,
    scale_out_drain_seconds=1.5,
    scale_out_replicas=(1, 4),
    scale_out_repeats=1,
    storm_messages=6_000,
    storm_users=60,
    storm_floor_warmup=1.0,
    storm_floor_seconds=2.0,
    storm_repeats=1,
)


def plan_for(
    quick: bool,
    *,
    repeats: int | None,
    steady_seconds: float | None,
    storm_messages: int | None = None,
) -> Plan:
    plan = QUICK if quick else FULL
    if storm_messages is not None:
        plan = replace(plan, storm_messages=storm_messages)
    if repeats is not None:
        plan = replace(plan, repeats=repeats, lanes_repeats=repeats)
        plan = replace(plan, quota_step_repeats=repeats, scale_out_repeats=repeats)
        plan = replace(plan, storm_repeats=repeats)
    if steady_seconds is not None:
        plan = replace(
            plan,
            steady_seconds=steady_seconds,
            steady_warmup=min(plan.steady_warmup, steady_seconds * 0.75),
        )
    return plan


@dataclass
class Context:
    """What every item gets: the plan, the process registry and a scratch directory."""

    plan: Plan
    children: Children
    workdir: Path
    redis_url: str
    devstack_url: str | None = None


async def ensure_devstack(ctx: Context) -> str:
    """The run's one devstack, started by the first item that needs it."""
    if ctx.devstack_url is None:
        from bench.devstack import start_devstack

        ctx.devstack_url = await start_devstack(ctx.children)
    return ctx.devstack_url
