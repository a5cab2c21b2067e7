"""The client's one exception for SQS trouble, judged by the project's shared AWS error table.

``resend_contract.aws_errors`` decides what a failure is (answered by the service, never sent,
maybe sent; retriable or not); this module only gives callers the two answers they act on:
may retrying help, and who is at fault (the service, the configuration, the network), which the
CLI turns into the AWS CLI's exit codes.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import ClientError as AiohttpClientError
from botocore.exceptions import BotoCoreError, ClientError
from resend_contract.aws_errors import (
    CONFIGURATION,
    CONNECT_ERROR,
    CONNECT_TIMEOUT,
    AwsFailure,
    Reached,
    describe,
)

# Where a failure comes from: the service answered; the local configuration is unusable; or no
# usable answer came (connection refused or lost, timeouts).
Kind = Literal["service", "configuration", "connection"]
CONNECTION_CODES = frozenset({CONNECT_ERROR, CONNECT_TIMEOUT})
# What an SDK call can raise besides programming errors.
AWS_CALL_ERRORS = (ClientError, BotoCoreError, AiohttpClientError, OSError, asyncio.TimeoutError)


class EnqueueError(Exception):
    """SQS did not take a request; ``retryable`` says whether trying again later can help."""

    def __init__(
        self, code: str, message: str, *, retryable: bool = False, kind: Kind = "service"
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.kind = kind

    @property
    def unreachable(self) -> bool:
        """No connection could be made: nothing was sent, and the next call will likely fail too."""
        return self.code in CONNECTION_CODES


_CONFIGURATION_MESSAGES = {
    "NoCredentialsError": "no AWS credentials found (a profile, AWS_* variables or a role)",
    "PartialCredentialsError": "incomplete AWS credentials (a key id without its secret?)",
    "NoRegionError": "no AWS region (--region, AWS_REGION or the profile's region)",
    "ProfileNotFound": "the config profile could not be found (--profile, AWS_PROFILE)",
}


def from_failure(failure: AwsFailure, operation: str | None = None) -> EnqueueError:
    kind: Kind = "service"
    if failure.code == CONFIGURATION:
        # The table names the exception; say what to fix instead.
        message = _CONFIGURATION_MESSAGES.get(failure.message, failure.message)
        return EnqueueError(failure.message, message, kind="configuration")
    elif failure.reached is not Reached.ANSWERED:
        kind = "connection"
    message = failure.message
    if operation and failure.reached is Reached.ANSWERED:
        message = f"{message} (calling {operation})"
    return EnqueueError(failure.code, message, retryable=failure.retriable, kind=kind)


def call_error(exc: BaseException, operation: str | None = None) -> EnqueueError:
    """Any exception of an SQS call; never carries the exception's own text."""
    return from_failure(describe(exc), operation or getattr(exc, "operation_name", None))
