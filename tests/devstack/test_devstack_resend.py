"""ResendConfirmationCode on the devstack behaves as Cognito documents it, over real HTTP."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from devstack import DevResources, DevStackAdmin, DevUser

from .devstack_checks import check_error, check_success, resend_error, secret_hash

pytestmark = pytest.mark.integration

PASSWORD = "Devstack-Passw0rd!"


async def test_success_matches_the_model_and_masks_the_email(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin
) -> None:
    user = resources.unconfirmed_users[0]
    response = await cognito_idp.resend_confirmation_code(
        ClientId=resources.public_client_id, Username=user.username
    )
    details = check_success(response)
    assert details == {
        "Destination": "u***@e***.com",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    stats = devstack_admin.calls()
    assert stats.by_result == {"ok": 1}
    assert stats.sent_by_user == {user.username: 1}


async def test_secret_client_accepts_the_right_secret_hash(
    resources: DevResources, cognito_idp: Any
) -> None:
    user = resources.unconfirmed_users[1].username
    response = await cognito_idp.resend_confirmation_code(
        ClientId=resources.client_id,
        Username=user,
        SecretHash=secret_hash(resources.client_secret, user, resources.client_id),
    )
    check_success(response)


@pytest.mark.parametrize("kind", ["missing", "wrong secret", "other username"])
async def test_secret_client_refuses_a_missing_or_wrong_secret_hash(
    resources: DevResources, cognito_idp: Any, kind: str
) -> None:
    user = resources.unconfirmed_users[0].username
    params = {"ClientId": resources.client_id, "Username": user}
    if kind == "wrong secret":
        params["SecretHash"] = secret_hash("not-the-secret", user, resources.client_id)
    elif kind == "other username":
        params["SecretHash"] = secret_hash(resources.client_secret, "someone", resources.client_id)
    error = await resend_error(cognito_idp, **params)
    check_error(
        error,
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {resources.client_id}",
    )


@pytest.mark.parametrize("username", ["josé-ñ", "名前", "emoji-\N{ROCKET}"])
async def test_secret_hash_is_checked_in_utf8(
    resources: DevResources, cognito_idp: Any, devstack_admin: DevStackAdmin, username: str
) -> None:
    devstack_admin.add_users(resources.user_pool_id, [DevUser(username, "x@example.org")])
    response = await cognito_idp.resend_confirmation_code(
        ClientId=resources.client_id,
        Username=username,
        SecretHash=secret_hash(resources.client_secret, username, resources.client_id),
    )
    assert check_success(response)["Destination"] == "x***@e***.org"


async def test_unknown_client_is_resource_not_found(
    resources: DevResources, cognito_idp: Any
) -> None:
    error = await resend_error(cognito_idp, ClientId="nosuchclient", Username="user-0000")
    check_error(error, "ResourceNotFoundException", "User pool client nosuchclient does not exist.")


async def test_unknown_user_is_user_not_found_by_default(
    resources: DevResources, cognito_idp: Any
) -> None:
    error = await resend_error(cognito_idp, ClientId=resources.public_client_id, Username="nobody")
    check_error(error, "UserNotFoundException", "Username/client id combination not found.")


async def test_prevent_user_existence_errors_simulates_success(
    resources: DevResources,
    cognito_idp: Any,
    aws_client: Callable[..., Any],
    devstack_admin: DevStackAdmin,
) -> None:
    disabled = resources.unconfirmed_users[2].username
    async with aws_client("cognito-idp") as idp:
        await idp.update_user_pool_client(
            UserPoolId=resources.user_pool_id,
            ClientId=resources.public_client_id,
            PreventUserExistenceErrors="ENABLED",
        )
        await idp.admin_disable_user(UserPoolId=resources.user_pool_id, Username=disabled)
    for username in ("nobody", disabled):
        response = await cognito_idp.resend_confirmation_code(
            ClientId=resources.public_client_id, Username=username
        )
        details = check_success(response)
        assert details["DeliveryMedium"] == "EMAIL"
        assert re.fullmatch(r"\w\*\*\*@\w\*\*\*\.\w+", details["Destination"])
    stats = devstack_admin.calls()
    assert stats.by_result == {"ok": 2}
    assert stats.sent_by_user == {}  # simulated: no code was issued

    # The secret client keeps LEGACY behaviour.
    error = await resend_error(
        cognito_idp,
        ClientId=resources.client_id,
        Username="nobody",
        SecretHash=secret_hash(resources.client_secret, "nobody", resources.client_id),
    )
    check_error(error, "UserNotFoundException")


async def test_confirmed_user_is_invalid_parameter(
    resources: DevResources, cognito_idp: Any
) -> None:
    error = await resend_error(
        cognito_idp,
        ClientId=resources.public_client_id,
        Username=resources.confirmed_users[0].username,
    )
    check_error(error, "InvalidParameterException", "User is already confirmed.")


async def _pool_with_user(
    aws_client: Callable[..., Any], attributes: dict[str, str], **pool_config: Any
) -> tuple[str, str]:
    """A fresh pool and public client with one signed-up user; returns (client id, username)."""
    async with aws_client("cognito-idp") as idp:
        pool = (await idp.create_user_pool(PoolName="extra", **pool_config))["UserPool"]["Id"]
        client = (await idp.create_user_pool_client(UserPoolId=pool, ClientName="c"))[
            "UserPoolClient"
        ]["ClientId"]
        username = attributes.get("email", "phone-user")
        await idp.sign_up(
            ClientId=client,
            Username=username,
            Password=PASSWORD,
            UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()],
        )
    return client, username


@pytest.mark.parametrize(
    ("verified", "expected"),
    [
        (["phone_number"], ("SMS", "phone_number", "+*******1234")),
        (["email", "phone_number"], ("EMAIL", "email", "j***@e***.com")),
        (["email"], ("EMAIL", "email", "j***@e***.com")),
    ],
)
async def test_delivery_follows_the_auto_verified_attributes_email_first(
    resources: DevResources,
    cognito_idp: Any,
    aws_client: Callable[..., Any],
    verified: list[str],
    expected: tuple[str, str, str],
) -> None:
    client, _ = await _pool_with_user(
        aws_client,
        {"email": "jane@example.com", "phone_number": "+15555551234"},
        AutoVerifiedAttributes=verified,
    )
    # With no UsernameAttributes, the username is the email string given to SignUp.
    response = await cognito_idp.resend_confirmation_code(
        ClientId=client, Username="jane@example.com"
    )
    details = check_success(response)
    assert (details["DeliveryMedium"], details["AttributeName"], details["Destination"]) == expected


async def test_pool_without_auto_verification_cannot_resend(
    resources: DevResources, cognito_idp: Any, aws_client: Callable[..., Any]
) -> None:
    client, username = await _pool_with_user(aws_client, {"email": "jane@example.com"})
    error = await resend_error(cognito_idp, ClientId=client, Username=username)
    check_error(error, "InvalidParameterException")


async def test_email_as_username_finds_the_user(
    resources: DevResources, cognito_idp: Any, aws_client: Callable[..., Any]
) -> None:
    client, email = await _pool_with_user(
        aws_client,
        {"email": "jane@example.com"},
        AutoVerifiedAttributes=["email"],
        UsernameAttributes=["email"],
    )
    response = await cognito_idp.resend_confirmation_code(ClientId=client, Username=email)
    assert check_success(response)["Destination"] == "j***@e***.com"


async def test_unverified_alias_is_not_a_username_yet(
    resources: DevResources, cognito_idp: Any, aws_client: Callable[..., Any]
) -> None:
    async with aws_client("cognito-idp") as idp:
        pool = (
            await idp.create_user_pool(
                PoolName="alias", AutoVerifiedAttributes=["email"], AliasAttributes=["email"]
            )
        )["UserPool"]["Id"]
        client = (await idp.create_user_pool_client(UserPoolId=pool, ClientName="c"))[
            "UserPoolClient"
        ]["ClientId"]
        await idp.sign_up(
            ClientId=client,
            Username="jane",
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "jane@example.com"}],
        )
        error = await resend_error(cognito_idp, ClientId=client, Username="jane@example.com")
        check_error(error, "UserNotFoundException")

        # Once the email is verified it is an alias, and the lookup by alias works.
        await idp.admin_update_user_attributes(
            UserPoolId=pool,
            Username="jane",
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        )
    response = await cognito_idp.resend_confirmation_code(
        ClientId=client, Username="jane@example.com"
    )
    assert check_success(response)["Destination"] == "j***@e***.com"


async def test_each_success_logs_a_new_six_digit_code(
    resources: DevResources, cognito_idp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user = resources.unconfirmed_users[0].username
    with caplog.at_level(logging.INFO, logger="devstack"):
        for _ in range(2):
            await cognito_idp.resend_confirmation_code(
                ClientId=resources.public_client_id, Username=user
            )
    codes = [
        m.group(1)
        for r in caplog.records
        if r.name == "devstack"
        and (m := re.fullmatch(rf"confirmation code for {user}: (\d{{6}})", r.getMessage()))
    ]
    assert len(codes) == 2
    assert codes[0] != codes[1]


@pytest.mark.parametrize(
    ("client_id", "username", "member"),
    [
        ("bad-client-id", "user-0000", "clientId"),
        (None, "has space", "username"),
        (None, "x" * 129, "username"),
    ],
)
async def test_off_pattern_values_are_invalid_parameter(
    resources: DevResources,
    cognito_idp: Any,
    client_id: str | None,
    username: str,
    member: str,
) -> None:
    error = await resend_error(
        cognito_idp, ClientId=client_id or resources.public_client_id, Username=username
    )
    check_error(error, "InvalidParameterException")
    assert f"'{member}'" in error.response["Error"]["Message"]
