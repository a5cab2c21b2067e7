"""Checks of Cognito answers against botocore's model, shared by the devstack tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

OPERATION = (
    botocore.session.get_session()
    .get_service_model("cognito-idp")
    .operation_model("ResendConfirmationCode")
)
MODEL_ERRORS = frozenset(shape.name for shape in OPERATION.error_shapes)
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "double": (int, float),
    "float": (int, float),
}


def check_shape(value: Any, shape: Any, path: str = "response") -> None:
    """Fail unless ``value`` has exactly the member names and types the model allows."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), path
        unexpected = set(value) - set(shape.members)
        assert not unexpected, f"{path}: members not in the model: {unexpected}"
        for name in shape.required_members:
            assert name in value, f"{path}: required member {name} missing"
        for name, member in value.items():
            check_shape(member, shape.members[name], f"{path}.{name}")
    elif shape.type_name == "list":
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            check_shape(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map":
        assert isinstance(value, dict), path
        for key, item in value.items():
            check_shape(key, shape.key, f"{path} key")
            check_shape(item, shape.value, f"{path}[{key}]")
    else:
        assert isinstance(value, _PY_TYPES[shape.type_name]), f"{path}: {value!r}"
        if isinstance(value, str):
            if shape.enum:
                assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
            assert len(value) >= shape.metadata.get("min", 0), path
            assert len(value) <= shape.metadata.get("max", len(value)), path


def check_success(response: dict[str, Any]) -> dict[str, str]:
    """Validate a parsed ResendConfirmationCode answer; return its CodeDeliveryDetails."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    check_shape(body, OPERATION.output_shape)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    details: dict[str, str] = body["CodeDeliveryDetails"]
    return details


async def resend_error(client: Any, **params: Any) -> ClientError:
    with pytest.raises(ClientError) as info:
        await client.resend_confirmation_code(**params)
    return info.value


def check_error(
    error: ClientError, code: str, message: str | None = None, status: int = 400
) -> None:
    """The error as botocore parsed it: a code of the operation's model, Cognito's status."""
    assert error.response["Error"]["Code"] == code
    assert code in MODEL_ERRORS
    if message is not None:
        assert error.response["Error"]["Message"] == message
    meta = error.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status
    assert meta["HTTPHeaders"]["x-amzn-errortype"] == code


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
