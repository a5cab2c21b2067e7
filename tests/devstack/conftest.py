"""Fixtures for anything that runs against the devstack; generic so other suites can reuse them.

``devstack`` is one server for the session. ``resources`` wipes it and provisions a fresh set,
so every test starts from the same state. moto's state is process-wide: a reset also wipes what
any other moto server in this process holds.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore import UNSIGNED

from devstack import DevStack, DevStackAdmin
from devstack.provision import DUMMY_CREDENTIALS


@functools.cache
def aws_session() -> AioSession:
    return get_session()


@pytest.fixture
def devstack_admin(devstack: DevStack) -> DevStackAdmin:
    return DevStackAdmin(devstack.endpoint_url)


@pytest.fixture
async def cognito_idp(devstack: DevStack) -> AsyncIterator[Any]:
    """An unsigned cognito-idp client with botocore's retries off, as the worker uses it."""
    config = AioConfig(
        signature_version=UNSIGNED, retries={"mode": "standard", "total_max_attempts": 1}
    )
    async with aws_session().create_client(
        "cognito-idp", region_name="us-east-1", endpoint_url=devstack.endpoint_url, config=config
    ) as client:
        yield client


@pytest.fixture
def aws_client(devstack: DevStack) -> Callable[..., Any]:
    """Makes signed clients with dummy credentials: ``async with aws_client("sqs") as sqs``."""

    def make(service: str, region: str = "us-east-1") -> Any:
        # Any service by name: the stubs type a client only for a literal service name.
        session: Any = aws_session()
        return session.create_client(
            service, region_name=region, endpoint_url=devstack.endpoint_url, **DUMMY_CREDENTIALS
        )

    return make
