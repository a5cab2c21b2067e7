"""``python -m bench.profile``: where the worker's CPU goes, sampled with py-spy.

Runs the CPU item's set-up (one worker draining the fake endpoint), attaches py-spy to the worker
process for a while, and folds the samples three ways: by the package of the frame that was
running (self time), by function (self time), and by function including callees, for the worker's
own functions. Idle samples (the event loop waiting in epoll) are left out by py-spy, so shares
are of busy CPU.

With ``--storm N`` the fake serves the duplicate storm item's backlog instead (N requests cycling
through ``--storm-users`` users, 99% duplicates at the defaults); sampling starts after the first
cycles, so it is the duplicates' cost; N must outlast the recording (about 1,000 msg/s here).

py-spy is not a dependency of the project: install it anywhere (``pip install py-spy``) and put it
on PATH, or pass ``--py-spy PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fakeenv import fake_worker_env, start_fake
from bench.procs import Children
from bench.workers import clean_environment, start_worker

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")

# Leaf frames are grouped by the first path component that names one of these.
COMPONENTS = (
    "worker",
    "aiobotocore",
    "botocore",
    "aiohttp",
    "yarl",
    "multidict",
    "asyncio",
    "structlog",
    "pydantic",
    "pydantic_core",
    "prometheus_client",
    "tenacity",
    "json",
    "logging",
    "hmac",
    "hashlib",
    "urllib3",
    "dateutil",
    "xml",
    "email",
    "http",
    "uuid",
    "ssl",
    "selectors",
)


@dataclass(frozen=True)
class Frame:
    func: str
    file: str

    @property
    def component(self) -> str:
        parts = self.file.replace("\\", "/").split("/")
        head = parts[0].removesuffix(".py")
        if head in COMPONENTS:
            return head
        for part in parts:
            if part.removesuffix(".py") in COMPONENTS:
                return part.removesuffix(".py")
        return head or "?"

    def __str__(self) -> str:
        return f"{self.func} ({self.file})"


def parse_folded(text: str) -> list[tuple[list[Frame], int]]:
    """py-spy's raw output: ``frame;frame;...;leaf COUNT`` per line, root first."""
    stacks = []
    for line in text.splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        frames = []
        for raw in stack_text.split(";"):
            match = _FRAME.match(raw.strip())
            if match:
                frames.append(Frame(match["func"], match["file"]))
            else:
                frames.append(Frame(raw.strip(), "?"))
        stacks.append((frames, int(count)))
    return stacks


SDK_ENTRY = "_make_api_call"
EVENT_LOOP = "event loop (no worker frame)"
# The worker's entry points: frames every sample has, which say nothing about the cost.
ENTRY_FILES = ("worker/__main__.py", "worker/cli.py")
_CATEGORIES_BY_COMPONENT = {
    "tenacity": "retry wrappers (tenacity)",
    "structlog": "logging (structlog, scrubbing)",
    "prometheus_client": "metrics (prometheus_client)",
    "pydantic": "models (pydantic)",
    "pydantic_core": "models (pydantic)",
    "hmac": "SECRET_HASH",
}
_CATEGORIES_BY_FILE = (
    ("worker/logs.py", "logging (structlog, scrubbing)"),
    ("resend_contract/models.py", "models (pydantic)"),
    ("worker/dedupe/", "dedupe (claims, memory store)"),
    ("worker/claims.py", "dedupe (claims, memory store)"),
    ("worker/batching.py", "micro-batching"),
    ("worker/rate_limit/", "rate limiter"),
    ("worker/secret_hash.py", "SECRET_HASH"),
    ("worker/metrics.py", "metrics (prometheus_client)"),
)


def cost_category(frames: list[Frame]) -> str:
    """The innermost frame that names a cost we can act on, from the leaf up."""
    for frame in reversed(frames):
        if frame.file in ENTRY_FILES:
            break
        category = _CATEGORIES_BY_COMPONENT.get(frame.component)
        if category is not None:
            return category
        for prefix, name in _CATEGORIES_BY_FILE:
            if frame.file.startswith(prefix):
                return name
        if frame.component == "worker":
            return f"worker: {frame.func}"
    return EVENT_LOOP


def summarise(stacks: list[tuple[list[Frame], int]], top: int = 25) -> dict[str, Any]:
    """Shares of busy samples: the SDK's calls against everything else, and what that is.

    A sample is the SDK's when any frame is aiobotocore's ``_make_api_call`` (building, signing,
    sending and parsing one call). Every other sample is the worker's own cost (its code and what
    it calls: asyncio scheduling, tenacity, structlog, pydantic, prometheus_client...), charged
    to the innermost worker function on the stack, so each line names code we can change.
    """
    total = sum(count for _, count in stacks) or 1
    sdk = 0
    by_component: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own_by_worker_function: Counter[str] = Counter()
    own_by_component: Counter[str] = Counter()
    own_by_function: Counter[str] = Counter()
    own_by_cost: Counter[str] = Counter()
    for frames, count in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        by_component[leaf.component] += count
        by_self[str(leaf)] += count
        seen = set()
        for frame in frames:
            name = str(frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
        if any(frame.func.endswith(SDK_ENTRY) for frame in frames):
            sdk += count
            continue
        own_by_component[leaf.component] += count
        own_by_function[str(leaf)] += count
        own_by_cost[cost_category(frames)] += count
        innermost = next(
            (
                str(f)
                for f in reversed(frames)
                if f.component == "worker" and f.file not in ENTRY_FILES
            ),
            EVENT_LOOP,
        )
        own_by_worker_function[innermost] += count

    def shares(counter: Counter[str], keep: int) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(keep)]

    return {
        "samples": total,
        "sdk_calls_pct": round(100 * sdk / total, 1),
        "own_pct": round(100 * (total - sdk) / total, 1),
        "own_by_cost_pct": shares(own_by_cost, top),
        "own_by_worker_function_pct": shares(own_by_worker_function, top),
        "own_by_component_pct": shares(own_by_component, top),
        "own_by_function_pct": shares(own_by_function, top),
        "self_by_component_pct": shares(by_component, top),
        "self_by_function_pct": shares(by_self, top),
        "all_functions_inclusive_pct": shares(inclusive, top * 2),
    }


async def profile(
    py_spy: str,
    seconds: float,
    rate: int,
    raw: Path,
    workdir: Path,
    storm: tuple[int, int] | None = None,
) -> None:
    """Record ``seconds`` of the worker under load into ``raw`` (py-spy's folded stacks)."""
    async with Children(workdir, clean_environment()) as children:
        fake = await start_fake(children, cycle=storm)
        worker = await start_worker(
            children, "worker-profile", fake_worker_env(fake.url, concurrency=32)
        )
        await asyncio.sleep(2)
        spy = children.spawn(
            "py-spy",
            [
                py_spy,
                "record",
                "--pid",
                str(worker.child.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--gil",
                "--output",
                str(raw),
            ],
        )
        if await spy.wait() != 0:
            raise RuntimeError(f"py-spy failed:\n{spy.log_tail()}")


def _print(summary: dict[str, Any]) -> None:
    print(f"samples: {summary['samples']}")
    print(f"SDK calls: {summary['sdk_calls_pct']}%  worker's own: {summary['own_pct']}%")
    for key in (
        "own_by_cost_pct",
        "own_by_worker_function_pct",
        "own_by_component_pct",
        "own_by_function_pct",
        "self_by_component_pct",
        "self_by_function_pct",
        "all_functions_inclusive_pct",
    ):
        print(f"\n{key}:")
        for name, pct in summary[key]:
            print(f"  {pct:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="path to py-spy")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--raw", type=Path, help="keep py-spy's folded stacks here")
    parser.add_argument("--storm", type=int, help="a duplicate storm of this many requests")
    parser.add_argument("--storm-users", type=int, default=1000, help="users of --storm")
    args = parser.parse_args(argv)
    if not args.py_spy:
        print("py-spy not found: pip install py-spy, or pass --py-spy PATH", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="resend-profile-"))
    raw = args.raw or workdir / "profile.txt"
    try:
        storm = (args.storm, args.storm_users) if args.storm is not None else None
        asyncio.run(profile(args.py_spy, args.seconds, args.rate, raw, workdir, storm))
        summary = summarise(parse_folded(raw.read_text()))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    _print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
