"""The client for scripts: ``with SyncResendClient(queue_url) as client: ...``.

It runs its own event loop on a private thread, so it works the same from a plain script, a
thread pool, or code that already runs an event loop (where ``asyncio.run`` would fail).
Callbacks (``on_outcome``) run on that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from resend_contract.models import ResendRequest, Result

from resend_client.async_client import ResendClient
from resend_client.lanes import Priority, resolve_queue_url
from resend_client.receipts import BulkOutcome, BulkReport, EnqueueReceipt

T = TypeVar("T")


class SyncResendClient:
    """Takes the options of ``ResendClient`` (``queue_url`` or ``priority`` included); its
    methods are the same, without ``await``."""

    def __init__(
        self, queue_url: str | None = None, *, priority: Priority | None = None, **options: Any
    ) -> None:
        self._queue_url = resolve_queue_url(queue_url, priority)
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: ResendClient | None = None

    def __enter__(self) -> SyncResendClient:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="resend-client", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        client = ResendClient(self._queue_url, **self._options)
        try:
            self._run(client.__aenter__())
        except BaseException:
            self._stop_loop()
            raise
        self._client = client

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            if self._client is not None:
                self._run(self._client.__aexit__(None, None, None))
        finally:
            self._client = None
            self._stop_loop()

    @property
    def queue_url(self) -> str:
        return self._queue_url

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the client is closed: use it inside 'with', or call open()")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. Ctrl-C in the calling thread: stop the work too
            raise

    @property
    def _async(self) -> ResendClient:
        if self._client is None:
            raise RuntimeError("the client is closed: use it inside 'with', or call open()")
        return self._client

    def enqueue(
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
        return self._run(
            self._async.enqueue(
                client_id,
                username,
                secret_hash=secret_hash,
                client_metadata=client_metadata,
                user_context_data=user_context_data,
                analytics_metadata=analytics_metadata,
                request_id=request_id,
                delay_seconds=delay_seconds,
                message_group_id=message_group_id,
                deduplication_id=deduplication_id,
            )
        )

    def enqueue_many(
        self,
        requests: Iterable[ResendRequest | Mapping[str, Any]],
        *,
        delay_seconds: int = 0,
        on_outcome: Callable[[BulkOutcome], None] | None = None,
    ) -> BulkReport:
        return self._run(
            self._async.enqueue_many(requests, delay_seconds=delay_seconds, on_outcome=on_outcome)
        )

    def wait_for_result(
        self, request_id: str, *, results_queue_url: str, wait_seconds: float
    ) -> Result | None:
        return self._run(
            self._async.wait_for_result(
                request_id, results_queue_url=results_queue_url, wait_seconds=wait_seconds
            )
        )
