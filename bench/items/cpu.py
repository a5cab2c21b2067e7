"""1. CPU efficiency: messages per second and CPU per message, against the SDK floor.

One worker process drains the fake endpoint (``bench.fakeaws``, another process) as fast as it
can. Over a measured window after a warm-up, finished messages are the DeleteMessageBatch entries
the fake saw, and CPU is the worker process's user + system time (psutil). Then, against the same
fake, ``bench.floor`` makes only the SDK calls those messages need, with the same clients and
concurrency. The ratio worker / floor says how much of the per-message cost is ours.
"""

from __future__ import annotations

import asyncio

from bench.fakeenv import CLIENT_ID, fake_worker_env, start_fake
from bench.plan import Context
from bench.procs import machine_busy_seconds
from bench.report import ItemResult, Target
from bench.workers import start_worker

NAME = "cpu"


async def run(ctx: Context) -> ItemResult:
    plan = ctx.plan
    result = ItemResult(NAME)
    runs: list[dict[str, float]] = []
    for _ in range(plan.repeats):
        runs.append(await _one_run(ctx))
    result.details["runs"] = runs
    result.add(
        "worker_msgs_per_s",
        "worker throughput",
        "msg/s",
        [r["worker_msgs_per_s"] for r in runs],
        Target(">=", 1000),
    )
    result.add(
        "worker_cpu_ms_per_msg", "worker CPU per message", "ms", [r["worker_cpu_ms"] for r in runs]
    )
    result.add(
        "floor_msgs_per_s", "SDK floor throughput", "msg/s", [r["floor_msgs_per_s"] for r in runs]
    )
    result.add(
        "floor_cpu_ms_per_msg", "SDK floor CPU per message", "ms", [r["floor_cpu_ms"] for r in runs]
    )
    result.add(
        "ratio_throughput",
        "worker / floor throughput",
        "ratio",
        [r["ratio_throughput"] for r in runs],
        Target(">=", 0.7),
    )
    result.add(
        "ratio_cpu", "floor / worker CPU per message", "ratio", [r["ratio_cpu"] for r in runs]
    )
    result.add(
        "others_cpu",
        "other processes' CPU in the window (noise)",
        "cores",
        [r["others_cpu_utilisation"] for r in runs],
    )
    return result


async def _one_run(ctx: Context) -> dict[str, float]:
    plan = ctx.plan
    fake = await start_fake(ctx.children)
    env = fake_worker_env(fake.url, concurrency=plan.concurrency)
    try:
        worker = await start_worker(ctx.children, "worker-cpu", env)
        await asyncio.sleep(plan.cpu_warmup)
        stats0, cpu0, fake0, busy0 = (
            await fake.stats(),
            worker.child.cpu(),
            fake.child.cpu(),
            machine_busy_seconds(),
        )
        await asyncio.sleep(plan.cpu_seconds)
        stats1, cpu1, fake1, busy1 = (
            await fake.stats(),
            worker.child.cpu(),
            fake.child.cpu(),
            machine_busy_seconds(),
        )
        worker.child.check_alive()
        await ctx.children.stop(worker.child)

        wall = cpu1.wall - cpu0.wall
        done = stats1["deleted"] - stats0["deleted"]
        worker_cpu = cpu1.cpu - cpu0.cpu
        fake_cpu = fake1.cpu - fake0.cpu
        floor = await _floor(ctx, env)
    finally:
        await ctx.children.stop(fake.child)
    worker_rate = done / wall
    worker_cpu_ms = 1000 * worker_cpu / done if done else float("nan")
    floor_rate = floor["messages"] / floor["seconds"]
    floor_cpu_ms = 1000 * floor["cpu_seconds"] / floor["messages"]
    return {
        "worker_msgs_per_s": worker_rate,
        "worker_cpu_ms": worker_cpu_ms,
        "worker_cpu_utilisation": worker_cpu / wall,
        "fake_cpu_utilisation": fake_cpu / wall,
        "others_cpu_utilisation": max(0.0, (busy1 - busy0 - worker_cpu - fake_cpu) / wall),
        "floor_msgs_per_s": floor_rate,
        "floor_cpu_ms": floor_cpu_ms,
        "floor_cpu_utilisation": floor["cpu_seconds"] / floor["seconds"],
        "ratio_throughput": worker_rate / floor_rate,
        "ratio_cpu": floor_cpu_ms / worker_cpu_ms,
        "messages": done,
        "cognito_calls": stats1["cognito_calls"] - stats0["cognito_calls"],
        "published": stats1["published"] - stats0["published"],
        **_batch_sizes(stats0, stats1),
    }


def _batch_sizes(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean entries per ReceiveMessage, DeleteMessageBatch and PublishBatch (10 is the most)."""

    def mean(entries: str, calls: str) -> float:
        count = after[calls] - before[calls]
        return (after[entries] - before[entries]) / count if count else float("nan")

    return {
        "receive_batch": mean("messages", "receives"),
        "delete_batch": mean("deleted", "delete_calls"),
        "publish_batch": mean("published", "publish_calls"),
    }


async def _floor(ctx: Context, env: dict[str, str]) -> dict[str, float]:
    plan = ctx.plan
    child = ctx.children.python(
        "floor",
        "-m",
        "bench.floor",
        "--seconds",
        str(plan.cpu_seconds),
        "--warmup",
        str(plan.cpu_warmup),
        "--client-id",
        CLIENT_ID,
        env=env,
    )
    answer = await child.first_json_line(within=60 + plan.cpu_seconds + plan.cpu_warmup)
    await ctx.children.stop(child)
    return {k: float(v) for k, v in answer.items()}
