"""The hold knob: a user's request waits at a chosen point until the test releases it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from devstack import DevResources, DevStackAdmin, Faults


async def _resend(client: Any, resources: DevResources, username: str) -> str:
    await client.resend_confirmation_code(ClientId=resources.public_client_id, Username=username)
    return "ok"


async def _wait_held(admin: DevStackAdmin, username: str) -> None:
    deadline = time.monotonic() + 10
    while admin.held().get(username, 0) < 1:
        assert time.monotonic() < deadline, "the request was not held"
        await asyncio.sleep(0.05)


@pytest.mark.integration
@pytest.mark.parametrize(("phase", "sent_while_held"), [("before", 0), ("after", 1)])
async def test_a_held_request_waits_until_released(
    resources: DevResources,
    cognito_idp: Any,
    devstack_admin: DevStackAdmin,
    phase: str,
    sent_while_held: int,
) -> None:
    username = resources.unconfirmed_users[0].username
    devstack_admin.set_faults(hold_users={username: phase})
    call = asyncio.create_task(_resend(cognito_idp, resources, username))
    await _wait_held(devstack_admin, username)
    await asyncio.sleep(0.3)
    assert not call.done(), "held: no answer yet"
    assert devstack_admin.calls().sent_by_user.get(username, 0) == sent_while_held
    assert devstack_admin.release(username) == {username: 1}
    assert await asyncio.wait_for(call, 10) == "ok"
    assert devstack_admin.calls().sent_by_user == {username: 1}
    assert devstack_admin.held() == {}
    assert devstack_admin.faults().hold_users == {}, "released users are not held again"


def test_hold_phases_are_checked() -> None:
    with pytest.raises(ValueError, match="hold_users"):
        Faults(hold_users={"jane": "during"})
    assert Faults(hold_users={"jane": "after"}).to_json()["hold_users"] == {"jane": "after"}
