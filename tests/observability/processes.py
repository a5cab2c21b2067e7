"""A real Prometheus and a real worker process, for the scrape test.

Both run as child processes on 127.0.0.1 and are always stopped by the fixture that started them.
Prometheus is asked over its HTTP API only, the way Grafana and Alertmanager see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

T = TypeVar("T")


def free_port() -> int:
    """An unused port on 127.0.0.1, for a child process that cannot report the port it bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, pause: float = 0.25
) -> T:
    """Ask ``probe`` until it answers something other than None; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            answer = await probe()
            if answer is not None:
                return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(pause)


class ChildProcess:
    """One child process with its output in a file, which failure messages quote."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, *argv: str, env: Mapping[str, str] | None = None) -> None:
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *argv, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env
            )

    def exited(self) -> bool:
        return self._process is not None and self._process.returncode is not None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self, timeout: float = 15) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()


class Prometheus:
    """A Prometheus server scraping one target every second, with rule files loaded."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        job: str,
        target: str,
        target_labels: Mapping[str, str],
        rule_files: list[Path],
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._binary = binary
        self._workdir = workdir
        self._config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "static_configs": [{"targets": [target], "labels": dict(target_labels)}],
                }
            ],
        }
        self.process = ChildProcess("prometheus", workdir / "prometheus.log")
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        config = self._workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config))
        await self.process.start(
            self._binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self._workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        )
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

        async def ready() -> bool | None:
            if self.process.exited():
                raise AssertionError(f"prometheus exited:\n{self.process.log_tail()}")
            assert self._session is not None
            async with self._session.get(f"{self.url}/-/ready") as answer:
                return True if answer.status == 200 else None

        await eventually(ready, timeout=30, what="prometheus to be ready")

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.process.stop()

    async def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; answers ``data``, or raises with Prometheus's error."""
        assert self._session is not None
        async with self._session.get(f"{self.url}/api/v1/{path}", params=params) as answer:
            body = await answer.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query at the current time; answers its vector (a scalar as one sample)."""
        data = await self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    async def value(self, expr: str) -> float | None:
        """The single value of a query that answers at most one series."""
        result = await self.query(expr)
        return float(result[0]["value"][1]) if result else None

    async def label_values(self, label: str, match: str) -> list[str]:
        values: list[str] = await self.api(f"label/{label}/values", **{"match[]": match})
        return values


class PrometheusError(Exception):
    """Prometheus refused a request (bad query, evaluation error)."""


def worker_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its RESEND_/AWS_ settings, plus ``overrides``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RESEND_", "AWS_"))
    }
    return {**inherited, **overrides}


async def start_worker(
    workdir: Path, env: Mapping[str, str], metrics_url: str, session: aiohttp.ClientSession
) -> ChildProcess:
    """``python -m worker run``, waited for until its /metrics answers."""
    worker = ChildProcess("worker", workdir / "worker.log")
    await worker.start(sys.executable, "-m", "worker", "run", env=worker_environment(env))

    async def serving() -> bool | None:
        if worker.exited():
            raise AssertionError(f"the worker exited:\n{worker.log_tail()}")
        async with session.get(metrics_url) as answer:
            return True if answer.status == 200 else None

    await eventually(serving, timeout=30, what="the worker's /metrics")
    return worker
