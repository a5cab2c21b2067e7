"""The async client for producers: ``async with ResendClient(queue_url) as client: ...``.

Importable without the worker's runtime (it needs only pydantic, aiobotocore and the shared
contract), so any service can depend on it. One sending path serves everything, the CLI
included: requests go out with SendMessageBatch, through ``resend_client.batch``.

Each request carries a ``RequestId`` (generated when the caller has none): the result the worker
publishes carries it back, and on a FIFO queue it is the deduplication id, so resending a request
with the same id within SQS's five-minute window is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from aiobotocore.session import AioSession
from resend_contract.models import ResendRequest, Result

from resend_client.batch import DEFAULT_MAX_ATTEMPTS, RetryPolicy, send_batch
from resend_client.bulk_send import BulkSend, Requests
from resend_client.connection import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    ConnectionOptions,
    open_sqs,
)
from resend_client.errors import EnqueueError
from resend_client.lanes import Priority, resolve_queue_url
from resend_client.receipts import BulkOutcome, BulkReport, EnqueueReceipt
from resend_client.request_entries import check_delay, make_entry, request_fields
from resend_client.results import FoundResult, delete_result, find_result

DEFAULT_CONCURRENCY = 4


class ResendClient:
    """The queue is ``queue_url``, or the queue of a lane: ``priority="interactive"`` reads
    ``RESEND_QUEUE_URL``, ``priority="bulk"`` reads ``RESEND_BULK_QUEUE_URL`` (one or the other,
    see ``resend_client.lanes``). Anything a job generates belongs on the bulk lane.

    Give either nothing (a session is made, honouring ``profile`` and the usual AWS
    environment), an aiobotocore ``session``, or an open aiobotocore SQS client as
    ``sqs_client`` (then the caller owns it, and the connection options are not used).
    """

    def __init__(
        self,
        queue_url: str | None = None,
        *,
        priority: Priority | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        session: AioSession | None = None,
        sqs_client: Any = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base_delay: float = 0.2,
        retry_max_delay: float = 10.0,
        verify: bool | str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        queue_url = resolve_queue_url(queue_url, priority)
        if not 1 <= concurrency <= 64:
            raise ValueError("concurrency: must be between 1 and 64")
        if max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        self.queue_url = queue_url
        self._options = ConnectionOptions(
            region, endpoint_url, profile, verify, connect_timeout, read_timeout
        )
        self._session = session
        self._sqs: Any = sqs_client
        self._concurrency = concurrency
        self._policy = RetryPolicy(
            max_attempts=max_attempts, base_delay=retry_base_delay, max_delay=retry_max_delay
        )
        self._stack = AsyncExitStack()

    @property
    def is_fifo(self) -> bool:
        return self.queue_url.endswith(".fifo")

    async def __aenter__(self) -> ResendClient:
        if self._sqs is None:
            session = self._session or AioSession(profile=self._options.profile)
            self._sqs = await open_sqs(
                self._stack, session, self._options, self.queue_url, self._concurrency
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    @property
    def _client(self) -> Any:
        if self._sqs is None:
            raise RuntimeError("use the client inside 'async with'")
        return self._sqs

    @property
    def sqs(self) -> Any:
        """The aiobotocore SQS client, for calls this client does not make itself."""
        return self._client

    async def enqueue(
        self,
        client_id: str,
        username: str,
        *,
        secret_hash: str | None = None,
        client_metadata: Mapping[str, str] | None = None,
        user_context_data: Mapping[str, str] | None = None,
        analytics_metadata: Mapping[str, str] | None = None,
        request_id: str | None = None,
        delay_seconds: int = 0,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> EnqueueReceipt:
        """Validate and send one request; raises ``InvalidRequest`` or ``EnqueueError``."""
        request = request_fields(
            client_id,
            username,
            secret_hash=secret_hash,
            client_metadata=client_metadata,
            user_context_data=user_context_data,
            analytics_metadata=analytics_metadata,
            request_id=request_id,
        )
        return await self.send(
            request,
            delay_seconds=delay_seconds,
            message_group_id=message_group_id,
            deduplication_id=deduplication_id,
        )

    async def send(
        self,
        request: ResendRequest,
        *,
        delay_seconds: int = 0,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> EnqueueReceipt:
        """Send an already validated request (a RequestId is added when it has none)."""
        entry = make_entry(
            0,
            request,
            fifo=self.is_fifo,
            delay_seconds=delay_seconds,
            message_group_id=message_group_id,
            deduplication_id=deduplication_id,
        )
        [outcome] = await send_batch(self._client, self.queue_url, [entry], self._policy)
        if isinstance(outcome, EnqueueError):
            raise outcome
        return outcome

    async def enqueue_many(
        self,
        requests: Requests,
        *,
        delay_seconds: int = 0,
        on_outcome: Callable[[BulkOutcome], None] | None = None,
        stop: asyncio.Event | None = None,
    ) -> BulkReport:
        """Validate and send a stream of requests, reading it only as fast as SQS takes them.

        Invalid requests are skipped and reported. Setting ``stop`` ends the reading; the calls
        under way finish first, so the report counts everything that was sent.
        """
        check_delay(delay_seconds, fifo=self.is_fifo)
        run = BulkSend(
            self._client,
            self.queue_url,
            fifo=self.is_fifo,
            concurrency=self._concurrency,
            policy=self._policy,
            delay_seconds=delay_seconds,
            on_outcome=on_outcome,
            stop=stop,
        )
        return await run.run(requests)

    async def wait_for_result(
        self,
        request_id: str,
        *,
        results_queue_url: str,
        wait_seconds: float,
        hold_seconds: int = 30,
    ) -> Result | None:
        """The result of ``request_id``, deleted from the results queue; None if time ran out."""
        found = await self.find_result(
            request_id,
            results_queue_url=results_queue_url,
            wait_seconds=wait_seconds,
            hold_seconds=hold_seconds,
        )
        if found is None:
            return None
        await self.delete_result(found)
        return found.result

    async def find_result(
        self,
        request_id: str,
        *,
        results_queue_url: str,
        wait_seconds: float,
        hold_seconds: int = 30,
    ) -> FoundResult | None:
        """As ``wait_for_result``, but the result stays held on its queue until deleted."""
        longest_poll = self._options.read_timeout - 1 if self._options.read_timeout else 20.0
        return await find_result(
            self._client,
            request_id,
            results_queue_url=results_queue_url,
            wait_seconds=wait_seconds,
            hold_seconds=hold_seconds,
            longest_poll=max(0.0, min(20.0, longest_poll)),
        )

    async def delete_result(self, found: FoundResult) -> None:
        await delete_result(self._client, found)
