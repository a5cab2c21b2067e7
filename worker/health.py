"""/metrics, /healthz and /readyz on one small HTTP server.

The probes read in-memory state only: they answer in microseconds and never call AWS, so a slow
dependency can neither make the orchestrator kill a healthy worker nor hide a stuck one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


@dataclass
class Health:
    """What the probes report; the consumer updates it as it works."""

    # A poll loop that has not completed a receive for this long is stuck or dead.
    stale_after_seconds: float
    ready: bool = False
    stopping: bool = False
    last_poll: float = field(default_factory=time.monotonic)
    poller: asyncio.Task[None] | None = None
    not_ready_reason: str = "starting"

    def polled(self) -> None:
        self.last_poll = time.monotonic()

    def liveness(self) -> tuple[bool, str]:
        if self.poller is not None and self.poller.done() and not self.stopping:
            return False, "the poll loop has stopped"
        since = time.monotonic() - self.last_poll
        if not self.stopping and since > self.stale_after_seconds:
            return False, f"no completed receive for {since:.0f}s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "shutting down"
        if not self.ready:
            return False, self.not_ready_reason
        return True, "ok"


def build_app(health: Health) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        ok, reason = health.liveness()
        return web.Response(status=200 if ok else 503, text=reason + "\n")

    async def readyz(_: web.Request) -> web.Response:
        ok, reason = health.readiness()
        return web.Response(status=200 if ok else 503, text=reason + "\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_server(health: Health, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (to stop it) and the bound port (port 0 picks one)."""
    runner = web.AppRunner(build_app(health), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)
