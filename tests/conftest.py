"""Fixtures shared by every suite that runs against the devstack.

``devstack`` is one local AWS stack for the whole session; ``resources`` wipes it and provisions
a fresh set, so each test starts from the same state.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import DevResources, DevStack, provision


@pytest.fixture(scope="session")
def devstack() -> Iterator[DevStack]:
    with DevStack() as stack:
        yield stack


@pytest.fixture
async def resources(devstack: DevStack) -> DevResources:
    devstack.reset()
    return await provision(devstack.endpoint_url)
