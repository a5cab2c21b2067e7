"""Fixtures for the worker's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiobotocore.session import get_session

from devstack import DevResources, DevStack, DevStackAdmin

from .harness import Harness


@pytest.fixture
async def harness(
    resources: DevResources, devstack: DevStack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    for name, value in resources.worker_env().items():
        monkeypatch.setenv(name, value)
    async with get_session().create_client("sqs", region_name=resources.region) as sqs:
        harness = Harness(resources, sqs, DevStackAdmin(devstack.endpoint_url), monkeypatch)
        try:
            yield harness
        finally:
            for worker in harness.workers:
                if not worker.task.done():
                    await worker.stop()
