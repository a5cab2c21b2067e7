"""Opening the SQS client: region, endpoint, TLS and timeouts, resolved as the AWS CLI does.

Region precedence is the AWS CLI v2's: ``--region``, then ``AWS_REGION``, then
``AWS_DEFAULT_REGION``, then the profile's ``region``; only when none is set is the region read
from an AWS queue URL (the AWS CLI would stop with "You must specify a region"). The SDK's own
retries are off (``total_max_attempts: 1``): ``resend_client.batch`` is the one retry loop, so an
unreachable endpoint costs a few attempts, not three times as many.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ProfileNotFound

from resend_client.errors import EnqueueError

log = logging.getLogger("resend_client")

SQS_MAX_WAIT_SECONDS = 20
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = SQS_MAX_WAIT_SECONDS + 10.0
_REGION_IN_URL = re.compile(
    r"^https?://(?:sqs(?:-fips)?\.(?P<a>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"|(?P<b>[a-z0-9-]+)\.queue\.amazonaws\.com)/"
)


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach SQS. ``verify``: None for the default trust store (or ``AWS_CA_BUNDLE``),
    False for no certificate check, or a CA bundle's path. A timeout of 0 means none."""

    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    verify: bool | str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT


def region_from_queue_url(queue_url: str) -> str | None:
    match = _REGION_IN_URL.match(queue_url)
    return (match.group("a") or match.group("b")) if match else None


def resolve_region(session: AioSession, explicit: str | None, queue_url: str) -> str:
    try:
        configured = session.get_scoped_config().get("region")
    except ProfileNotFound:
        raise EnqueueError(
            "ProfileNotFound",
            "the config profile could not be found (--profile, AWS_PROFILE)",
            kind="configuration",
        ) from None
    region = (
        explicit
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or configured
        or region_from_queue_url(queue_url)
    )
    if region:
        log.debug("SQS in region %s", region)
    else:
        raise EnqueueError(
            "NoRegion",
            "no AWS region: pass --region, set AWS_REGION, or set region in the profile",
            kind="configuration",
        )
    return str(region)


async def open_sqs(
    stack: AsyncExitStack,
    session: AioSession,
    options: ConnectionOptions,
    queue_url: str,
    concurrency: int,
) -> Any:
    """An SQS client entered on ``stack``; raises ``EnqueueError`` for unusable settings."""
    region = resolve_region(session, options.region, queue_url)
    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=options.connect_timeout or None,
        read_timeout=options.read_timeout or None,
        max_pool_connections=max(10, concurrency + 2),
    )
    try:
        client = await stack.enter_async_context(
            session.create_client(
                "sqs",
                region_name=region,
                endpoint_url=options.endpoint_url,
                verify=options.verify,
                config=config,
            )
        )
    except BotoCoreError as exc:
        raise EnqueueError(
            type(exc).__name__, _describe_setup_error(exc), kind="configuration"
        ) from None
    except ValueError:  # botocore's word for an endpoint URL or region it cannot use
        raise EnqueueError(
            "InvalidEndpoint", "not a usable endpoint URL or region", kind="configuration"
        ) from None
    if log.isEnabledFor(logging.DEBUG):
        _log_calls(client)
    return client


def _describe_setup_error(exc: BotoCoreError) -> str:
    """botocore's set-up messages name settings, not secrets; keep only their first line."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _log_calls(client: Any) -> None:
    """``--debug``: each SQS call, its size and its answer's status; never bodies or keys."""

    def before(model: Any, params: Any, **_: Any) -> None:
        entries = params.get("Entries") if isinstance(params, dict) else None
        size = f" ({len(entries)} entries)" if isinstance(entries, list) else ""
        log.debug("calling %s%s", model.name, size)

    def after(model: Any, http_response: Any, parsed: Any, **_: Any) -> None:
        status = getattr(http_response, "status_code", "?")
        failed = len(parsed.get("Failed", [])) if isinstance(parsed, dict) else 0
        extra = f", {failed} entries failed" if failed else ""
        log.debug("%s answered HTTP %s%s", model.name, status, extra)

    client.meta.events.register("before-call.sqs", before)
    client.meta.events.register("after-call.sqs", after)
