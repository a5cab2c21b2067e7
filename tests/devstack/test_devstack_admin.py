"""The /_devstack/ admin routes, raw and through the typed clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from devstack import (
    AsyncDevStackAdmin,
    CallStats,
    DevResources,
    DevStack,
    DevStackAdmin,
    DevStackAdminError,
    DevUser,
    Faults,
)

from .devstack_checks import check_error, resend_error

pytestmark = pytest.mark.integration


def http(devstack: DevStack, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    url = f"{devstack.endpoint_url}{path}"  # http://127.0.0.1:PORT/...
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert answer.headers["Content-Type"] == "application/json"
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_faults_route_merges_changes_and_answers_every_knob(devstack: DevStack) -> None:
    assert http(devstack, "POST", "/_devstack/cognito/reset") == (200, {"ok": True})
    status, body = http(devstack, "GET", "/_devstack/cognito/faults")
    assert status == 200
    assert body == Faults().to_json()
    assert set(body) == {
        "quota_rps",
        "burst",
        "per_user_hourly_limit",
        "daily_email_limit",
        "error_rate",
        "error_code",
        "user_errors",
        "latency_ms",
        "jitter_ms",
        "hold_users",
    }
    http(devstack, "POST", "/_devstack/cognito/faults", json.dumps({"quota_rps": 7}).encode())
    status, body = http(
        devstack,
        "POST",
        "/_devstack/cognito/faults",
        json.dumps({"user_errors": {"joe": "ForbiddenException"}}).encode(),
    )
    assert status == 200
    assert body["quota_rps"] == 7
    assert body["user_errors"] == {"joe": "ForbiddenException"}
    assert http(devstack, "GET", "/_devstack/cognito/faults")[1] == body


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/_devstack/cognito/faults", b"not json", 400),
        ("POST", "/_devstack/cognito/faults", b"[1, 2]", 400),
        ("POST", "/_devstack/cognito/faults", b'{"latency_ms": "slow"}', 400),
        ("POST", "/_devstack/cognito/users", b'{"users": []}', 400),
        ("GET", "/_devstack/nothing-here", None, 404),
        ("DELETE", "/_devstack/cognito/faults", None, 404),
    ],
)
def test_bad_requests_get_a_json_error(
    devstack: DevStack, method: str, path: str, body: bytes | None, status: int
) -> None:
    answer_status, answer = http(devstack, method, path, body)
    assert answer_status == status
    assert isinstance(answer["error"], str) and answer["error"]


async def test_calls_route_and_its_short_form(
    resources: DevResources, devstack: DevStack, cognito_idp: Any
) -> None:
    await cognito_idp.resend_confirmation_code(
        ClientId=resources.public_client_id, Username=resources.unconfirmed_users[0].username
    )
    status, body = http(devstack, "GET", "/_devstack/cognito/calls")
    assert status == 200
    stats = CallStats.from_json(body)
    assert (stats.total, stats.by_result) == (1, {"ok": 1})
    assert body["calls"][0][1:] == [resources.unconfirmed_users[0].username, "ok"]
    status, short = http(devstack, "GET", "/_devstack/cognito/calls?calls=0")
    assert short == {**body, "calls": []}


async def test_cognito_reset_forgets_history_but_keeps_resources(
    resources: DevResources, devstack_admin: DevStackAdmin, cognito_idp: Any
) -> None:
    devstack_admin.set_faults(latency_ms=1)
    user = resources.unconfirmed_users[0].username
    await cognito_idp.resend_confirmation_code(ClientId=resources.public_client_id, Username=user)
    devstack_admin.reset()
    assert devstack_admin.faults() == Faults()
    assert devstack_admin.calls().total == 0
    await cognito_idp.resend_confirmation_code(ClientId=resources.public_client_id, Username=user)
    assert devstack_admin.calls().total == 1


async def test_full_reset_wipes_aws_resources_too(
    resources: DevResources, devstack_admin: DevStackAdmin, cognito_idp: Any
) -> None:
    devstack_admin.set_faults(per_user_hourly_limit=5)
    devstack_admin.reset_all()
    assert devstack_admin.faults() == Faults()
    error = await resend_error(
        cognito_idp, ClientId=resources.public_client_id, Username="user-0000"
    )
    check_error(error, "ResourceNotFoundException")


async def test_add_users_creates_unconfirmed_and_confirmed_users(
    resources: DevResources, devstack_admin: DevStackAdmin, aws_client: Callable[..., Any]
) -> None:
    created = devstack_admin.add_users(
        resources.user_pool_id,
        [DevUser("bulk-1", "bulk-1@example.com"), DevUser("bulk-2", "b2@example.com", True)],
    )
    assert created == 2
    async with aws_client("cognito-idp") as idp:
        one = await idp.admin_get_user(UserPoolId=resources.user_pool_id, Username="bulk-1")
        two = await idp.admin_get_user(UserPoolId=resources.user_pool_id, Username="bulk-2")
    assert one["UserStatus"] == "UNCONFIRMED"
    assert {"Name": "email", "Value": "bulk-1@example.com"} in one["UserAttributes"]
    assert two["UserStatus"] == "CONFIRMED"
    with pytest.raises(DevStackAdminError, match="already exists"):
        devstack_admin.add_users(resources.user_pool_id, [DevUser("bulk-1", "x@example.com")])
    with pytest.raises(DevStackAdminError, match="does not exist"):
        devstack_admin.add_users("us-east-1_nope", [DevUser("bulk-3", "x@example.com")])
    with pytest.raises(DevStackAdminError, match="does not exist"):
        devstack_admin.add_users("nonsense", [DevUser("bulk-3", "x@example.com")])


async def test_async_client_does_the_same(
    resources: DevResources, devstack: DevStack, cognito_idp: Any
) -> None:
    admin = AsyncDevStackAdmin(devstack.endpoint_url)
    faults = await admin.set_faults(user_errors={"user-0000": "InternalErrorException"})
    assert faults.user_errors == {"user-0000": "InternalErrorException"}
    assert await admin.faults() == faults
    error = await resend_error(
        cognito_idp, ClientId=resources.public_client_id, Username="user-0000"
    )
    check_error(error, "InternalErrorException", status=500)
    assert (await admin.calls()).by_result == {"InternalErrorException": 1}
    assert await admin.add_users(resources.user_pool_id, [DevUser("a-1", "a@example.com")]) == 1
    await admin.reset()
    assert (await admin.calls()).total == 0
    await admin.reset_all()
    with pytest.raises(DevStackAdminError):
        await admin.add_users(resources.user_pool_id, [DevUser("a-2", "a@example.com")])


def test_admin_client_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError):
        DevStackAdmin("file:///etc/passwd")


async def test_other_requests_still_reach_moto(
    resources: DevResources, aws_client: Callable[..., Any]
) -> None:
    async with aws_client("sqs") as sqs:
        urls = (await sqs.list_queues())["QueueUrls"]
    assert resources.queue_url in urls
