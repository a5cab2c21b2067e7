"""/metrics, /healthz and /readyz on one small HTTP server.

The probes read in-memory state only: they answer in microseconds and never call AWS, so a slow
dependency can neither make the orchestrator kill a healthy worker nor hide a stuck one. The
server (``worker.http_server``) bounds slow and numerous clients, so they cannot either.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from worker.http_server import HttpServer, Limits, Response, Route


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


def routes(health: Health) -> dict[str, Route]:
    def metrics() -> Response:
        return Response(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)

    def healthz() -> Response:
        ok, reason = health.liveness()
        return Response(200 if ok else 503, (reason + "\n").encode())

    def readyz() -> Response:
        ok, reason = health.readiness()
        return Response(200 if ok else 503, (reason + "\n").encode())

    return {"/metrics": metrics, "/healthz": healthz, "/readyz": readyz}


async def start_server(
    health: Health, host: str, port: int, limits: Limits | None = None
) -> tuple[HttpServer, int]:
    """Start serving; returns the server (``cleanup()`` stops it) and the bound port."""
    server = HttpServer(routes(health), limits)
    bound = await server.start(host, port)
    return server, bound
