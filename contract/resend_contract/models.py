"""The request and result contracts.

A request body is exactly the input of ``aws cognito-idp resend-confirmation-code
--cli-input-json`` plus an optional ``RequestId``, so producers can reuse what they already send to
Cognito. Constraints follow botocore's service model for ResendConfirmationCode, checked here rather
than by Cognito so a bad request fails fast with the field named, and never costs quota.

The same constraints are shipped as JSON Schema in ``schemas/request.schema.json``; a test keeps
the two in step. Patterns end in ``(?![\\s\\S])`` rather than ``$`` because ``$`` also matches
before a trailing newline in Python's ``re`` (used by the JSON Schema validator).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

CLIENT_ID_PATTERN = r"^[A-Za-z0-9_+]+(?![\s\S])"
SECRET_HASH_PATTERN = r"^[A-Za-z0-9_+=/]+(?![\s\S])"  # noqa: S105
# Cognito allows letters, marks, symbols, numbers and punctuation: no whitespace, no controls.
USERNAME_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]+(?![\s\S])"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:/+=@-]+(?![\s\S])"
MAX_BODY_BYTES = 256 * 1024  # SQS's own message size limit


def _matches(pattern: str, value: str) -> bool:
    return re.match(pattern, value) is not None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # Optional members are omitted, never null: botocore would reject a null parameter.
        if isinstance(data, dict):
            nulls = [
                key for key, value in data.items() if value is None and key in cls.model_fields
            ]
            if nulls:
                raise ValueError(f"{', '.join(nulls)}: must be omitted rather than null")
        return data


class UserContextDataShape(_Strict):
    IpAddress: str | None = Field(default=None, max_length=256)
    EncodedData: str | None = Field(default=None, max_length=131072)


class AnalyticsMetadataShape(_Strict):
    AnalyticsEndpointId: str | None = Field(default=None, max_length=256)


class ResendRequest(_Strict):
    """One request, as validated before anything else happens to it."""

    ClientId: str = Field(min_length=1, max_length=128)
    Username: str = Field(min_length=1, max_length=128)
    SecretHash: str | None = Field(default=None, min_length=1, max_length=128)
    UserContextData: UserContextDataShape | None = None
    AnalyticsMetadata: AnalyticsMetadataShape | None = None
    ClientMetadata: dict[str, str] | None = None
    RequestId: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("ClientId")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not _matches(CLIENT_ID_PATTERN, value):
            raise ValueError("must contain only letters, digits, '_' and '+'")
        return value

    @field_validator("Username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not _matches(USERNAME_PATTERN, value):
            raise ValueError("must not contain whitespace or control characters")
        return value

    @field_validator("SecretHash")
    @classmethod
    def _secret_hash(cls, value: str | None) -> str | None:
        if value is not None and not _matches(SECRET_HASH_PATTERN, value):
            raise ValueError("must be base64 (letters, digits, '_', '+', '=', '/')")
        return value

    @field_validator("RequestId")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        if value is not None and not _matches(REQUEST_ID_PATTERN, value):
            raise ValueError("must contain only letters, digits and . _ : / + = @ -")
        return value

    def cognito_params(self, secret_hash: str | None) -> dict[str, Any]:
        """The ResendConfirmationCode parameters: the request minus our own RequestId."""
        params = self.model_dump(exclude_none=True, exclude={"RequestId", "SecretHash"})
        if secret_hash is not None:
            params["SecretHash"] = secret_hash
        return params


class Outcome(StrEnum):
    """What became of a request; also the ``outcome`` SNS message attribute, to filter on.

    ``unknown``: the request may have reached Cognito but its answer never came (a read timeout,
    a connection lost after the request was written, a worker that died mid-call). A code was
    probably sent; the worker does not call again within the dedupe window, and says so rather
    than guess ``sent`` or ``failed``.
    """

    SENT = "sent"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    INVALID = "invalid"
    UNKNOWN = "unknown"


class ErrorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    Code: str
    Message: str
    Reason: str | None = None


class OriginalRef(BaseModel):
    """For a duplicate: the request that did call Cognito."""

    model_config = ConfigDict(frozen=True)

    RequestId: str | None
    MessageId: str
    Outcome: Outcome
    ProcessedAt: str


class Result(BaseModel):
    """The one SNS message published per request."""

    model_config = ConfigDict(frozen=True)

    Outcome: Outcome
    RequestId: str | None
    MessageId: str
    ClientId: str | None
    Username: str | None
    CodeDeliveryDetails: dict[str, str] | None = None
    Error: ErrorInfo | None = None
    Attempts: int = 1
    ProcessedAt: str = Field(default_factory=lambda: utc_now_iso())
    Original: OriginalRef | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude={"Original"} if self.Original is None else None)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class InvalidRequest(Exception):
    """A body the worker can never process: not JSON, not an object, or fails validation.

    ``message`` names the field and the problem but never echoes the offending value, which may be
    a secret hash or an email address. ``client_id`` and ``username`` are kept when they were
    themselves valid, so the result can still say whose request it was.
    """

    code = "InvalidRequest"

    def __init__(
        self,
        message: str,
        *,
        client_id: str | None = None,
        username: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.client_id = client_id
        self.username = username
        self.request_id = request_id


def parse_body(body: str) -> ResendRequest:
    """Parse one SQS message body, unwrapping an SNS notification envelope if there is one."""
    if len(body.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        raise InvalidRequest(f"body: larger than {MAX_BODY_BYTES} bytes")
    document = _load_json(body, "body")
    if _is_sns_envelope(document):
        document = _load_json(document["Message"], "Message (SNS envelope)")
    if not isinstance(document, dict):
        raise InvalidRequest(f"body: must be a JSON object, got {_json_type(document)}")
    try:
        return ResendRequest.model_validate(document)
    except ValidationError as exc:
        raise InvalidRequest(
            describe_validation_error(exc),
            client_id=_valid_str(document, "ClientId", CLIENT_ID_PATTERN),
            username=_valid_str(document, "Username", USERNAME_PATTERN),
            request_id=_valid_str(document, "RequestId", REQUEST_ID_PATTERN),
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``Field.Path: problem``, values never included."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown member"
        elif error["type"] == "missing":
            message = "required member missing"
        problems.append(f"{location}: {message}")
    return "; ".join(problems)


def _load_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = (
            f" (line {exc.lineno} column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise InvalidRequest(f"{where}: not valid JSON{detail}") from None


def _is_sns_envelope(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
        and "TopicArn" in document
    )


def _json_type(value: Any) -> str:
    names: dict[type, str] = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    return names.get(type(value), "a number")


def _valid_str(document: dict[str, Any], key: str, pattern: str) -> str | None:
    value = document.get(key)
    if isinstance(value, str) and 0 < len(value) <= 128 and _matches(pattern, value):
        return value
    return None
