"""Cognito's ResendConfirmationCode for moto, which answers it with a 500.

moto dispatches an action to the snake_case method of its response class, so adding
``resend_confirmation_code`` to ``CognitoIdpResponse`` is all it takes. The behaviour follows
Cognito's documentation, and the fault knobs of ``devstack.faults`` act on every call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import unicodedata
from types import SimpleNamespace
from typing import Any

import moto.cognitoidp.models as moto_models
from joserfc import jwk
from moto.cognitoidp.models import (
    CognitoIdpUser,
    CognitoIdpUserPool,
    UserStatus,
    cognitoidp_backends,
    find_account_region_by_value,
)
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult

from devstack.faults import HOLD_AFTER, HOLD_BEFORE, error_for
from devstack.injector import FaultInjector

log = logging.getLogger("devstack")

# The one injector of this process: moto's backends are process-wide, so is this state.
injector = FaultInjector()

_CLIENT_ID = re.compile(r"[\w+]{1,128}")
_SECRET_HASH = re.compile(r"[\w+=/]{1,128}")


class CognitoError(JsonRESTError):
    """An error in Cognito's JSON form: ``__type`` in body and X-Amzn-ErrorType header."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.code = status


def _injected(code: str) -> CognitoError:
    return CognitoError(*error_for(code))


def _invalid(member: str, constraint: str) -> CognitoError:
    return CognitoError(
        "InvalidParameterException",
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"Member must {constraint}",
    )


def _validate(client_id: Any, username: Any, secret_hash: Any) -> None:
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise _invalid("clientId", r"satisfy regular expression pattern: [\w+]+")
    if (
        not isinstance(username, str)
        or not 1 <= len(username) <= 128
        or any(unicodedata.category(ch)[0] not in "LMSNP" for ch in username)
    ):
        raise _invalid("username", "have length between 1 and 128 without spaces or controls")
    if secret_hash is not None and (
        not isinstance(secret_hash, str) or not _SECRET_HASH.fullmatch(secret_hash)
    ):
        raise _invalid("secretHash", r"satisfy regular expression pattern: [\w+=/]+")


def secret_hash_matches(secret: str, client_id: str, username: str, given: str | None) -> bool:
    """Cognito's check, in UTF-8; moto's own checker encodes latin-1 and fails on other text."""
    if given is None:
        return False
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), given)


def _find_pool(client_id: str, fallback: tuple[str, str]) -> CognitoIdpUserPool:
    """The pool holding this app client, whatever the region (unsigned calls carry none)."""
    account, region = find_account_region_by_value("client_id", client_id, fallback=fallback)
    for pool in cognitoidp_backends[account][region].user_pools.values():
        if client_id in pool.clients:
            return pool
    raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")


def _find_user(pool: CognitoIdpUserPool, username: str) -> CognitoIdpUser | None:
    """By username, or by an alias (AliasAttributes) the user has verified."""
    user = pool._get_user(username)
    if user is not None:
        return user
    for alias in pool.extended_config.get("AliasAttributes") or []:
        for candidate in pool.users.values():
            attrs = candidate.attribute_lookup
            if attrs.get(alias) == username and attrs.get(f"{alias}_verified") == "true":
                return candidate
    return None


def mask_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""
    return f"{local[:1]}***@{name[:1]}***{dot}{tld}"


def mask_phone(phone: str) -> str:
    digits = phone.lstrip("+")
    return "+" + "*" * max(len(digits) - 4, 0) + digits[-4:]


def _delivery(pool: CognitoIdpUserPool, attrs: dict[str, Any]) -> dict[str, str] | None:
    """Where the code goes: the pool's auto-verified attributes, email first."""
    verified = pool.extended_config.get("AutoVerifiedAttributes") or []
    if "email" in verified and attrs.get("email"):
        return {
            "Destination": mask_email(attrs["email"]),
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        }
    if "phone_number" in verified and attrs.get("phone_number"):
        return {
            "Destination": mask_phone(attrs["phone_number"]),
            "DeliveryMedium": "SMS",
            "AttributeName": "phone_number",
        }
    return None


def _simulated(pool: CognitoIdpUserPool, username: str) -> dict[str, str]:
    """A plausible answer for a user who does not exist, so the caller cannot tell."""
    fake = {"email": f"{username[:1]}@example.com", "phone_number": "+15550100000"}
    return _delivery(pool, fake) or {
        "Destination": mask_email(fake["email"]),
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }


def _resend(params: dict[str, Any], fallback: tuple[str, str]) -> tuple[dict[str, str], bool]:
    """The call itself; returns (CodeDeliveryDetails, whether a code was really issued)."""
    client_id, username = params.get("ClientId"), params.get("Username")
    secret_hash = params.get("SecretHash")
    if not injector.take_token():
        raise _injected("TooManyRequestsException")
    _validate(client_id, username, secret_hash)
    assert isinstance(client_id, str) and isinstance(username, str)
    pool = _find_pool(client_id, fallback)
    client = pool.clients[client_id]
    if client.generate_secret and not secret_hash_matches(
        client.secret, client_id, username, secret_hash
    ):
        raise CognitoError(
            "NotAuthorizedException", f"Unable to verify secret hash for client {client_id}"
        )
    injected = injector.injected_error(username)
    if injected is not None:
        raise _injected(injected)

    user = _find_user(pool, username)
    if user is None or not user.enabled:
        if client.extended_config.get("PreventUserExistenceErrors") == "ENABLED":
            return _simulated(pool, username), False
        raise CognitoError("UserNotFoundException", "Username/client id combination not found.")
    if user.status == UserStatus.CONFIRMED:
        raise CognitoError("InvalidParameterException", "User is already confirmed.")
    details = _delivery(pool, user.attribute_lookup)
    if details is None:
        raise CognitoError(
            "InvalidParameterException", "Cannot resend codes. Auto verification not turned on."
        )
    refused = injector.admit_send(
        pool.id, user.username, email=details["DeliveryMedium"] == "EMAIL"
    )
    if refused is not None:
        raise _injected(refused)

    code = f"{secrets.randbelow(1_000_000):06d}"
    log.info("confirmation code for %s: %s", user.username, code)
    return details, True


def resend_confirmation_code(self: CognitoIdpResponse) -> ActionResult:
    """The method moto calls for ResendConfirmationCode; records every answer."""
    delay = injector.delay_seconds()
    if delay:
        time.sleep(delay)
    params = self.parameters
    username = str(params.get("Username", ""))
    injector.hold(username, HOLD_BEFORE)
    try:
        details, sent = _resend(params, (self.current_account, self.region))
    except CognitoError as exc:
        injector.record(username, exc.error_type)
        raise
    injector.record(username, "ok", sent=sent)
    injector.hold(username, HOLD_AFTER)
    return ActionResult({"CodeDeliveryDetails": details})


def add_users(user_pool_id: str, users: list[dict[str, Any]]) -> int:
    """Create users straight in moto's backend, as SignUp would leave them.

    SignUp over HTTP costs about 5 ms a user here; tests want hundreds. Each entry is
    ``{"username": str, "email": str, "confirmed": bool}``; answers how many were created.
    """
    region = user_pool_id.partition("_")[0]
    try:
        pool = cognitoidp_backends[DEFAULT_ACCOUNT_ID][region].user_pools.get(user_pool_id)
    except KeyError:
        pool = None
    if pool is None:
        raise ValueError(f"user pool {user_pool_id} does not exist")
    new = {}
    for entry in users:
        username, email = str(entry["username"]), str(entry["email"])
        if username in pool.users or username in new:
            raise ValueError(f"user {username} already exists")
        status = UserStatus.CONFIRMED if entry.get("confirmed") else UserStatus.UNCONFIRMED
        new[username] = CognitoIdpUser(
            user_pool_id, username, None, status, [{"Name": "email", "Value": email}]
        )
    pool.users.update(new)
    return len(new)


class _SharedRSAKey:
    """moto imports the same RSA key for every new pool: ~0.12 s of key checks each time."""

    _keys: dict[str, Any] = {}

    @classmethod
    def import_key(cls, data: Any) -> Any:
        text = json.dumps(data, sort_keys=True)
        if text not in cls._keys:
            cls._keys[text] = jwk.RSAKey.import_key(data)
        return cls._keys[text]


def install() -> None:
    """Teach moto the operation (and to create pools fast); calling it again changes nothing."""
    moto_models.jwk = SimpleNamespace(RSAKey=_SharedRSAKey)  # type: ignore[attr-defined,assignment]
    if (
        getattr(CognitoIdpResponse, "resend_confirmation_code", None)
        is not resend_confirmation_code
    ):
        CognitoIdpResponse.resend_confirmation_code = resend_confirmation_code  # type: ignore[attr-defined]
