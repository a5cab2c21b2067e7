"""The worker's metrics/health port under slow and numerous clients, over real sockets.

A real worker process against the devstack; a hostile client process (slowloris.py) opens many
silent connections and trickles request heads byte by byte while /healthz is asked every 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]

from devstack import DevResources
from worker.http_server import Limits

from .harness import spawn_worker

ATTACKER = Path(__file__).with_name("slowloris.py")


def listening_port(log: str) -> int:
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") == "http server listening":
                return int(event["port"])
    raise AssertionError("the worker did not log its port")


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
    attacker = await asyncio.create_subprocess_exec(sys.executable, str(ATTACKER), str(port))
    latencies: list[float] = []
    most_connections = 0
    rss_seen: list[int] = []
    try:
        # Let the attack fill the server's connections first.
        await asyncio.sleep(1)
        assert attacker.returncode is None, "the attacking process died"
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
        still_running = worker.process.returncode is None
    finally:
        attacker.terminate()
        await attacker.wait()
        await worker.terminate()
    print(
        f"/healthz under attack: {len(latencies)} probes, median "
        f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms; "
        f"most server connections {most_connections}; RSS {min(rss_seen) / 2**20:.0f}"
        f"-{max(rss_seen) / 2**20:.0f} MiB"
    )
    assert still_running
    assert len(latencies) > 20
    assert max(latencies) < 1, sorted(latencies)[-5:]
    # The server holds at most its cap (the probe's own connection included), whatever was sent.
    assert most_connections <= Limits().max_connections + 1, most_connections
    # Memory stays flat while the attack goes on: no growth beyond a few MiB past the first half.
    half = len(rss_seen) // 2
    assert max(rss_seen[half:]) - max(rss_seen[:half]) < 8 * 2**20, rss_seen
    assert "X-Slow" not in worker.log()
