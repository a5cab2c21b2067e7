"""The worker's metrics/health port under slow and numerous clients, over real sockets.

A real worker process against the devstack; hostile clients open many silent connections and
trickle request heads byte by byte while /healthz is asked every 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import aiohttp
import psutil
from harness import spawn_worker

from devstack import DevResources
from worker.http_server import Limits

SILENT_CONNECTIONS = 600
TRICKLERS = 40


def listening_port(log: str) -> int:
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") == "http server listening":
                return int(event["port"])
    raise AssertionError("the worker did not log its port")


async def trickle(port: int, stop: asyncio.Event) -> None:
    """A slowloris: reconnects and sends a never-ending head a byte every 50 ms."""
    while not stop.is_set():
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 10_000:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
            writer.close()
        except (ConnectionError, OSError):
            await asyncio.sleep(0.01)


async def flood(port: int, stop: asyncio.Event, held: list[asyncio.StreamWriter]) -> None:
    """Opens silent connections and keeps opening new ones as the server drops them."""
    while not stop.is_set():
        held[:] = [w for w in held if not w.is_closing()]
        while len(held) < SILENT_CONNECTIONS and not stop.is_set():
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                break
            held.append(writer)
        await asyncio.sleep(0.2)


def server_connections(pid: int, port: int) -> int:
    return sum(
        1
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


async def test_healthz_answers_within_a_second_under_slowloris(
    resources: DevResources, tmp_path: Path
) -> None:
    worker = await spawn_worker(resources, tmp_path, "port")
    port = listening_port(worker.log())
    stop = asyncio.Event()
    held: list[asyncio.StreamWriter] = []
    attackers = [asyncio.create_task(trickle(port, stop)) for _ in range(TRICKLERS)]
    attackers.append(asyncio.create_task(flood(port, stop, held)))
    latencies: list[float] = []
    most_connections = 0
    rss_seen: list[int] = []
    try:
        timeout = aiohttp.ClientTimeout(total=1)
        # Longer than the header deadline, so dropped tricklers come back and go again.
        deadline = time.monotonic() + Limits().header_timeout * 2 + 2
        while time.monotonic() < deadline:
            started = time.monotonic()
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as answer,
            ):
                assert answer.status == 200, await answer.text()
            latencies.append(time.monotonic() - started)
            most_connections = max(most_connections, server_connections(worker.process.pid, port))
            rss_seen.append(psutil.Process(worker.process.pid).memory_info().rss)
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        for task in attackers:
            task.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)
        for writer in held:
            writer.close()
    assert len(latencies) > 50
    assert max(latencies) < 1, sorted(latencies)[-5:]
    # The server holds at most its cap (the probe's own connection included), whatever was sent.
    assert most_connections <= Limits().max_connections + 1, most_connections
    # Memory stays flat while the attack goes on: no growth beyond a few MiB past the first half.
    half = len(rss_seen) // 2
    assert max(rss_seen[half:]) - max(rss_seen[:half]) < 8 * 2**20, rss_seen
    assert worker.process.returncode is None
    await worker.terminate()
    assert "X-Slow" not in worker.log()
