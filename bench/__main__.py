"""``python -m bench [--quick]``: run the benchmark items, print the table, write the JSON.

Items run one after another, never together: on a 2-core machine two items at once would measure
each other. Every child process is stopped when the run ends, whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import redis.asyncio as aioredis

from bench import workers
from bench.items import (
    cpu,
    duplicate_storm,
    duplicates,
    goodput,
    lanes,
    latency,
    memory,
    quota_step,
    scale_out,
    store_writes,
)
from bench.plan import Context, plan_for
from bench.procs import Children
from bench.report import ItemResult, render_table, write_json
from bench.workers import clean_environment

ITEMS: dict[str, Callable[[Context], Awaitable[ItemResult]]] = {
    cpu.NAME: cpu.run,
    goodput.NAME: goodput.run,
    latency.NAME: latency.run,
    memory.NAME: memory.run,
    duplicates.NAME: duplicates.run,
    store_writes.NAME: store_writes.run,
    lanes.NAME: lanes.run,
    quota_step.NAME: quota_step.run,
    scale_out.NAME: scale_out.run,
    duplicate_storm.NAME: duplicate_storm.run,
}
RESULTS_DIR = Path(__file__).parent / "results"
PACKAGES = (
    "aiobotocore",
    "botocore",
    "aiohttp",
    "pydantic",
    "pydantic-settings",
    "structlog",
    "tenacity",
    "prometheus-client",
    "redis",
    "moto",
    "psutil",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds per item (smoke run)")
    parser.add_argument(
        "--only", action="append", choices=sorted(ITEMS), help="run only this item (repeatable)"
    )
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 3; quick 1)")
    parser.add_argument(
        "--steady-seconds",
        type=float,
        help="duration of the steady memory run (default 600; quick 8)",
    )
    parser.add_argument(
        "--storm-messages",
        type=int,
        help="the duplicate storm's backlog (default 50,000; quick 6,000)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--output", type=Path, help="JSON path (default bench/results/<time>.json)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the child processes' logs")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every worker started, over the scenarios' own (repeatable)",
    )
    return parser


def machine() -> dict[str, Any]:
    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": cpu_model,
        "logical_cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "load_average_at_start": list(psutil.getloadavg()),
    }


def git_commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def worker_dirty() -> bool | None:
    """Whether worker/ differs from the commit: then the commit alone does not name the code."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", "worker"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent.parent,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.strip())


async def _check_redis(url: str) -> None:
    client = aioredis.Redis.from_url(url, socket_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def run(args: argparse.Namespace) -> tuple[list[ItemResult], float]:
    plan = plan_for(
        args.quick,
        repeats=args.repeats,
        steady_seconds=args.steady_seconds,
        storm_messages=args.storm_messages,
    )
    await _check_redis(args.redis_url)
    names = args.only or list(ITEMS)
    workdir = Path(tempfile.mkdtemp(prefix="resend-bench-"))
    results: list[ItemResult] = []
    started = time.monotonic()
    try:
        async with Children(workdir, clean_environment()) as children:
            ctx = Context(plan, children, workdir, args.redis_url)
            for name in names:
                item_started = time.monotonic()
                print(f"[bench] {name} ...", file=sys.stderr, flush=True)
                try:
                    item = await ITEMS[name](ctx)
                except Exception as exc:
                    traceback.print_exc()
                    item = ItemResult(name, error=f"{type(exc).__name__}: {exc}")
                item.seconds = time.monotonic() - item_started
                print(f"[bench] {name} done in {item.seconds:.0f}s", file=sys.stderr, flush=True)
                results.append(item)
    finally:
        if args.keep_logs or any(item.error for item in results):
            print(f"[bench] child logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for setting in args.worker_env:
        name, sep, value = setting.partition("=")
        if not sep or not name:
            print(f"--worker-env wants NAME=VALUE, not {setting!r}", file=sys.stderr)
            return 2
        workers.OVERRIDES[name] = value
    info = machine()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results, elapsed = asyncio.run(run(args))
    plan = plan_for(
        args.quick,
        repeats=args.repeats,
        steady_seconds=args.steady_seconds,
        storm_messages=args.storm_messages,
    )
    info["load_average_at_end"] = list(psutil.getloadavg())
    document = {
        "timestamp": stamp,
        "commit": git_commit(),
        "worker_changed_since_commit": worker_dirty(),
        "worker_env_overrides": dict(workers.OVERRIDES),
        "mode": plan.mode,
        "plan": plan.__dict__,
        "machine": info,
        "elapsed_seconds": round(elapsed, 1),
        "items": {item.name: item.to_json() for item in results},
    }
    output = args.output or RESULTS_DIR / f"{stamp}-{plan.mode}.json"
    write_json(output, document)
    print(render_table(results))
    print(f"\n{plan.mode} run: {elapsed:.0f}s; results in {output}")
    return 1 if any(item.error for item in results) else 0


if __name__ == "__main__":
    sys.exit(main())
