"""10. Duplicate storm: a producer re-enqueues the same requests, nearly all of them duplicates.

A producer bug puts ``storm_messages`` requests for ``storm_users`` users on the queue (50 per
user in full mode, 100 with ``--storm-messages 100000``; message i is for user ``i % users``, so
every user's first request comes in the first cycle and the rest are duplicates answered from
the dedupe store). One worker process at the default settings (memory dedupe store, INFO logs,
concurrency 32), with the limiter out of the way (``RESEND_COGNITO_MAX_RPS=10000``, so the users'
first calls do not pace the drain), drains the fake endpoint's cycled backlog (``bench.fakeaws
--cycle-messages N --cycle-users U``) to the last message.

* Drain rate: deleted messages per second over the duplicate phase, from the sample where
  ``max(10% of the backlog, 3 x users)`` are deleted (every user's first request is done by
  then) to the last sample before the final 5%, with the worker's CPU over the same samples.
  The whole drain's rate, first calls and tail included, is kept in the JSON.
* Floor: just before and just after the drain, each time against a fresh fake with the same
  kind of backlog, ``bench.floor --duplicates`` makes with the worker's own clients and
  concurrency only what a duplicate needs: per ten messages one ReceiveMessage, one PublishBatch
  and one DeleteMessageBatch. The floor is the mean of the two: this shared machine's speed
  moves by tens of percent from one minute to the next, and a floor on both sides of the drain
  follows the machine through it better than one measured after.
* Cognito calls per user, from the fake's count per username: exactly one each.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench.fakeaws import cycle_username
from bench.fakeenv import CLIENT_ID, FakeEndpoint, fake_worker_env, start_fake
from bench.plan import Context
from bench.procs import machine_busy_seconds
from bench.report import ItemResult, Target
from bench.workers import WorkerProcess, start_worker

NAME = "duplicate_storm"
SAMPLE_SECONDS = 0.1
DRAIN_TIMEOUT_SECONDS = 240.0
# The floor drains its own backlog at up to this many messages a second (well above what was
# measured): its backlog is sized so that it never runs dry in its window.
FLOOR_MAX_RATE = 8000


@dataclass(frozen=True)
class Sample:
    wall: float
    deleted: int
    worker_cpu: float
    fake_cpu: float
    busy: float


async def run(ctx: Context) -> ItemResult:
    plan = ctx.plan
    result = ItemResult(NAME)
    runs = [await _one_run(ctx) for _ in range(plan.storm_repeats)]
    result.details = {
        "messages": plan.storm_messages,
        "users": plan.storm_users,
        "concurrency": plan.concurrency,
        "runs": runs,
    }
    result.add(
        "drain_msgs_per_s",
        "worker drain rate (duplicate phase)",
        "msg/s",
        [r["drain_msgs_per_s"] for r in runs],
    )
    result.add(
        "floor_msgs_per_s",
        "duplicate floor throughput",
        "msg/s",
        [r["floor_msgs_per_s"] for r in runs],
    )
    result.add(
        "ratio_throughput",
        "worker drain / duplicate floor",
        "ratio",
        [r["ratio_throughput"] for r in runs],
        Target(">=", 0.8),
    )
    result.add(
        "worker_cpu_ms_per_msg",
        "worker CPU per message",
        "ms",
        [r["worker_cpu_ms"] for r in runs],
    )
    result.add(
        "floor_cpu_ms_per_msg",
        "duplicate floor CPU per message",
        "ms",
        [r["floor_cpu_ms"] for r in runs],
    )
    result.add(
        "ratio_cpu", "floor / worker CPU per message", "ratio", [r["ratio_cpu"] for r in runs]
    )
    result.add(
        "calls_per_user",
        "Cognito calls per user",
        "calls",
        [r["calls_per_user"] for r in runs],
        Target("==", 1.0),
    )
    result.add(
        "max_calls_per_user",
        "most Cognito calls for one user",
        "calls",
        [r["max_calls_for_one_user"] for r in runs],
    )
    result.add(
        "unanswered",
        "requests without a result",
        "msgs",
        [r["unanswered"] for r in runs],
        Target("==", 0),
    )
    result.add(
        "others_cpu",
        "other processes' CPU in the window (noise)",
        "cores",
        [r["others_cpu_utilisation"] for r in runs],
    )
    return result


async def _one_run(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    messages, users = plan.storm_messages, plan.storm_users
    floor_before = await _floor(ctx, messages)
    fake = await start_fake(ctx.children, cycle=(messages, users))
    env = fake_worker_env(fake.url, concurrency=plan.concurrency)
    worker: WorkerProcess | None = None
    try:
        worker = await start_worker(ctx.children, "worker-storm", env)
        samples = await _drain(fake, worker, messages)
        worker.child.check_alive()
        stats = await fake.stats()
        per_user = await fake.cognito_users()
    finally:
        # Together: the drained worker sits in a long poll, which it would wait out at shutdown
        # (up to its shutdown timeout) unless the fake closes it. Nothing is measured after.
        stopping = [ctx.children.stop(fake.child)]
        if worker is not None:
            stopping.append(ctx.children.stop(worker.child))
        await asyncio.gather(*stopping)
    figures = _drain_figures(samples, messages, users)
    floor_after = await _floor(ctx, messages)
    expected = {cycle_username(n, users) for n in range(users)}
    calls = [per_user.get(name, 0) for name in expected]
    floors = (floor_before, floor_after)
    floor_rate = sum(f["msgs_per_s"] for f in floors) / 2
    floor_cpu_ms = sum(f["cpu_ms"] for f in floors) / 2
    return {
        **figures,
        "floor_msgs_per_s": floor_rate,
        "floor_cpu_ms": floor_cpu_ms,
        "floor_before": floor_before,
        "floor_after": floor_after,
        "ratio_throughput": figures["drain_msgs_per_s"] / floor_rate,
        "ratio_cpu": floor_cpu_ms / figures["worker_cpu_ms"],
        "cognito_calls": stats["cognito_calls"],
        "calls_per_user": sum(calls) / users,
        "max_calls_for_one_user": max(calls),
        "users_without_call": sum(1 for n in calls if n == 0),
        "calls_for_other_usernames": stats["cognito_calls"] - sum(calls),
        "unanswered": messages - stats["answered_requests"],
        "outcomes": stats["outcomes"],
        "redelivered": stats["redelivered"],
        "visibility_changes": stats["visibility_changes"],
        "receive_batch": stats["messages"] / max(1, stats["receives"]),
        "delete_batch": stats["deleted"] / max(1, stats["delete_calls"]),
        "publish_batch": stats["published"] / max(1, stats["publish_calls"]),
    }


async def _drain(fake: FakeEndpoint, worker: WorkerProcess, messages: int) -> list[Sample]:
    """Samples of the deleted count and the CPU every 0.1 s, until the backlog is gone."""
    samples: list[Sample] = []
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while True:
        stats = await fake.stats()
        samples.append(
            Sample(
                time.monotonic(),
                int(stats["deleted"]),
                worker.child.cpu().cpu,
                fake.child.cpu().cpu,
                machine_busy_seconds(),
            )
        )
        if stats["deleted"] >= messages:
            return samples
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the worker finished {stats['deleted']} of {messages} messages in "
                f"{DRAIN_TIMEOUT_SECONDS:.0f}s"
            )
        worker.child.check_alive()
        await asyncio.sleep(SAMPLE_SECONDS)


def _drain_figures(samples: list[Sample], messages: int, users: int) -> dict[str, float]:
    start_mark = max(messages // 10, 3 * users)
    end_mark = messages - messages // 20
    first = next(s for s in samples if s.deleted >= start_mark)
    last = [s for s in samples if s.deleted <= end_mark][-1]
    if last.wall <= first.wall:
        raise RuntimeError("the duplicate phase is too short to measure; raise storm_messages")
    wall = last.wall - first.wall
    done = last.deleted - first.deleted
    worker_cpu = last.worker_cpu - first.worker_cpu
    fake_cpu = last.fake_cpu - first.fake_cpu
    started = next(s for s in samples if s.deleted > 0)
    return {
        "drain_msgs_per_s": done / wall,
        "worker_cpu_ms": 1000 * worker_cpu / done,
        "worker_cpu_utilisation": worker_cpu / wall,
        "fake_cpu_utilisation": fake_cpu / wall,
        "others_cpu_utilisation": max(0.0, (last.busy - first.busy - worker_cpu - fake_cpu) / wall),
        "window_messages": done,
        "window_seconds": wall,
        "whole_drain_seconds": samples[-1].wall - started.wall,
        "whole_drain_msgs_per_s": messages / (samples[-1].wall - started.wall),
        "whole_drain_worker_cpu_ms": 1000
        * (samples[-1].worker_cpu - samples[0].worker_cpu)
        / messages,
    }


async def _floor(ctx: Context, messages: int) -> dict[str, float]:
    """The duplicate floor, on a fresh fake whose backlog outlasts the floor's window."""
    plan = ctx.plan
    window = plan.storm_floor_warmup + plan.storm_floor_seconds
    size = max(messages, int(FLOOR_MAX_RATE * window))
    fake = await start_fake(ctx.children, cycle=(size, plan.storm_users))
    try:
        env = fake_worker_env(fake.url, concurrency=plan.concurrency)
        child = ctx.children.python(
            "floor-storm",
            "-m",
            "bench.floor",
            "--duplicates",
            "--seconds",
            str(plan.storm_floor_seconds),
            "--warmup",
            str(plan.storm_floor_warmup),
            "--client-id",
            CLIENT_ID,
            env=env,
        )
        busy0, wall0 = machine_busy_seconds(), time.monotonic()
        answer = await child.first_json_line(within=60 + window)
        busy1, wall1 = machine_busy_seconds(), time.monotonic()
        await ctx.children.stop(child)
        stats = await fake.stats()
    finally:
        await ctx.children.stop(fake.child)
    if stats["deleted"] >= size:
        raise RuntimeError("the floor drained its whole backlog: raise FLOOR_MAX_RATE")
    floor = {k: float(v) for k, v in answer.items()}
    # The machine's busy cores (all processes, the floor and its fake included) from the floor's
    # start to its answer: with about 1.2 of them ours, more is other jobs' load.
    floor["machine_busy_cores"] = (busy1 - busy0) / (wall1 - wall0)
    floor["msgs_per_s"] = floor["messages"] / floor["seconds"]
    floor["cpu_ms"] = 1000 * floor["cpu_seconds"] / floor["messages"]
    floor["cpu_utilisation"] = floor["cpu_seconds"] / floor["seconds"]
    return floor
