"""Child processes of the benchmark: start them, read their CPU and memory, always stop them.

Every process the benchmark starts is a ``Child`` registered in one ``Children`` set, which the
entry point closes in a ``finally``: whatever fails, nothing is left running. Processes are
stopped by their own pid (SIGTERM, then SIGKILL after a grace period), never by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]

PYTHON = sys.executable
# Children run from the repository root, so ``python -m bench.*`` and ``-m worker`` resolve.
REPO_ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    """An unused 127.0.0.1 port, for a child that cannot report the port it bound (the worker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class CpuSample:
    """A process's CPU seconds (user + system) at a wall-clock instant."""

    wall: float
    cpu: float


class ChildError(RuntimeError):
    """A child exited or did not become ready; the message quotes its output."""


class Child:
    """One child process with its output in a file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str]):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,
            cwd=REPO_ROOT,
        )
        self.process = psutil.Process(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu(self) -> CpuSample:
        times = self.process.cpu_times()
        return CpuSample(time.monotonic(), times.user + times.system)

    def rss_bytes(self) -> int:
        return int(self.process.memory_info().rss)

    def log_tail(self, lines: int = 25) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if not self.alive():
            raise ChildError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")

    async def first_json_line(self, within: float = 30.0) -> dict[str, Any]:
        """The first line of output that is a JSON object (how our own servers report ports)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.check_alive()
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(json.JSONDecodeError):
                        value = json.loads(line)
                        if isinstance(value, dict):
                            return value
            await asyncio.sleep(0.05)
        raise ChildError(f"{self.name} printed no JSON line in {within:.0f}s:\n{self.log_tail()}")

    async def line_starting(self, prefix: str, within: float = 30.0) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.check_alive()
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    return line
            await asyncio.sleep(0.05)
        raise ChildError(f"{self.name} printed no {prefix!r} in {within:.0f}s:\n{self.log_tail()}")

    async def wait_http_ok(self, url: str, within: float = 60.0) -> None:
        """Poll ``url`` until it answers 200 (the worker's /readyz)."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                self.check_alive()
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with session.get(url) as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise ChildError(f"{self.name} not ready at {url} in {within:.0f}s:\n{self.log_tail()}")

    async def wait(self) -> int:
        """Wait for the child to exit by itself."""
        return await asyncio.to_thread(self.popen.wait)

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; returns the exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.popen.wait, grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                await asyncio.to_thread(self.popen.wait)
        self._log.close()
        return self.popen.returncode

    def kill_now(self) -> None:
        """Last resort at exit (no event loop): kill by pid and reap."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        self._log.close()


class Children:
    """Every child of a benchmark run; leaving the ``async with`` stops them all."""

    def __init__(self, workdir: Path, base_env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self._base_env = dict(base_env if base_env is not None else os.environ)
        self._children: list[Child] = []
        self._counter = 0

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        self._counter += 1
        log_path = self.workdir / f"{self._counter:03d}-{name}.log"
        child = Child(name, argv, log_path, {**self._base_env, **(env or {})})
        self._children.append(child)
        return child

    def python(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Child:
        return self.spawn(name, [PYTHON, *args], env)

    async def stop(self, child: Child) -> int | None:
        code = await child.stop()
        with contextlib.suppress(ValueError):
            self._children.remove(child)
        return code

    async def stop_all(self) -> None:
        children, self._children = self._children, []
        await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)
        for child in children:
            child.kill_now()

    async def __aenter__(self) -> Children:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_all()


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), for telling our load from others'."""
    times = psutil.cpu_times()
    parts = ("user", "nice", "system", "irq", "softirq", "steal")
    return float(sum(getattr(times, name, 0.0) for name in parts))
