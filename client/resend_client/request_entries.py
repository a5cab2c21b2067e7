"""A request as SQS takes it: validated by the shared model, given a RequestId and FIFO ids.

Every request is checked by the model the worker itself uses before it is sent, so a request the
worker would reject never reaches the queue. The FIFO group is a hash of ClientId and Username,
never the username itself (often an email address).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from resend_contract.models import (
    MAX_BODY_BYTES,
    InvalidRequest,
    ResendRequest,
    describe_validation_error,
)

SQS_MAX_DELAY_SECONDS = 900
# SQS ids for FIFO: 1 to 128 printable ASCII characters.
_FIFO_ID = re.compile(r"[!-~]{1,128}")


def new_request_id() -> str:
    return str(uuid.uuid4())


def user_group_id(client_id: str, username: str) -> str:
    """The FIFO message group of one user: the same hash the worker uses for its results."""
    return hashlib.sha256(f"{client_id}\n{username}".encode()).hexdigest()


def valid_fifo_id(value: str) -> bool:
    """SQS's rule for MessageGroupId and MessageDeduplicationId."""
    return _FIFO_ID.fullmatch(value) is not None


def build_request(document: Mapping[str, Any]) -> ResendRequest:
    """Validate a request the way the worker will; ``InvalidRequest`` names fields, not values."""
    if not isinstance(document, Mapping):
        raise InvalidRequest("request: must be a ResendRequest or a mapping")
    try:
        return ResendRequest.model_validate(dict(document))
    except ValidationError as exc:
        request_id = document.get("RequestId")
        raise InvalidRequest(
            describe_validation_error(exc),
            request_id=request_id if isinstance(request_id, str) else None,
        ) from None


def check_delay(delay_seconds: int, *, fifo: bool) -> None:
    if not 0 <= delay_seconds <= SQS_MAX_DELAY_SECONDS:
        raise ValueError(f"delay_seconds: must be between 0 and {SQS_MAX_DELAY_SECONDS}")
    if fifo and delay_seconds:
        raise ValueError(
            "delay_seconds: FIFO queues take no per-message delay "
            "(set the queue's DelaySeconds instead)"
        )


def with_request_id(request: ResendRequest) -> ResendRequest:
    if request.RequestId is not None:
        return request
    return request.model_copy(update={"RequestId": new_request_id()})


@dataclass(frozen=True)
class Entry:
    """One request ready for SendMessageBatch; ``position`` is its place in the caller's input."""

    position: int
    request_id: str
    body: str
    options: dict[str, Any]

    @property
    def size(self) -> int:
        return len(self.body.encode()) + sum(len(str(v)) for v in self.options.values())

    def sqs_entry(self, entry_id: int) -> dict[str, Any]:
        return {"Id": str(entry_id), "MessageBody": self.body, **self.options}


def make_entry(
    position: int,
    request: ResendRequest,
    *,
    fifo: bool,
    delay_seconds: int = 0,
    message_group_id: str | None = None,
    deduplication_id: str | None = None,
) -> Entry:
    """Raises ``ValueError`` naming the option that SQS would refuse."""
    request = with_request_id(request)
    assert request.RequestId is not None
    options: dict[str, Any] = {}
    check_delay(delay_seconds, fifo=fifo)
    if fifo:
        for name, value in (
            ("message_group_id", message_group_id),
            ("deduplication_id", deduplication_id),
        ):
            if value is not None and not valid_fifo_id(value):
                raise ValueError(f"{name}: must be 1 to 128 printable ASCII characters")
        options["MessageGroupId"] = message_group_id or user_group_id(
            request.ClientId, request.Username
        )
        options["MessageDeduplicationId"] = deduplication_id or request.RequestId
    else:
        if message_group_id is not None or deduplication_id is not None:
            raise ValueError(
                "message_group_id, deduplication_id: only for FIFO queues (URL ending .fifo)"
            )
        if delay_seconds:
            options["DelaySeconds"] = delay_seconds
    body = request.model_dump_json(exclude_none=True)
    if len(body.encode()) > MAX_BODY_BYTES:
        raise ValueError(f"body: larger than {MAX_BODY_BYTES} bytes")
    return Entry(position, request.RequestId, body, options)


def prepare(
    position: int, item: ResendRequest | Mapping[str, Any], *, fifo: bool, delay_seconds: int
) -> Entry:
    """An item of a bulk input, or ``InvalidRequest`` saying why it cannot be sent."""
    request = item if isinstance(item, ResendRequest) else build_request(item)
    try:
        return make_entry(position, request, fifo=fifo, delay_seconds=delay_seconds)
    except ValueError as exc:
        raise InvalidRequest(str(exc), request_id=request.RequestId) from None


def request_fields(
    client_id: str,
    username: str,
    *,
    secret_hash: str | None,
    client_metadata: Any,
    user_context_data: Any,
    analytics_metadata: Any,
    request_id: str | None,
) -> ResendRequest:
    """The keyword form of a request; a value of the wrong type is an ``InvalidRequest`` too."""
    fields = {
        "ClientId": client_id,
        "Username": username,
        "SecretHash": secret_hash,
        "ClientMetadata": _plain(client_metadata),
        "UserContextData": _plain(user_context_data),
        "AnalyticsMetadata": _plain(analytics_metadata),
        "RequestId": request_id,
    }
    return build_request({k: v for k, v in fields.items() if v is not None})


def _plain(value: Any) -> Any:
    """A mapping as a dict; anything else as it is, for the model to refuse by name."""
    return dict(value) if isinstance(value, Mapping) else value
