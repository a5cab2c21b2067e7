"""8. The quota moves: another caller takes half of Cognito's quota mid-drain, then gives it back.

One worker, configured for the whole quota (``RESEND_COGNITO_MAX_RPS = Q``, local limiter),
drains a backlog through the devstack's Cognito at ``quota_rps = Q`` (the goodput item's set-up,
``bench.items.goodput``: the fake endpoint's backlog mode for the queue and the topic, only
Cognito on the devstack). After ``quota_step_before`` seconds the quota drops to Q / 2, as if
another caller of the account started using half of it; ``quota_step_halved`` seconds later it
is back to Q, and the run goes on for ``quota_step_after`` seconds. The backlog outlasts the run
(the worker is stopped by time), so the worker is busy from start to end.

The devstack's bucket holds one second of quota and starts full whenever its knobs change, so
at the down-step the worker (still at Q) gets about one second of grace before the first
TooManyRequestsException, and at the up-step the bucket holds Q tokens again.

Measured, on the devstack's call record (its clock, the same machine's wall clock as ours):

* after the down-step, how long until the throttled share of a sliding 1 s window
  (TooManyRequestsException / calls in the window ending at t, t on a 50 ms grid) is under 1%
  and stays there until the up-step: the step to the end of the last window at or over 1%;
* after the up-step, how long until a 1 s window holds at least 0.9 Q successes;
* failed and dead-lettered messages (the fake queue's count), and deferrals.

The worker's ``resend_worker_rate_limit_allowed_rps`` gauge is scraped every 0.2 s; its drops
are the limiter's cuts (halvings), and the rate before each drop is the ceiling the AIMD rule
remembers (``worker/rate_limit/aimd.py``). The plot of allowed rate, successes and throttles per
second is written to ``docs/benchmarks-quota-step.png`` in full mode (the scratch directory in
quick mode). matplotlib is imported only to draw it.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.fakeenv import start_fake
from bench.items.goodput import THROTTLED, Backlog, drain_env, prepare_backlog
from bench.plan import Context, ensure_devstack
from bench.promtext import scrape_text
from bench.redis_keys import unique_prefix
from bench.report import ItemResult, Target
from bench.workers import WorkerProcess, start_worker
from devstack import AsyncDevStackAdmin

NAME = "quota_step"
GAUGE = "resend_worker_rate_limit_allowed_rps"
SAMPLE_SECONDS = 0.2
GRID_SECONDS = 0.05
WINDOW_SECONDS = 1.0
THROTTLED_LIMIT = 0.01  # share of a 1 s window
GOODPUT_LIMIT = 0.9  # of Q, in a 1 s window
SETTLE_TARGET_SECONDS = 5.0
RECOVER_TARGET_SECONDS = 10.0
CUT_RATIO = 0.75  # a sample below this fraction of the previous one is a cut
PLOT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks-quota-step.png"


async def run(ctx: Context) -> ItemResult:
    endpoint = await ensure_devstack(ctx)
    admin = AsyncDevStackAdmin(endpoint)
    plan = ctx.plan
    quota = plan.quota_step_rps
    # Enough that the worker never runs dry, even at full speed throughout.
    seconds = plan.quota_step_before + plan.quota_step_halved + plan.quota_step_after
    size = int(1.1 * quota * seconds) + 20
    backlog = await prepare_backlog(ctx, endpoint, admin, "quotastep", size)
    runs = [await _one_run(ctx, endpoint, admin, backlog) for _ in range(plan.quota_step_repeats)]
    result = ItemResult(NAME)
    plot_path = PLOT if plan.mode == "full" else ctx.workdir / "quota-step.png"
    try:
        _plot(plot_path, runs[0], quota)
        plotted: str | None = str(plot_path)
    except ImportError as exc:  # matplotlib is a dev extra; the figures stand without the plot
        plotted = None
        result.details["plot_error"] = f"{type(exc).__name__}: {exc}"
    result.details |= {
        "quota_rps": quota,
        "backlog": size,
        "plot": plotted,
        "runs": [{k: v for k, v in r.items() if k != "series"} for r in runs],
        "series": runs[0]["series"],
    }
    result.add(
        "before_goodput_fraction",
        "before: goodput / Q",
        "ratio",
        [r["before_goodput_fraction"] for r in runs],
    )
    result.add(
        "down_settle_seconds",
        "down-step: throttled < 1% of a 1 s window, for good",
        "s",
        [r["down_settle_seconds"] for r in runs],
        Target("<=", SETTLE_TARGET_SECONDS),
        note=_lower_bound_note(runs, "down_settled", "the halved phase"),
    )
    result.add(
        "halved_throttled_pct",
        "halved: throttled / calls",
        "%",
        [r["halved_throttled_pct"] for r in runs],
    )
    result.add(
        "halved_late_throttled_pct",
        f"halved, from {SETTLE_TARGET_SECONDS:g} s after the down-step: throttled / calls",
        "%",
        [r["halved_late_throttled_pct"] for r in runs],
    )
    result.add(
        "halved_cuts",
        "halved: limiter cuts (gauge drops)",
        "cuts",
        [r["halved_cuts"] for r in runs],
    )
    result.add(
        "halved_goodput_fraction",
        "halved: goodput / (Q/2), first throttle to up-step",
        "ratio",
        [r["halved_goodput_fraction"] for r in runs],
    )
    result.add(
        "up_recover_seconds",
        "up-step: goodput >= 0.9 Q in a 1 s window",
        "s",
        [r["up_recover_seconds"] for r in runs],
        Target("<=", RECOVER_TARGET_SECONDS),
        note=_lower_bound_note(runs, "up_recovered", "the phase after the up-step"),
    )
    result.add(
        "up_since_last_cut_seconds",
        "up-step: seconds since the limiter's last cut",
        "s",
        [r["up_since_last_cut_seconds"] for r in runs],
    )
    result.add("failed", "failed", "msgs", [r["failed"] for r in runs], Target("==", 0))
    result.add(
        "dead_lettered",
        "dead-lettered",
        "msgs",
        [r["dead_lettered"] for r in runs],
        Target("==", 0),
    )
    result.add("deferred", "deferred (visibility changes)", "msgs", [r["deferred"] for r in runs])
    return result


def _lower_bound_note(runs: list[dict[str, Any]], flag: str, phase: str) -> str:
    missing = sum(1 for r in runs if not r[flag])
    if not missing:
        return ""
    return f"{missing} of {len(runs)} runs never got there within {phase}: the figure is its length"


async def _one_run(
    ctx: Context, endpoint: str, admin: AsyncDevStackAdmin, backlog: Backlog
) -> dict[str, Any]:
    plan = ctx.plan
    quota = plan.quota_step_rps
    await admin.reset()
    fake = await start_fake(ctx.children, backlog.queue_file)
    env = drain_env(
        ctx,
        fake.url,
        endpoint,
        backlog.resources,
        max_rps=quota,
        replicas=1,
        prefix=unique_prefix("quotastep"),
        shared_redis=False,
    )
    samples: list[tuple[float, float]] = []
    worker: WorkerProcess | None = None
    sampler: asyncio.Task[None] | None = None
    try:
        await admin.set_faults(quota_rps=quota)
        worker = await start_worker(ctx.children, "worker-quota-step", env)
        sampler = asyncio.create_task(_sample(worker.metrics_url, samples))
        started = time.time()
        await _watch(worker, plan.quota_step_before)
        down_at = await _set_quota(admin, quota / 2)
        await _watch(worker, plan.quota_step_halved)
        up_at = await _set_quota(admin, quota)
        await _watch(worker, plan.quota_step_after)
        ended = time.time()
    finally:
        if sampler is not None:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        if worker is not None:
            await ctx.children.stop(worker.child)
    served = await fake.stats()
    await ctx.children.stop(fake.child)
    stats = await admin.calls()
    calls = sorted((c.timestamp, c.result) for c in stats.calls)
    return _analyse(
        calls,
        samples,
        quota=quota,
        started=started,
        down_at=down_at,
        up_at=up_at,
        ended=ended,
        served=served,
    )


async def _set_quota(admin: AsyncDevStackAdmin, quota: float) -> float:
    """Change the quota; the moment is the middle of the admin call (a few ms)."""
    before = time.time()
    await admin.set_faults(quota_rps=quota)
    return (before + time.time()) / 2


async def _watch(worker: WorkerProcess, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        worker.child.check_alive()
        await asyncio.sleep(min(0.2, left))


async def _sample(url: str, samples: list[tuple[float, float]]) -> None:
    """The allowed-rate gauge every SAMPLE_SECONDS, stamped with the wall clock."""
    while True:
        tick = time.monotonic()
        try:
            text = await scrape_text(url)
        except Exception:  # a failed scrape is a gap in the series, not an error
            text = ""
        value = gauge_value(text, GAUGE)
        if value is not None:
            samples.append((time.time(), value))
        await asyncio.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - tick)))


def gauge_value(text: str, name: str) -> float | None:
    """An unlabelled gauge's value on a Prometheus text page."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _analyse(
    calls: Sequence[tuple[float, str]],
    samples: Sequence[tuple[float, float]],
    *,
    quota: float,
    started: float,
    down_at: float,
    up_at: float,
    ended: float,
    served: dict[str, Any],
) -> dict[str, Any]:
    times = [t for t, _ in calls]
    throttles = [t for t, r in calls if r == THROTTLED]
    oks = [t for t, r in calls if r == "ok"]

    def count(stamps: list[float], start: float, end: float) -> int:
        """Stamps in (start, end]."""
        return bisect.bisect_right(stamps, end) - bisect.bisect_right(stamps, start)

    def grid(start: float, end: float) -> list[float]:
        steps = math.floor((end - start) / GRID_SECONDS)
        return [start + i * GRID_SECONDS for i in range(1, steps + 1)]

    def share(t: float) -> float:
        total = count(times, t - WINDOW_SECONDS, t)
        return count(throttles, t - WINDOW_SECONDS, t) / total if total else 0.0

    # Down-step: the end of the last window at or over the limit before the up-step.
    bad = [t for t in grid(down_at, up_at) if share(t) >= THROTTLED_LIMIT]
    down_settled = not bad or bad[-1] < up_at - GRID_SECONDS
    down_settle = bad[-1] + GRID_SECONDS - down_at if bad else 0.0
    # Up-step: the first window with at least 0.9 Q successes.
    recovered_at = next(
        (
            t
            for t in grid(up_at, ended)
            if count(oks, t - WINDOW_SECONDS, t) >= GOODPUT_LIMIT * quota
        ),
        None,
    )
    up_recover = (recovered_at if recovered_at is not None else ended) - up_at
    # The halved phase from its first throttle (the bucket's stored second is spent by then).
    first_throttle = next((t for t in throttles if t >= down_at), None)
    halved_from = (
        first_throttle if first_throttle is not None and first_throttle < up_at else down_at
    )
    halved_ok = count(oks, halved_from, up_at)
    halved_calls = count(times, down_at, up_at)
    halved_throttles = count(throttles, down_at, up_at)
    # The same from the settle target on: the steady share, whatever the 1 s windows say.
    late_from = min(down_at + SETTLE_TARGET_SECONDS, up_at)
    late_calls = count(times, late_from, up_at)
    late_throttles = count(throttles, late_from, up_at)
    first_call = times[0] if times else started
    before_ok = count(oks, first_call + 1.0, down_at)
    before_seconds = down_at - (first_call + 1.0)

    cuts = _cuts(samples)
    halved_cuts = [c for c in cuts if down_at <= c["at"] < up_at]
    last_cut = max((c["at"] for c in cuts if c["at"] < up_at), default=None)
    episodes = _episodes([t for t in throttles if down_at <= t < up_at])
    series = _series(calls, samples, started, ended)
    return {
        "started": started,
        "down_at": down_at,
        "up_at": up_at,
        "ended": ended,
        "calls": len(calls),
        "ok": len(oks),
        "throttled": len(throttles),
        "before_goodput_fraction": before_ok / before_seconds / quota
        if before_seconds > 0
        else math.nan,
        "down_settle_seconds": down_settle,
        "down_settled": down_settled,
        "first_throttle_after_down": None if first_throttle is None else first_throttle - down_at,
        "last_bad_window_after_down": None if not bad else bad[-1] - down_at,
        "halved_calls": halved_calls,
        "halved_throttled": halved_throttles,
        "halved_throttled_pct": 100 * halved_throttles / halved_calls if halved_calls else 0.0,
        "halved_late_throttled_pct": 100 * late_throttles / late_calls if late_calls else math.nan,
        "halved_goodput_fraction": halved_ok / (up_at - halved_from) / (quota / 2)
        if up_at > halved_from
        else math.nan,
        "halved_cuts": len(halved_cuts),
        "throttle_episodes_after_down": [
            {"from": a - down_at, "to": b - down_at, "throttles": n} for a, b, n in episodes
        ],
        "cuts": [{**c, "at": c["at"] - started, "after_down": c["at"] - down_at} for c in cuts],
        "up_recover_seconds": up_recover,
        "up_recovered": recovered_at is not None,
        "up_since_last_cut_seconds": up_at - last_cut if last_cut is not None else math.nan,
        "throttled_after_up": count(throttles, up_at, ended),
        "failed": served["outcomes"].get("failed", 0),
        "dead_lettered": served["dead_lettered"],
        "deferred": served["visibility_changes"],
        "deleted": served["deleted"],
        "outcomes": served["outcomes"],
        "series": series,
    }


def _cuts(samples: Sequence[tuple[float, float]]) -> list[dict[str, float]]:
    """Drops of the allowed-rate gauge: when, from (the remembered ceiling) and to."""
    found = []
    for (_, before), (at, after) in itertools.pairwise(samples):
        if after < CUT_RATIO * before:
            found.append({"at": at, "from_rps": before, "to_rps": after})
    return found


def _episodes(throttles: list[float], gap: float = 1.0) -> list[tuple[float, float, int]]:
    """Throttles grouped into bursts separated by more than ``gap`` seconds."""
    out: list[tuple[float, float, int]] = []
    for t in throttles:
        if out and t - out[-1][1] <= gap:
            start, _, n = out[-1]
            out[-1] = (start, t, n + 1)
        else:
            out.append((t, t, 1))
    return out


def _series(
    calls: Sequence[tuple[float, str]],
    samples: Sequence[tuple[float, float]],
    started: float,
    ended: float,
) -> dict[str, list[float]]:
    """Per-second rates on a SAMPLE_SECONDS grid (1 s windows ending there), from ``started``."""
    oks = [t for t, r in calls if r == "ok"]
    throttles = [t for t, r in calls if r == THROTTLED]
    steps = int((ended - started) / SAMPLE_SECONDS)
    at = [started + i * SAMPLE_SECONDS for i in range(1, steps + 1)]

    def per_second(stamps: list[float], t: float) -> float:
        window = min(WINDOW_SECONDS, t - started)
        n = bisect.bisect_right(stamps, t) - bisect.bisect_right(stamps, t - window)
        return n / window

    return {
        "t": [round(t - started, 3) for t in at],
        "ok_per_s": [per_second(oks, t) for t in at],
        "throttled_per_s": [per_second(throttles, t) for t in at],
        "allowed_t": [round(t - started, 3) for t, _ in samples],
        "allowed_rps": [v for _, v in samples],
    }


def _plot(path: Path, run: dict[str, Any], quota: float) -> None:
    from matplotlib.figure import Figure

    series = run["series"]
    down = run["down_at"] - run["started"]
    up = run["up_at"] - run["started"]
    end = run["ended"] - run["started"]
    fig = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.step(
        [0, down, up, end],
        [quota, quota / 2, quota, quota],
        where="post",
        color="0.6",
        linestyle="--",
        label="Cognito quota",
    )
    ax.step(
        series["allowed_t"],
        series["allowed_rps"],
        where="post",
        color="tab:blue",
        label="allowed rate (worker gauge, 0.2 s)",
    )
    ax.plot(series["t"], series["ok_per_s"], color="tab:green", label="successful calls/s (1 s)")
    ax.plot(
        series["t"], series["throttled_per_s"], color="tab:red", label="throttled calls/s (1 s)"
    )
    for x, text in ((down, "quota -> Q/2"), (up, "quota -> Q")):
        ax.axvline(x, color="black", linewidth=0.8)
        ax.annotate(text, (x, quota * 1.08), xytext=(4, 0), textcoords="offset points")
    ax.set_xlim(0, end)
    ax.set_ylim(0, quota * 1.15)
    ax.set_xlabel("seconds since the worker was ready")
    ax.set_ylabel("calls per second")
    ax.set_title(
        f"One worker at RESEND_COGNITO_MAX_RPS = Q = {quota:g}: the quota halved, then restored"
    )
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(True, alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
