"""``python -m bench.dedupe_size``: the memory dedupe store's footprint when full.

Fills a ``MemoryDedupeStore`` bounded at ``--entries`` through the worker's own ``Claims``, the
way the worker does for each sent request (claim, finish with the result, note it published),
10% past the bound so eviction runs, and reports the process's RSS growth and (with
``--tracemalloc``) the bytes Python allocated for it. It runs in a process of its own so nothing
else moves the RSS figure. Prints one JSON line.
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
from resend_contract.models import Outcome, ResendRequest, Result

from worker.claims import Claims, Proceed
from worker.dedupe.memory import MemoryDedupeStore

CLIENT_ID = "benchclient0000000000000000"
LEASE_SECONDS = 12.0
WINDOW_SECONDS = 300.0


def request_and_result(number: int) -> tuple[ResendRequest, Result]:
    """A request as producers send it and the ``sent`` result the worker stores for it."""
    username = f"user-{number}@example.com"
    request = ResendRequest(ClientId=CLIENT_ID, Username=username)
    result = Result(
        Outcome=Outcome.SENT,
        RequestId=f"{number:08d}-0000-4000-8000-000000000000",
        MessageId=f"{number:08d}-0000-4000-8000-000000000000",
        ClientId=CLIENT_ID,
        Username=username,
        CodeDeliveryDetails={
            "Destination": "u***@e***.com",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        },
    )
    return request, result


async def fill(store: MemoryDedupeStore, count: int) -> None:
    claims = Claims(
        store,
        window_seconds=WINDOW_SECONDS,
        lease_seconds=LEASE_SECONDS,
        fail_open=False,
    )
    for number in range(count):
        request, result = request_and_result(number)
        claim = await claims.claim(request, result.MessageId, result.MessageId)
        assert isinstance(claim, Proceed) and claim.holds_claim
        await claims.finish(claim, result)
        await claims.mark_published(claim, result)


def measure(entries: int, use_tracemalloc: bool) -> dict[str, Any]:
    process = psutil.Process()
    store = MemoryDedupeStore(entries)
    request_and_result(0)  # import and warm pydantic before the baseline
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
