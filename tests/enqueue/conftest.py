"""Fixtures for the producer side: fresh queues on the shared devstack, and a plain SQS client.

Each test makes its own uniquely named queues instead of resetting the stack, so nothing here
disturbs (or depends on) other suites' resources. The CLI runs its own event loop, so CLI tests
are synchronous and look at the queue with botocore's synchronous client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore.session
import pytest
from aiobotocore.session import get_session

from devstack import DevStack

from .helpers import CREDENTIALS, REGION, Queues


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
        "RESEND_RESULTS_QUEUE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def queues(devstack: DevStack) -> Iterator[Queues]:
    client = botocore.session.get_session().create_client(
        "sqs", region_name=REGION, endpoint_url=devstack.endpoint_url, **CREDENTIALS
    )
    yield Queues(devstack.endpoint_url, client)
    client.close()


@pytest.fixture
async def async_sqs(devstack: DevStack) -> AsyncIterator[Any]:
    async with get_session().create_client(
        "sqs", region_name=REGION, endpoint_url=devstack.endpoint_url, **CREDENTIALS
    ) as client:
        yield client
