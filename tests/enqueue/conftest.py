"""Fixtures for the producer side: fresh queues on the shared devstack, and a plain SQS client.

Each test makes its own uniquely named queues instead of resetting the stack, so nothing here
disturbs (or depends on) other suites' resources. The CLI runs its own event loop, so CLI tests
are synchronous and look at the queue with botocore's synchronous client.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aiobotocore.session import get_session

from devstack import DevResources, DevStack

from .helpers import KEY_ID, REGION, SECRET_KEY, Queues

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region; nothing from the machine's own AWS configuration."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_DEFAULT_OUTPUT",
        "RESEND_QUEUE_URL",
        "RESEND_BULK_QUEUE_URL",
        "RESEND_RESULTS_QUEUE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def queues(devstack: DevStack) -> Iterator[Queues]:
    client = botocore.session.get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=devstack.endpoint_url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    )
    yield Queues(devstack.endpoint_url, client)
    client.close()


@pytest.fixture
async def async_sqs(devstack: DevStack) -> AsyncIterator[Any]:
    async with get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=devstack.endpoint_url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    ) as client:
        yield client


@pytest.fixture
def worker_process(resources: DevResources, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The worker draining both lanes, as a deployment with a bulk lane runs it."""
    env = {
        **os.environ,
        **resources.worker_env(bulk_lane=True),
        "RESEND_METRICS_PORT": "0",
        "RESEND_METRICS_HOST": "127.0.0.1",
        "RESEND_RECEIVE_WAIT_SECONDS": "1",
        "RESEND_LOG_LEVEL": "WARNING",
        "RESEND_LOG_FORMAT": "json",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker", "run"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode not in (0, -15):
            print(log.read_text(encoding="utf-8", errors="replace"), file=sys.stderr)
