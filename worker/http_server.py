"""A small HTTP/1.1 server for GET on a few fixed paths, built to survive slow and many clients.

The port serves the kubelet's probes and Prometheus, and whoever else can reach it. A general
web server keeps a connection open while a client trickles its request head, and accepts as many
connections as the kernel hands it: a few slow or numerous clients then hold memory and sockets
until the probes fail and the orchestrator kills a healthy worker. Here:

* the whole request head (request line and headers) must arrive within ``header_timeout``
  seconds of the connection opening, and within ``max_head_bytes``; a body is never read;
* at most ``max_connections`` are open at once. A connection beyond the cap evicts the oldest
  one still waiting for its request head, so clients that send nothing cannot keep a probe out;
  only when every open connection is already being answered is the newcomer closed;
* the kernel's accept queue (``backlog``) is deep enough for a flood of connections, so a
  probe's connection waits there to be accepted (and evicts an older one) rather than having its
  SYN dropped, which would cost it the kernel's one-second retransmission;
* each response is written within ``write_timeout`` seconds and the connection closed after it
  (``Connection: close``), so a client that never reads holds nothing for long.

Memory is thus bounded by ``max_connections x max_head_bytes`` plus one response each.
Nothing the client sent is logged or echoed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from worker import metrics

HEAD_END: Final = b"\r\n\r\n"
REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], Response]


@dataclass(frozen=True)
class Limits:
    max_connections: int = 64
    header_timeout: float = 5.0
    write_timeout: float = 5.0
    max_head_bytes: int = 8192
    backlog: int = 1024


class HttpServer:
    """Serves ``routes`` (path -> handler) until ``cleanup``."""

    def __init__(self, routes: Mapping[str, Route], limits: Limits | None = None) -> None:
        self._routes = dict(routes)
        self._limits = limits or Limits()
        self._server: asyncio.Server | None = None
        # Open connections in the order they arrived; True while still reading the head.
        self._open: dict[asyncio.StreamWriter, bool] = {}

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (port 0 picks a free one)."""
        self._server = await asyncio.start_server(
            self._serve,
            host,
            port,
            limit=self._limits.max_head_bytes,
            backlog=self._limits.backlog,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def cleanup(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    def _make_room(self) -> bool:
        """Keep within the cap; False when the newcomer itself must go."""
        if len(self._open) < self._limits.max_connections:
            return True
        oldest_waiting = next((w for w, reading in self._open.items() if reading), None)
        if oldest_waiting is None:
            metrics.http_connections_dropped.labels("over_capacity").inc()
            return False
        metrics.http_connections_dropped.labels("evicted").inc()
        oldest_waiting.transport.abort()
        self._open.pop(oldest_waiting, None)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._make_room():
            writer.transport.abort()
            return
        self._open[writer] = True
        try:
            response = await self._read_request(reader)
            if response is None:
                writer.transport.abort()
                return
            self._open[writer] = False
            writer.write(_encode(response))
            try:
                async with asyncio.timeout(self._limits.write_timeout):
                    await writer.drain()
            except TimeoutError:
                metrics.http_connections_dropped.labels("write_timeout").inc()
                writer.transport.abort()
                return
            writer.close()
        except ConnectionError:
            writer.transport.abort()
        finally:
            self._open.pop(writer, None)

    async def _read_request(self, reader: asyncio.StreamReader) -> Response | None:
        """The response to the request head, or None when the connection is to be dropped."""
        try:
            async with asyncio.timeout(self._limits.header_timeout):
                head = await reader.readuntil(HEAD_END)
        except TimeoutError:
            metrics.http_connections_dropped.labels("header_timeout").inc()
            return None
        except asyncio.LimitOverrunError:
            metrics.http_connections_dropped.labels("head_too_large").inc()
            return None
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return self._respond(head)

    def _respond(self, head: bytes) -> Response:
        request_line = head.split(b"\r\n", 1)[0]
        parts = request_line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return Response(400, b"bad request\n")
        method, target, _ = parts
        if method != b"GET":
            return Response(405, b"only GET\n")
        path = target.split(b"?", 1)[0]
        route = self._routes.get(path.decode("ascii", errors="replace"))
        if route is None:
            return Response(404, b"not found\n")
        return route()


def _encode(response: Response) -> bytes:
    reason = REASONS.get(response.status, "Unknown")
    head = (
        f"HTTP/1.1 {response.status} {reason}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + response.body
