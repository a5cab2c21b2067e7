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
)


def plan_for(quick: bool, *, repeats: int | None, steady_seconds: float | None) -> Plan:
    plan = QUICK if quick else FULL
    if repeats is not None:
        plan = replace(plan, repeats=repeats)
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
