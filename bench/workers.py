"""Start the real worker, ``python -m worker run``, as a child process configured by environment.

The benchmark measures the worker exactly as it is deployed: its own CLI, its own settings
parsing, logs at INFO as JSON to a file (a container's stdout), metrics on a port of its own.
Variables of the benchmark's own environment that would configure the worker (``RESEND_*``,
``AWS_*``) are dropped first, so a developer's shell cannot change what is measured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bench.procs import Child, Children, free_port

# What every benchmark worker gets unless a scenario says otherwise.
DEFAULTS = {
    "RESEND_METRICS_HOST": "127.0.0.1",
    "RESEND_LOG_FORMAT": "json",
    "RESEND_LOG_LEVEL": "INFO",
    # Nothing is measured at shutdown; a worker stopping mid long poll waits this long for it.
    # The least the settings allow: one call's connect + read timeout (2 + 10 s by default).
    "RESEND_SHUTDOWN_TIMEOUT_SECONDS": "12",
    "PYTHONUNBUFFERED": "1",
}


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that configures the worker or botocore."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RESEND_", "AWS_")) and name != "PYTHONPATH"
    }


@dataclass
class WorkerProcess:
    child: Child
    metrics_port: int

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


# Settings given on the command line (``--worker-env NAME=VALUE``): they win over every
# scenario's own, so one setting can be compared across runs (e.g. RESEND_LOG_LEVEL=WARNING).
OVERRIDES: dict[str, str] = {}


async def start_worker(
    children: Children, name: str, env: Mapping[str, str], *, ready_timeout: float = 60.0
) -> WorkerProcess:
    """Start one worker and wait until its /readyz answers 200 (dependencies checked)."""
    port = free_port()
    full_env = {**DEFAULTS, **env, **OVERRIDES, "RESEND_METRICS_PORT": str(port)}
    child = children.python(name, "-m", "worker", "run", env=full_env)
    await child.wait_http_ok(f"http://127.0.0.1:{port}/readyz", within=ready_timeout)
    return WorkerProcess(child, port)
