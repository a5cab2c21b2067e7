"""The probe server over real sockets: slow and numerous clients cannot keep a probe out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from worker import metrics
from worker.http_server import HttpServer, Limits, Response

LIMITS = Limits(max_connections=8, header_timeout=0.5, write_timeout=0.5, max_head_bytes=1024)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    server = HttpServer({"/healthz": lambda: Response(200, b"ok\n")}, LIMITS)
    bound = await server.start("127.0.0.1", 0)
    yield bound
    await server.cleanup()


async def request(port: int, raw: bytes = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") -> bytes:
    """The whole answer; empty when the server dropped the connection instead."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 2)
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server ended the connection without a byte of answer (FIN or reset)."""
    try:
        return await asyncio.wait_for(reader.read(), 2) == b""
    except ConnectionError:
        return True


def dropped(reason: str) -> float:
    return float(metrics.http_connections_dropped.labels(reason)._value.get())


async def test_answers_and_closes(port: int) -> None:
    answer = await request(port)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close\r\n" in answer and answer.endswith(b"\r\n\r\nok\n")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /nowhere HTTP/1.1\r\n\r\n", b"404"),
        (b"POST /healthz HTTP/1.1\r\n\r\n", b"405"),
        (b"GET /healthz\r\n\r\n", b"400"),
        (b"\xff\xfe /healthz HTTP/1.1\r\n\r\n", b"405"),
        (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", b"404"),
    ],
)
async def test_bad_requests_get_a_status_and_nothing_echoed(
    port: int, raw: bytes, status: bytes
) -> None:
    answer = await request(port, raw)
    assert answer.split(b" ")[1] == status
    assert b"nowhere" not in answer and b"\xff" not in answer


async def test_a_head_that_never_ends_is_dropped_at_the_deadline(port: int) -> None:
    before = dropped("header_timeout")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    # Byte by byte, faster than any per-read timeout would notice.
    with pytest.raises(ConnectionError):
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.01)
    assert await closed_by_server(reader)
    assert time.monotonic() - started < LIMITS.header_timeout + 1
    assert dropped("header_timeout") == before + 1
    writer.close()


async def test_a_head_over_the_size_limit_is_dropped(port: int) -> None:
    before = dropped("head_too_large")
    answer = await request(port, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
    assert answer == b""
    assert dropped("head_too_large") == before + 1


async def test_connections_over_the_cap_evict_the_oldest_silent_ones(port: int) -> None:
    before = dropped("evicted")
    silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3 * 8)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    answer = await request(port)
    assert answer.startswith(b"HTTP/1.1 200 OK") and time.monotonic() - started < 0.2
    assert dropped("evicted") >= before + 3 * 8 - 8 + 1
    # The oldest were closed by the server; the newest are still open.
    assert await closed_by_server(silent[0][0])
    for _, writer in silent:
        writer.close()


async def test_a_client_that_never_reads_is_dropped_at_the_write_deadline() -> None:
    # Far more than the socket buffers hold, so the write can only finish if the client reads.
    big = Response(200, b"x" * 64 * 2**20)
    server = HttpServer({"/big": lambda: big}, LIMITS)
    port = await server.start("127.0.0.1", 0)
    before = dropped("write_timeout")
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1024)
        writer.write(b"GET /big HTTP/1.1\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(LIMITS.write_timeout + 2):
            while dropped("write_timeout") == before:
                await asyncio.sleep(0.05)
        writer.close()
    finally:
        await server.cleanup()
