"""The request and result contracts.

A request body is exactly the input of ``aws cognito-idp resend-confirmation-code
--cli-input-json`` plus an optional ``RequestId``, so producers can reuse what they already send to
Cognito. Constraints follow botocore's service model for ResendConfirmationCode, checked here rather
than by Cognito so a bad request fails fast with the field named, and never costs quota.

What no schema says (sizes, depth, numbers, member names, string contents) is bounded in
``resend_contract.bounds``, before validation, so no body can cost more than a fixed amount to
read, and every rejection is an ``InvalidRequest`` whose message never echoes the producer's text.

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

from resend_contract import bounds, validation
from resend_contract.bounds import MAX_BODY_BYTES, BoundExceeded

CLIENT_ID_PATTERN = r"^[A-Za-z0-9_+]+(?![\s\S])"
SECRET_HASH_PATTERN = r"^[A-Za-z0-9_+=/]+(?![\s\S])"  # noqa: S105
# Cognito allows letters, marks, symbols, numbers and punctuation: no whitespace, no controls.
USERNAME_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]+(?![\s\S])"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:/+=@-]+(?![\s\S])"
__all__ = ["MAX_BODY_BYTES", "InvalidRequest", "ResendRequest", "Result", "parse_body"]


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


def _free_form(value: str | None) -> str | None:
    if value is not None:
        problem = bounds.identifier_problem(value)
        if problem is not None:
            raise ValueError(problem)
    return value


class UserContextDataShape(_Strict):
    IpAddress: str | None = Field(default=None, max_length=256)
    EncodedData: str | None = Field(default=None, max_length=131072)

    _contents = field_validator("IpAddress", "EncodedData")(_free_form)


class AnalyticsMetadataShape(_Strict):
    AnalyticsEndpointId: str | None = Field(default=None, max_length=256)

    _contents = field_validator("AnalyticsEndpointId")(_free_form)


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
        problem = bounds.username_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("ClientMetadata")
    @classmethod
    def _client_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            problem = bounds.client_metadata_problem(value)
            if problem is not None:
                raise ValueError(problem)
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
    """An error as a result reports it: bounded, whoever wrote the message (Cognito, a Lambda
    trigger's answer, the worker), so a result always fits SNS's limits."""

    model_config = ConfigDict(frozen=True)

    Code: str
    Message: str
    Reason: str | None = None

    @field_validator("Code", "Reason")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        return None if value is None else bounds.clip(value, 128)

    @field_validator("Message")
    @classmethod
    def _bounded(cls, value: str) -> str:
        return bounds.clip(value)


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
        message = bounds.clip(message)
        super().__init__(message)
        self.message = message
        self.client_id = client_id
        self.username = username
        self.request_id = request_id


def parse_body(body: str) -> ResendRequest:
    """Parse one SQS message body, unwrapping an SNS notification envelope if there is one.

    Raises ``InvalidRequest`` and nothing else, whatever the body: an exception of any other kind
    would leave a message with no result, coming back until the redrive policy takes it.
    """
    try:
        return _parse(body)
    except InvalidRequest:
        raise
    except Exception as exc:
        # A last resort: a case no bound foresaw still gets its one invalid result.
        raise InvalidRequest(f"body: could not be read ({type(exc).__name__})") from None


def _parse(body: str) -> ResendRequest:
    document = _load_json(body, "body")
    if _is_sns_envelope(document):
        document = _load_json(document["Message"], "Message (SNS envelope)")
    if not isinstance(document, dict):
        raise InvalidRequest(f"body: must be a JSON object, got {_json_type(document)}")
    try:
        return ResendRequest.model_validate(document)
    except ValidationError as exc:
        raise InvalidRequest(
            describe_privately(exc),
            client_id=_valid_str(document, "ClientId", CLIENT_ID_PATTERN),
            username=_valid_username(document),
            request_id=_valid_str(document, "RequestId", REQUEST_ID_PATTERN),
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``Field.Path: problem``, values never included.

    Member names are shown: this is for a producer's own tools, telling the producer about its
    own text. What the worker answers uses ``describe_privately``.
    """
    found = []
    for problem in validation.problems(exc):
        location = ".".join(problem.location) or "body"
        message = problem.message
        if problem.unknown:
            message = "unknown member"
        elif problem.missing:
            message = "required member missing"
        found.append(f"{bounds.clip(location, 200)}: {message}")
    return bounds.clip("; ".join(found))


def describe_privately(exc: ValidationError) -> str:
    """One clause per problem, ``Field.Path: problem``; never a value, never a name the producer
    chose (an unknown member or a ClientMetadata key may be an email address or a secret), since
    results, dead-letter attributes and logs are read by others than the producer."""
    found: list[str] = []
    unknown: list[str] = []
    for problem in validation.problems(exc):
        if problem.unknown:
            unknown.append(problem.location[-1])
            continue
        message = "required member missing" if problem.missing else problem.message
        found.append(f"{_location(problem.location)}: {message}")
    if unknown:
        found.append(_describe_unknown(unknown))
    return bounds.clip("; ".join(found))


# Members whose own names are ours to show; anything below ClientMetadata is the producer's.
_KNOWN_MEMBERS: dict[str, frozenset[str]] = {
    "": frozenset(ResendRequest.model_fields),
    "UserContextData": frozenset(UserContextDataShape.model_fields),
    "AnalyticsMetadata": frozenset(AnalyticsMetadataShape.model_fields),
}


def _location(loc: tuple[str, ...]) -> str:
    parts: list[str] = []
    parent = ""
    for part in loc:
        known = _KNOWN_MEMBERS.get(parent)
        if known is None or str(part) not in known:
            parts.append("(a key)" if parent == "ClientMetadata" else "(an unknown member)")
            break
        parts.append(str(part))
        parent = str(part)
    return ".".join(parts) or "body"


def _describe_unknown(names: list[str]) -> str:
    lengths = ", ".join(str(len(name)) for name in names[:5])
    more = ", ..." if len(names) > 5 else ""
    text = (
        f"unknown member ({bounds.count_phrase(len(names), 'member')} not in the contract, "
        f"named with {lengths}{more} characters)"
    )
    known = {name.lower(): name for name in ResendRequest.model_fields}
    hints = sorted({known[name.lower()] for name in names if name.lower() in known})
    if hints:
        text += f"; member names are case-sensitive: did you mean {', '.join(hints)}?"
    return text


def _load_json(text: str, where: str) -> Any:
    try:
        return bounds.load_json(text)
    except BoundExceeded as exc:
        raise InvalidRequest(f"{where}: {exc}") from None
    except ValueError as exc:
        # json.JSONDecodeError is a ValueError; its position is safe, its text is not needed.
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


def _valid_username(document: dict[str, Any]) -> str | None:
    value = _valid_str(document, "Username", USERNAME_PATTERN)
    if value is None or bounds.username_problem(value) is not None:
        return None
    return value
