"""The AWS clients, configured in one place.

botocore itself honours ``AWS_REGION``, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, so
nothing here reads them: the local stack and real AWS differ only by environment.

The Cognito client is unsigned: ResendConfirmationCode is not IAM-authorized, so the worker needs
no IAM permission for it and skips the whole credential chain for it. Its botocore retries are off
(``total_max_attempts: 1``): the retry policy lives in ``worker.retry`` alone, and botocore's
standard/adaptive modes would count per-user LimitExceededException as throttling.

The user agent is fixed, built once: botocore otherwise assembles it from a dozen components on
every request, twice (when the request is built and again just before it is sent), which cost a
tenth of the worker's CPU per message. It still names the worker's, aiobotocore's, botocore's
and Python's versions, which is what AWS support asks for.

botocore's parameter validation is off for every client: each call's parameters come from the
worker's own code (the Cognito call's from the contract's validated request, which bounds more
than botocore checks: required fields, types, minimum lengths), and the check walks the whole
input shape on every call, a measurable share of a call's CPU at the quota's rate.
"""

from __future__ import annotations

import platform
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING

import aiobotocore
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore import UNSIGNED

from worker import __version__
from worker.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_cognito_idp import CognitoIdentityProviderClient
    from types_aiobotocore_secretsmanager import SecretsManagerClient
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient

# aiobotocore's session appends botocore's version to it.
USER_AGENT = " ".join(
    (
        f"resend-worker/{__version__}",
        f"aiobotocore/{aiobotocore.__version__}",
        f"Python/{platform.python_version()}",
    )
)

# A long poll lasts up to 20 s; the read timeout must outlast it.
SQS_READ_TIMEOUT_SECONDS = 30


def cognito_config(settings: Settings) -> AioConfig:
    return AioConfig(
        signature_version=UNSIGNED,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=settings.cognito_connect_timeout_seconds,
        read_timeout=settings.cognito_read_timeout_seconds,
        max_pool_connections=settings.concurrency,
        tcp_keepalive=True,
        parameter_validation=False,
        user_agent=USER_AGENT,
    )


def queue_config(settings: Settings) -> AioConfig:
    """SQS, SNS, Secrets Manager: a few standard retries for transient faults of the plumbing."""
    return AioConfig(
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=5,
        read_timeout=SQS_READ_TIMEOUT_SECONDS,
        max_pool_connections=max(10, settings.concurrency // 5 + 5),
        tcp_keepalive=True,
        parameter_validation=False,
        user_agent=USER_AGENT,
    )


class AwsClients:
    """Opens the worker's clients once per process and closes them together."""

    sqs: SQSClient
    sns: SNSClient
    cognito: CognitoIdentityProviderClient
    secretsmanager: SecretsManagerClient | None

    def __init__(self, settings: Settings, session: AioSession | None = None) -> None:
        self._settings = settings
        self._session = session or AioSession()
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> AwsClients:
        settings, session = self._settings, self._session
        plumbing = queue_config(settings)
        self.sqs = await self._stack.enter_async_context(
            session.create_client("sqs", region_name=settings.region, config=plumbing)
        )
        self.sns = await self._stack.enter_async_context(
            session.create_client("sns", region_name=settings.region, config=plumbing)
        )
        self.cognito = await self._stack.enter_async_context(
            session.create_client(
                "cognito-idp",
                region_name=settings.user_pool_region,
                config=cognito_config(settings),
            )
        )
        self.secretsmanager = None
        if (
            settings.client_secrets_secret_id
            and settings.client_secrets is None
            and (settings.client_secrets_file is None)
        ):
            self.secretsmanager = await self._stack.enter_async_context(
                session.create_client(
                    "secretsmanager", region_name=settings.region, config=plumbing
                )
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
