"""``python -m bench.dedupe_size``: the memory dedupe store's footprint when full.

Fills a ``MemoryDedupeStore`` bounded at ``--entries`` the way the worker does for each sent
request (claim, then complete with the stored result), 10% past the bound so eviction runs, and
reports the process's RSS growth and (with ``--tracemalloc``) the bytes Python allocated for it.
It runs in a process of its own so nothing else moves the RSS figure. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
import tracemalloc
from typing import Any

import psutil  # type: ignore[import-untyped]

from worker.dedupe.keys import dedupe_key
from worker.dedupe.memory import MemoryDedupeStore
from worker.models import Outcome, Result

CLIENT_ID = "benchclient0000000000000000"
LEASE_SECONDS = 12.0
WINDOW_SECONDS = 300.0


def stored_result(number: int) -> dict[str, Any]:
    """What ``Claims.finish`` stores for a sent request: the result without the username."""
    result = Result(
        Outcome=Outcome.SENT,
        RequestId=f"req-{number:012d}-0000-0000-0000-000000000000",
        MessageId=f"{number:08d}-0000-4000-8000-000000000000",
        ClientId=CLIENT_ID,
        Username=f"user-{number}@example.com",
        CodeDeliveryDetails={
            "Destination": "u***@e***.com",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        },
    )
    return result.model_dump(mode="json", exclude={"Username"})


async def fill(store: MemoryDedupeStore, count: int) -> None:
    for number in range(count):
        key = dedupe_key(CLIENT_ID, f"user-{number}@example.com", False)
        owner = f"{number:08d}-0000-4000-8000-000000000000/{number:012x}"
        claim = await store.claim(key, owner, LEASE_SECONDS)
        assert claim.won
        await store.complete(key, owner, stored_result(number), WINDOW_SECONDS)


def measure(entries: int, use_tracemalloc: bool) -> dict[str, Any]:
    process = psutil.Process()
    store = MemoryDedupeStore(entries)
    stored_result(0)  # import and warm pydantic before the baseline
    gc.collect()
    rss_before = process.memory_info().rss
    if use_tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    asyncio.run(fill(store, entries + entries // 10))
    seconds = time.perf_counter() - started
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] if use_tracemalloc else None
    rss_after = process.memory_info().rss
    if use_tracemalloc:
        tracemalloc.stop()
    return {
        "bound": entries,
        "written": entries + entries // 10,
        "held": len(store),
        "rss_delta_bytes": rss_after - rss_before,
        "traced_bytes": traced,
        "fill_seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dedupe_size", description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.entries, args.tracemalloc)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
