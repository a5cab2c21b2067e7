"""What an exception from an AWS call says, in one table shared by the worker and its producers.

Every caller of AWS needs the same three answers about a failure: which error it is (the service's
``Error.Code``, or a name of ours when no answer came), whether the request may have reached the
service (a read timeout may hide a processed request; a refused connection proves nothing left),
and whether trying again may pass (throttling, server faults, lost connections). The answers are
data here; what a caller then does (retry, defer, give up) is its own policy: the worker's lives in
``worker.retry``, the producer client's in ``resend_client``.

Messages are the service's own, or a fixed description of ours: never the exception's text, which
for connection errors embeds the endpoint and for validation errors the request's values.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import ClientConnectionError, ClientConnectorError, ServerDisconnectedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)


class Reached(StrEnum):
    """Whether the request reached the service."""

    NO = "no"  # provably never left: nothing was done
    MAYBE = "maybe"  # written, no answer: the service may have done it
    ANSWERED = "answered"  # the service answered with an error: it did not do it


# Names of ours for failures without a service answer.
CONNECT_ERROR = "ConnectionError"
CONNECT_TIMEOUT = "ConnectTimeout"
READ_TIMEOUT = "ReadTimeout"
CONNECTION_LOST = "ConnectionLost"
HTTP_5XX = "ServiceUnavailable"
CLIENT_VALIDATION = "ParamValidationError"
CONFIGURATION = "ConfigurationError"

# Error codes that mean "slow down", across the services the project calls.
THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "KMSThrottlingException",
    }
)
# Error codes of server-side faults that a later attempt may pass.
TRANSIENT_CODES = frozenset(
    {
        "InternalErrorException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# Error codes that mean a resource is missing or access is denied: only a change of settings or
# permissions fixes them, never waiting.
SETUP_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFound",
        "NotFoundException",
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "InvalidClientTokenId",
        "ResourceNotFoundException",
    }
)


@dataclass(frozen=True, slots=True)
class AwsFailure:
    """One failed AWS call, as every caller in the project judges it."""

    code: str
    message: str
    reached: Reached
    retriable: bool
    status: int = 0
    sender_fault: bool = False

    @property
    def may_have_been_done(self) -> bool:
        """The request may have taken effect: retrying a non-idempotent call could repeat it."""
        return self.reached is Reached.MAYBE

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLING_CODES


_NEVER_SENT: tuple[tuple[type[BaseException], str, str], ...] = (
    (ConnectTimeoutError, CONNECT_TIMEOUT, "no connection within the connect timeout"),
    (ProxyConnectionError, CONNECT_ERROR, "could not connect to the proxy"),
    (SSLError, CONNECT_ERROR, "TLS handshake failed"),
    (EndpointConnectionError, CONNECT_ERROR, "could not connect to the endpoint"),
    (ClientConnectorError, CONNECT_ERROR, "could not connect to the endpoint"),
    (ConnectionRefusedError, CONNECT_ERROR, "connection refused"),
)
_MAYBE_SENT: tuple[tuple[type[BaseException], str, str], ...] = (
    (ReadTimeoutError, READ_TIMEOUT, "no answer within the read timeout"),
    (asyncio.TimeoutError, READ_TIMEOUT, "no answer in time"),
    (ConnectionClosedError, CONNECTION_LOST, "connection closed before the answer"),
    (ServerDisconnectedError, CONNECTION_LOST, "connection closed before the answer"),
    (ClientConnectionError, CONNECTION_LOST, "connection lost"),
    (ConnectionError, CONNECTION_LOST, "connection lost"),
)
_CONFIGURATION: tuple[type[BaseException], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
    ProfileNotFound,
)


class EntryFailed(Exception):
    """One entry of a batch call failed; raised to the caller that submitted that entry."""

    def __init__(self, failure: AwsFailure) -> None:
        super().__init__(f"{failure.code}: {failure.message}")
        self.failure = failure


def describe(exc: BaseException) -> AwsFailure:
    """Judge any exception an AWS call raised; unknown ones count as "may have been done"."""
    if isinstance(exc, EntryFailed):
        return exc.failure
    if isinstance(exc, ClientError):
        return _answered(exc.response)
    for kinds, code, message in _NEVER_SENT:
        if isinstance(exc, kinds):
            return AwsFailure(code, message, Reached.NO, retriable=True)
    for kinds, code, message in _MAYBE_SENT:
        if isinstance(exc, kinds):
            return AwsFailure(code, message, Reached.MAYBE, retriable=True)
    if isinstance(exc, ParamValidationError):
        return AwsFailure(
            CLIENT_VALIDATION, "request rejected before sending", Reached.NO, retriable=False
        )
    if isinstance(exc, _CONFIGURATION):
        return AwsFailure(CONFIGURATION, type(exc).__name__, Reached.NO, retriable=False)
    if isinstance(exc, BotoCoreError):
        return AwsFailure(type(exc).__name__, "SDK error", Reached.MAYBE, retriable=False)
    return AwsFailure(type(exc).__name__, "unexpected error", Reached.MAYBE, retriable=False)


def entry_failure(entry: dict[str, Any]) -> AwsFailure:
    """One failed entry of an SQS or SNS batch call (``Failed[]``), judged like a whole call."""
    code = str(entry.get("Code") or "")
    sender_fault = bool(entry.get("SenderFault"))
    return AwsFailure(
        code,
        str(entry.get("Message") or ""),
        Reached.ANSWERED,
        retriable=not sender_fault or code in THROTTLING_CODES,
        sender_fault=sender_fault,
    )


def _answered(response: Any) -> AwsFailure:
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    metadata = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = int(metadata.get("HTTPStatusCode") or 0)
    sender_fault = str(error.get("Type") or "").lower() == "sender"
    if status >= 500 and (not code or code == str(status)):
        # Not the service's own error answer: a gateway may have timed out on a request the
        # service went on to process.
        return AwsFailure(
            HTTP_5XX, f"HTTP {status} without an error code", Reached.MAYBE, True, status
        )
    retriable = code in THROTTLING_CODES or code in TRANSIENT_CODES or status >= 500
    return AwsFailure(
        code or f"HTTP{status}", message, Reached.ANSWERED, retriable, status, sender_fault
    )
