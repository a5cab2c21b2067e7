"""Every fault knob, through real HTTP calls; plus the injector's clock-driven parts in-process."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from devstack import (
    DAILY_EMAIL_LIMIT,
    DevResources,
    DevStackAdmin,
    DevStackAdminError,
    Faults,
    provision,
)
from devstack.faults import ATTEMPT_LIMIT_MESSAGE, DAILY_EMAIL_LIMIT_MESSAGE
from devstack.injector import FaultInjector, _max_per_window

from .devstack_checks import check_error, check_success, resend_error, secret_hash


async def _resend(client: Any, resources: DevResources, username: str) -> str:
    """One call with the public client; answers "ok" or the error code."""
    try:
        await client.resend_confirmation_code(
            ClientId=resources.public_client_id, Username=username
        )
    except client.exceptions.ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


@pytest.mark.integration
async def test_quota_throttles_beyond_the_burst_and_nothing_reaches_cognito(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    # A refill of one token per 1000 s: only the burst of 3 can succeed during the test.
    devstack_admin.set_faults(quota_rps=0.001, burst=3)
    user = resources.unconfirmed_users[0].username
    results = await asyncio.gather(*(_resend(cognito_idp, resources, user) for _ in range(10)))
    assert sorted(results) == ["TooManyRequestsException"] * 7 + ["ok"] * 3

    error = await resend_error(cognito_idp, ClientId="nosuchclient", Username=user)
    check_error(error, "TooManyRequestsException", "Too many requests")
    stats = devstack_admin.calls()
    assert stats.total == 11
    assert stats.by_result == {"ok": 3, "TooManyRequestsException": 8}
    assert stats.sent_by_user == {user: 3}


def test_token_bucket_refills_at_the_quota_rate() -> None:
    now = [100.0]
    injector = FaultInjector(clock=lambda: now[0])
    injector.configure({"quota_rps": 2})  # capacity: one second of quota, 2 tokens
    assert [injector.take_token() for _ in range(3)] == [True, True, False]
    now[0] += 0.5  # one token back
    assert [injector.take_token() for _ in range(2)] == [True, False]
    now[0] += 10  # never more than the capacity
    assert [injector.take_token() for _ in range(3)] == [True, True, False]


def test_burst_sets_the_bucket_capacity() -> None:
    injector = FaultInjector(clock=lambda: 0.0)
    injector.configure({"quota_rps": 100, "burst": 5})
    assert sum(injector.take_token() for _ in range(20)) == 5


@pytest.mark.integration
async def test_per_user_limit_counts_codes_per_pool_and_user(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    devstack_admin.set_faults(per_user_hourly_limit=2)
    first, second = (u.username for u in resources.unconfirmed_users[:2])
    assert [await _resend(cognito_idp, resources, first) for _ in range(2)] == ["ok", "ok"]
    error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username=first)
    check_error(error, "LimitExceededException", ATTEMPT_LIMIT_MESSAGE)
    assert await _resend(cognito_idp, resources, second) == "ok"

    # The same username in another pool has its own count.
    other = await provision(resources.endpoint_url, name="other", users=1)
    assert other.unconfirmed_users[0].username == first
    assert await _resend(cognito_idp, other, first) == "ok"
    assert devstack_admin.calls().sent_by_user == {first: 3, second: 1}


def test_per_user_window_rolls_after_an_hour() -> None:
    now = [0.0]
    injector = FaultInjector(clock=lambda: now[0])
    injector.configure({"per_user_hourly_limit": 1})
    assert injector.admit_send("pool", "joe", email=True) is None
    now[0] = 3599
    assert injector.admit_send("pool", "joe", email=True) == "LimitExceededException"
    now[0] = 3600.5
    assert injector.admit_send("pool", "joe", email=True) is None


@pytest.mark.integration
async def test_daily_email_limit_is_account_wide(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    devstack_admin.set_faults(daily_email_limit=2)
    users = [u.username for u in resources.unconfirmed_users]
    assert [await _resend(cognito_idp, resources, u) for u in users[:2]] == ["ok", "ok"]
    error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username=users[2])
    check_error(error, "LimitExceededException", DAILY_EMAIL_LIMIT_MESSAGE)


@pytest.mark.integration
async def test_error_rate_one_fails_every_call_with_a_500(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    devstack_admin.set_faults(error_rate=1.0)
    user = resources.unconfirmed_users[0].username
    for _ in range(3):
        error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username=user)
        check_error(error, "InternalErrorException", status=500)
    devstack_admin.set_faults(error_rate=1.0, error_code="CodeDeliveryFailureException")
    error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username=user)
    check_error(error, "CodeDeliveryFailureException")
    assert devstack_admin.calls().sent_by_user == {}


@pytest.mark.integration
async def test_error_rate_fails_about_that_fraction(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    devstack_admin.set_faults(error_rate=0.3)
    user = resources.unconfirmed_users[0].username
    results = await asyncio.gather(*(_resend(cognito_idp, resources, user) for _ in range(200)))
    failed = results.count("InternalErrorException")
    # Binomial(200, 0.3): mean 60, standard deviation 6.5; this band is over 4 deviations wide.
    assert 32 <= failed <= 88
    assert failed + results.count("ok") == 200


@pytest.mark.integration
async def test_errors_by_username(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    a, b, c = (u.username for u in resources.unconfirmed_users)
    devstack_admin.set_faults(user_errors={a: "CodeDeliveryFailureException", b: DAILY_EMAIL_LIMIT})
    error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username=a)
    check_error(error, "CodeDeliveryFailureException")
    error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username=b)
    check_error(error, "LimitExceededException", DAILY_EMAIL_LIMIT_MESSAGE)
    response = await cognito_idp.resend_confirmation_code(
        ClientId=resources.public_client_id, Username=c
    )
    check_success(response)
    # Injected errors come after the client and SECRET_HASH checks, as a real failure would.
    error = await resend_error(cognito_idp, ClientId=resources.client_id, Username=a)
    check_error(error, "NotAuthorizedException")
    ok_hash = secret_hash(resources.client_secret, a, resources.client_id)
    error = await resend_error(
        cognito_idp, ClientId=resources.client_id, Username=a, SecretHash=ok_hash
    )
    check_error(error, "CodeDeliveryFailureException")


@pytest.mark.integration
async def test_latency_is_added_before_answering(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    devstack_admin.set_faults(latency_ms=300, jitter_ms=50)
    started = time.monotonic()
    assert await _resend(cognito_idp, resources, resources.unconfirmed_users[0].username) == "ok"
    assert time.monotonic() - started >= 0.3


def test_jitter_stays_within_its_bound() -> None:
    injector = FaultInjector()
    injector.configure({"latency_ms": 100, "jitter_ms": 20})
    delays = [injector.delay_seconds() for _ in range(200)]
    assert all(0.1 <= d <= 0.12 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.integration
async def test_call_record_counts_every_call(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    users = [u.username for u in resources.unconfirmed_users]
    before = time.time()
    results = [await _resend(cognito_idp, resources, u) for u in [*users, users[0], "nobody"]]
    assert results == ["ok"] * 4 + ["UserNotFoundException"]
    stats = devstack_admin.calls()
    assert stats.total == 5
    assert stats.by_result == {"ok": 4, "UserNotFoundException": 1}
    assert stats.sent_by_user == {users[0]: 2, users[1]: 1, users[2]: 1}
    assert [(c.username, c.result) for c in stats.calls] == [
        (u, r) for u, r in zip([*users, users[0], "nobody"], results, strict=True)
    ]
    assert all(before <= c.timestamp <= time.time() for c in stats.calls)
    assert 1 <= stats.max_ok_per_second <= 4
    assert devstack_admin.calls(with_calls=False).calls == []


def test_max_rate_is_the_busiest_one_second_window() -> None:
    assert _max_per_window([]) == 0
    assert _max_per_window([0.0, 0.5, 0.99, 1.0, 1.2, 1.5, 1.9, 5.0]) == 5
    assert _max_per_window([3.0, 1.0, 2.0]) == 1


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_code": "NoSuchException"},
        {"user_errors": {"joe": "Boom"}},
        {"error_rate": 1.5},
        {"quota_rps": 0},
        {"latency_ms": -1},
        {"quota_rps": "fast"},
        {"unknown_knob": 1},
    ],
)
def test_bad_knobs_are_refused(knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Faults().updated(knobs)


@pytest.mark.integration
def test_bad_knobs_are_refused_over_http(devstack_admin: DevStackAdmin) -> None:
    devstack_admin.reset()
    with pytest.raises(DevStackAdminError, match="not an error ResendConfirmationCode can raise"):
        devstack_admin.set_faults(error_code="NoSuchException")
    assert devstack_admin.faults() == Faults()
