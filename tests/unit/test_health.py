"""Probes over real HTTP: liveness catches a stuck poll loop, readiness drops at shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from worker.health import Health, start_server


@pytest.fixture
async def served() -> AsyncIterator[tuple[Health, str]]:
    health = Health(stale_after_seconds=0.5)
    runner, port = await start_server(health, "127.0.0.1", 0)
    yield health, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.text()


async def test_readiness_lifecycle(served: tuple[Health, str]) -> None:
    health, base = served
    assert await get(f"{base}/readyz") == (503, "starting\n")
    health.ready = True
    assert (await get(f"{base}/readyz"))[0] == 200
    health.stopping = True
    assert await get(f"{base}/readyz") == (503, "shutting down\n")


async def test_liveness_fails_when_polls_stop(served: tuple[Health, str]) -> None:
    health, base = served
    health.polled()
    assert (await get(f"{base}/healthz"))[0] == 200
    health.last_poll = time.monotonic() - 5
    status, text = await get(f"{base}/healthz")
    assert status == 503 and "no completed receive" in text
    health.polled()
    assert (await get(f"{base}/healthz"))[0] == 200


async def test_liveness_fails_when_the_poll_loop_died(served: tuple[Health, str]) -> None:
    health, base = served

    async def crash() -> None:
        raise RuntimeError("boom")

    health.poller = asyncio.create_task(crash())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await health.poller
    status, text = await get(f"{base}/healthz")
    assert status == 503 and "poll loop has stopped" in text


async def test_metrics_exposes_the_catalogue(served: tuple[Health, str]) -> None:
    import worker.metrics  # noqa: F401  (registers the catalogue)

    _, base = served
    status, text = await get(f"{base}/metrics")
    assert status == 200
    assert 'resend_worker_build_info{version="' in text
    assert "resend_worker_cognito_request_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text
