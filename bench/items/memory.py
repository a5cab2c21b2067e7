"""4. Memory: peak RSS over a 100,000-request backlog, RSS over a steady run, the dedupe bound.

One worker drains the fake endpoint (``bench.fakeaws``) at full speed for ``steady_seconds``; its
RSS is sampled every second. The run has two phases:

* the backlog: the first ``backlog_messages`` requests. The fake serves requests as fast as the
  worker takes them, so from the worker's side this is exactly draining a backlog of that size;
  the figure is the peak RSS until the last of them is deleted, at default settings: the
  worker's ``RESEND_COGNITO_MAX_RPS`` is raised only so that the limiter does not pace the
  drain, and its dedupe bound is the one the default settings derive (6,000: 10 calls a second
  for a 300 s window, twice over), not the millions that rate would give. The store is full
  from the 6,000th request on, so the drain also runs eviction throughout. ``--worker-env
  RESEND_DEDUPE_MAX_ENTRIES=...`` measures another bound (200,000 holds the whole backlog).
* steady state: after the backlog and at least ``steady_warmup`` seconds (full mode: the dedupe
  window plus a minute, see ``bench.plan``). Growth is the median RSS of the last window against
  the median of the first window after warm-up (a window is 60 s, or a third of the steady phase
  when that is shorter).

The dedupe store's own size at its bound is measured apart, in a process of its own
(``bench.dedupe_size``): RSS growth, and the bytes tracemalloc attributes to it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench.fakeenv import fake_worker_env, start_fake
from bench.plan import Context
from bench.report import ItemResult, Target
from bench.workers import start_worker
from worker.settings import Settings

NAME = "memory"
MB = 1024 * 1024
SAMPLE_SECONDS = 1.0
WINDOW_SECONDS = 60.0
TRACEMALLOC_ENTRIES = 20_000


async def run(ctx: Context) -> ItemResult:
    result = ItemResult(NAME)
    sizes = [await _dedupe_size(ctx, tracemalloc=False) for _ in range(ctx.plan.repeats)]
    traced = await _dedupe_size(ctx, tracemalloc=True)
    steady = await _steady(ctx)
    result.details = {"steady": steady, "dedupe_store": {"rss": sizes, "tracemalloc": traced}}

    backlog_done = steady["backlog_done_at"] is not None
    result.add(
        "backlog_peak_rss_mb",
        f"peak RSS, {ctx.plan.backlog_messages:,}-request backlog",
        "MB",
        [steady["backlog_peak_rss"] / MB] if backlog_done else [],
        Target("<", 100),
        note="" if backlog_done else "the backlog was not drained within the steady run",
    )
    result.add("backlog_msgs_per_s", "backlog drain rate", "msg/s", [steady["backlog_rate"]])
    result.add(
        "steady_rss_mb",
        "RSS samples after warm-up (1 s apart)",
        "MB",
        [rss / MB for rss in steady["post_warmup_rss"]],
    )
    result.add(
        "steady_growth_pct",
        f"RSS growth after warm-up ({steady['seconds']:.0f} s run)",
        "%",
        [steady["growth_pct"]],
        Target("<=", 5.0),
        note="" if backlog_done else "no steady phase: the backlog was still draining",
    )
    result.add(
        "steady_max_growth_pct",
        "highest RSS sample vs first window after warm-up",
        "%",
        [steady["max_growth_pct"]],
    )
    result.add(
        "dedupe_rss_mb",
        f"dedupe store at bound ({ctx.plan.dedupe_entries:,} entries): RSS",
        "MB",
        [s["rss_delta_bytes"] / MB for s in sizes],
    )
    result.add(
        "dedupe_bytes_per_entry",
        "dedupe store: bytes per entry (tracemalloc)",
        "B",
        [traced["traced_bytes"] / traced["held"]],
    )
    result.add(
        "dedupe_held",
        "dedupe store: entries held after writing bound + 10%",
        "entries",
        [s["held"] for s in sizes],
        Target("==", ctx.plan.dedupe_entries),
    )
    return result


async def _dedupe_size(ctx: Context, *, tracemalloc: bool) -> dict[str, Any]:
    """One fill in a fresh process; tracemalloc slows the fill fourfold, so it fills fewer
    entries (the bytes per entry do not depend on how many there are)."""
    entries = (
        min(ctx.plan.dedupe_entries, TRACEMALLOC_ENTRIES)
        if tracemalloc
        else ctx.plan.dedupe_entries
    )
    args = ["-m", "bench.dedupe_size", "--entries", str(entries)]
    if tracemalloc:
        args.append("--tracemalloc")
    child = ctx.children.python("dedupe-size", *args)
    answer = await child.first_json_line(within=300)
    await ctx.children.stop(child)
    return answer


async def _steady(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    fake = await start_fake(ctx.children)
    samples: list[tuple[float, int, int]] = []  # (seconds since start, rss, deleted)
    try:
        env = fake_worker_env(fake.url, concurrency=plan.concurrency)
        env["RESEND_DEDUPE_MAX_ENTRIES"] = str(Settings.model_construct().dedupe_bound)
        worker = await start_worker(ctx.children, "worker-memory", env)
        origin = time.monotonic()
        next_sample = origin
        while True:
            now = time.monotonic()
            if now - origin >= plan.steady_seconds:
                break
            worker.child.check_alive()
            stats = await fake.stats()
            samples.append((now - origin, worker.child.rss_bytes(), int(stats["deleted"])))
            next_sample += SAMPLE_SECONDS
            await asyncio.sleep(max(0.0, next_sample - time.monotonic()))
        await ctx.children.stop(worker.child)
    finally:
        await ctx.children.stop(fake.child)
    return _analyse(samples, plan.backlog_messages, plan.steady_warmup)


def _analyse(samples: list[tuple[float, int, int]], backlog: int, warmup: float) -> dict[str, Any]:
    done_at = next((t for t, _, deleted in samples if deleted >= backlog), None)
    backlog_samples = [rss for t, rss, _ in samples if done_at is None or t <= done_at]
    start_of_steady = max(warmup, done_at if done_at is not None else warmup)
    steady = [(t, rss) for t, rss, _ in samples if t >= start_of_steady]
    seconds = samples[-1][0] if samples else 0.0
    growth = max_growth = float("nan")
    window = min(WINDOW_SECONDS, (seconds - start_of_steady) / 3) if steady else 0.0
    # Until the backlog is done the dedupe store is still filling: growth would mean nothing.
    if done_at is not None and steady and window > 0:
        first = [rss for t, rss in steady if t < start_of_steady + window]
        last = [rss for t, rss in steady if t > seconds - window]
        baseline = statistics.median(first)
        growth = 100 * (statistics.median(last) / baseline - 1)
        max_growth = 100 * (max(rss for _, rss in steady) / baseline - 1)
    deleted_at_end = samples[-1][2] if samples else 0
    return {
        "seconds": seconds,
        "messages": deleted_at_end,
        "rate": deleted_at_end / seconds if seconds else float("nan"),
        "backlog_done_at": done_at,
        "backlog_peak_rss": max(backlog_samples, default=0),
        "backlog_rate": backlog / done_at if done_at else float("nan"),
        "steady_from": start_of_steady,
        "window_seconds": window,
        "growth_pct": growth,
        "max_growth_pct": max_growth,
        "post_warmup_rss": [rss for _, rss in steady],
        "samples": [[round(t, 1), rss, deleted] for t, rss, deleted in samples],
    }
