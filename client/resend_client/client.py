"""The Python client for producers: put resend requests on the worker's queue.

Importable without the worker's runtime (it needs only pydantic, aiobotocore and this package's
request model), so any service can depend on it. Every request is checked by the model the worker
itself uses before it is sent: a request the worker would reject never reaches the queue.

One sending path serves everything, the CLI included: requests go out with SendMessageBatch (ten
a call, several calls at once, bounded), and entries SQS fails on its own side (``SenderFault``
false, throttling, 5xx, dropped connections) are retried with jittered exponential backoff.

Each request carries a ``RequestId`` (generated when the caller has none): the result the worker
publishes carries it back, and on a FIFO queue it is the deduplication id, so resending a request
with the same id within SQS's five-minute window is harmless. The FIFO group is a hash of
ClientId and Username, never the username itself (often an email address).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import threading
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from pydantic import ValidationError
from resend_contract.models import (
    MAX_BODY_BYTES,
    InvalidRequest,
    ResendRequest,
    Result,
    describe_validation_error,
)

SQS_BATCH_MAX_ENTRIES = 10
SQS_BATCH_MAX_BYTES = 256 * 1024  # the sum of a SendMessageBatch call's bodies and attributes
SQS_MAX_DELAY_SECONDS = 900
SQS_MAX_WAIT_SECONDS = 20
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 6
# SQS ids for FIFO: 1 to 128 printable ASCII characters.
_FIFO_ID = re.compile(r"[!-~]{1,128}")
_REGION_IN_URL = re.compile(
    r"^https?://(?:sqs(?:-fips)?\.(?P<a>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"|(?P<b>[a-z0-9-]+)\.queue\.amazonaws\.com)/"
)
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "KmsThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
    }
)

T = TypeVar("T")
Requests = (
    Iterable[ResendRequest | Mapping[str, Any]] | AsyncIterable[ResendRequest | Mapping[str, Any]]
)


@dataclass(frozen=True)
class EnqueueReceipt:
    """What SQS said about one accepted request."""

    request_id: str
    message_id: str
    sequence_number: str | None = None  # FIFO queues only


class EnqueueError(Exception):
    """SQS did not take a request; ``retryable`` says whether trying again later can help."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class BulkProblem:
    """A request of ``enqueue_many`` that was not sent; ``position`` counts from 0."""

    position: int
    request_id: str | None
    outcome: Literal["invalid", "failed"]
    reason: str


@dataclass(frozen=True)
class BulkOutcome:
    """Handed to ``on_outcome`` once per request, as soon as its fate is known."""

    position: int
    receipt: EnqueueReceipt | None = None
    problem: BulkProblem | None = None


@dataclass
class BulkReport:
    """Exact counts; ``problems`` keeps the first ``max_problems`` only, so memory stays flat."""

    sent: int = 0
    invalid: int = 0
    failed: int = 0
    problems: list[BulkProblem] = field(default_factory=list)
    max_problems: int = 1000

    @property
    def total(self) -> int:
        return self.sent + self.invalid + self.failed

    @property
    def all_sent(self) -> bool:
        return self.invalid == 0 and self.failed == 0

    def _add(self, outcome: BulkOutcome) -> None:
        if outcome.problem is None:
            self.sent += 1
            return
        if outcome.problem.outcome == "invalid":
            self.invalid += 1
        else:
            self.failed += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(outcome.problem)


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


def region_from_queue_url(queue_url: str) -> str | None:
    match = _REGION_IN_URL.match(queue_url)
    return (match.group("a") or match.group("b")) if match else None


def parse_result(body: str) -> Result | None:
    """A result message as it arrives on a subscribed queue: raw, or in an SNS envelope."""
    try:
        document = json.loads(body)
        if (
            isinstance(document, dict)
            and document.get("Type") == "Notification"
            and isinstance(document.get("Message"), str)
        ):
            document = json.loads(document["Message"])
        return Result.model_validate(document)
    except (ValueError, ValidationError):
        return None


@dataclass(frozen=True)
class _Entry:
    position: int
    request_id: str
    body: str
    options: dict[str, Any]

    @property
    def size(self) -> int:
        return len(self.body.encode()) + sum(len(str(v)) for v in self.options.values())

    def sqs_entry(self, entry_id: int) -> dict[str, Any]:
        return {"Id": str(entry_id), "MessageBody": self.body, **self.options}


class ResendClient:
    """Async client: ``async with ResendClient(queue_url) as client: await client.enqueue(...)``.

    Give either nothing (a session is made, honouring ``profile`` and the usual AWS environment),
    an aiobotocore ``session``, or an open aiobotocore SQS client as ``sqs_client`` (then the
    caller owns it and ``region``, ``endpoint_url`` and ``profile`` are not used).
    """

    def __init__(
        self,
        queue_url: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        session: AioSession | None = None,
        sqs_client: Any = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base_delay: float = 0.2,
        retry_max_delay: float = 10.0,
    ) -> None:
        if not queue_url:
            raise ValueError("queue_url: required")
        if not 1 <= concurrency <= 64:
            raise ValueError("concurrency: must be between 1 and 64")
        if max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        self.queue_url = queue_url
        self._region = region
        self._endpoint_url = endpoint_url
        self._profile = profile
        self._session = session
        self._sqs: Any = sqs_client
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._retry_base_delay = retry_base_delay
        self._retry_max_delay = retry_max_delay
        self._stack = AsyncExitStack()

    @property
    def is_fifo(self) -> bool:
        return self.queue_url.endswith(".fifo")

    async def __aenter__(self) -> ResendClient:
        if self._sqs is None:
            try:
                session = self._session or AioSession(profile=self._profile)
                region = (
                    self._region
                    or os.environ.get("AWS_REGION")
                    or session.get_config_variable("region")
                    or region_from_queue_url(self.queue_url)
                )
                if not region:
                    raise EnqueueError("NoRegion", "no AWS region: pass one, or set AWS_REGION")
                config = AioConfig(
                    retries={"mode": "standard", "total_max_attempts": 3},
                    connect_timeout=5,
                    read_timeout=SQS_MAX_WAIT_SECONDS + 10,
                    max_pool_connections=max(10, self._concurrency + 2),
                )
                self._sqs = await self._stack.enter_async_context(
                    session.create_client(
                        "sqs", region_name=region, endpoint_url=self._endpoint_url, config=config
                    )
                )
            except BotoCoreError as exc:
                raise EnqueueError(type(exc).__name__, str(exc)) from None
            except ValueError as exc:  # botocore's word for an endpoint URL it cannot use
                raise EnqueueError("InvalidEndpoint", str(exc)) from None
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

    # Single requests.

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
        fields = {
            "ClientId": client_id,
            "Username": username,
            "SecretHash": secret_hash,
            "ClientMetadata": dict(client_metadata) if client_metadata is not None else None,
            "UserContextData": dict(user_context_data) if user_context_data is not None else None,
            "AnalyticsMetadata": (
                dict(analytics_metadata) if analytics_metadata is not None else None
            ),
            "RequestId": request_id,
        }
        request = build_request({k: v for k, v in fields.items() if v is not None})
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
        entry = self._entry(
            0, _with_request_id(request), delay_seconds, message_group_id, deduplication_id
        )
        [outcome] = await self._send_batch([entry])
        if isinstance(outcome, EnqueueError):
            raise outcome
        return outcome

    # Many requests.

    async def enqueue_many(
        self,
        requests: Requests,
        *,
        delay_seconds: int = 0,
        on_outcome: Callable[[BulkOutcome], None] | None = None,
    ) -> BulkReport:
        """Validate and send a stream of requests, reading it only as fast as SQS takes them.

        Invalid requests are skipped and reported; the rest go out ten a call, ``concurrency``
        calls at once. If SQS refuses a call outright (no such queue, access denied), the
        remaining requests are reported as failed without further calls.
        """
        _check_delay(delay_seconds, fifo=self.is_fifo)
        report = BulkReport()
        slots = asyncio.Semaphore(self._concurrency)
        running: set[asyncio.Task[None]] = set()
        refused: list[EnqueueError] = []

        def record(outcome: BulkOutcome) -> None:
            report._add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        def failed(entry: _Entry, error: EnqueueError) -> BulkOutcome:
            problem = BulkProblem(entry.position, entry.request_id, "failed", str(error))
            return BulkOutcome(entry.position, problem=problem)

        async def send(entries: list[_Entry]) -> None:
            try:
                if refused:
                    outcomes: list[EnqueueReceipt | EnqueueError] = [refused[0]] * len(entries)
                else:
                    try:
                        outcomes = await self._send_batch(entries)
                    except EnqueueError as exc:
                        refused.append(exc)
                        outcomes = [exc] * len(entries)
                for entry, outcome in zip(entries, outcomes, strict=True):
                    if isinstance(outcome, EnqueueError):
                        record(failed(entry, outcome))
                    else:
                        record(BulkOutcome(entry.position, receipt=outcome))
            finally:
                slots.release()

        async def launch(entries: list[_Entry]) -> None:
            await slots.acquire()
            task = asyncio.create_task(send(entries))
            running.add(task)
            task.add_done_callback(running.discard)

        batch: list[_Entry] = []
        batch_bytes = 0
        try:
            position = 0
            async for item in _each(requests):
                try:
                    entry = self._prepare(position, item, delay_seconds)
                except InvalidRequest as exc:
                    problem = BulkProblem(position, exc.request_id, "invalid", exc.message)
                    record(BulkOutcome(position, problem=problem))
                    position += 1
                    continue
                position += 1
                if batch and (
                    len(batch) == SQS_BATCH_MAX_ENTRIES
                    or batch_bytes + entry.size > SQS_BATCH_MAX_BYTES
                ):
                    await launch(batch)
                    batch, batch_bytes = [], 0
                batch.append(entry)
                batch_bytes += entry.size
            if batch:
                await launch(batch)
            while running:
                await asyncio.gather(*running)
        except BaseException:
            for task in running:
                task.cancel()
            raise
        return report

    def _prepare(
        self, position: int, item: ResendRequest | Mapping[str, Any], delay_seconds: int
    ) -> _Entry:
        request = item if isinstance(item, ResendRequest) else build_request(item)
        try:
            return self._entry(position, _with_request_id(request), delay_seconds, None, None)
        except ValueError as exc:
            raise InvalidRequest(str(exc), request_id=request.RequestId) from None

    def _entry(
        self,
        position: int,
        request: ResendRequest,
        delay_seconds: int,
        message_group_id: str | None,
        deduplication_id: str | None,
    ) -> _Entry:
        assert request.RequestId is not None
        options: dict[str, Any] = {}
        _check_delay(delay_seconds, fifo=self.is_fifo)
        if self.is_fifo:
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
        return _Entry(position, request.RequestId, body, options)

    async def _send_batch(self, entries: list[_Entry]) -> list[EnqueueReceipt | EnqueueError]:
        """One SendMessageBatch, retrying what SQS failed on its side.

        Raises ``EnqueueError`` when SQS refuses the call itself for a reason retrying cannot fix.
        """
        outcomes: dict[int, EnqueueReceipt | EnqueueError] = {}
        pending = list(range(len(entries)))
        last_errors: dict[int, EnqueueError] = {}
        for attempt in range(self._max_attempts):
            if attempt:
                await asyncio.sleep(self._backoff(attempt))
            try:
                response = await self._client.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[entries[i].sqs_entry(i) for i in pending],
                )
            except (ClientError, BotoCoreError) as exc:
                error = _call_error(exc)
                if not error.retryable:
                    raise error from None
                last_errors.update(dict.fromkeys(pending, error))
                continue
            for success in response.get("Successful", []):
                index = int(success["Id"])
                outcomes[index] = EnqueueReceipt(
                    entries[index].request_id, success["MessageId"], success.get("SequenceNumber")
                )
            retry: list[int] = []
            for failure in response.get("Failed", []):
                index = int(failure["Id"])
                error = EnqueueError(
                    str(failure.get("Code", "Failed")),
                    str(failure.get("Message", "")),
                    retryable=not failure.get("SenderFault", False),
                )
                if error.retryable:
                    retry.append(index)
                    last_errors[index] = error
                else:
                    outcomes[index] = error
            pending = retry
            if not pending:
                break
        for index in pending:
            error = last_errors[index]
            outcomes[index] = EnqueueError(
                error.code, f"{error.message} (gave up after {self._max_attempts} attempts)"
            )
        return [outcomes[i] for i in range(len(entries))]

    def _backoff(self, attempt: int) -> float:
        """Full jitter: concurrent senders that failed together do not retry together."""
        return random.uniform(0, min(self._retry_max_delay, self._retry_base_delay * 2**attempt))

    # Results.

    async def wait_for_result(
        self,
        request_id: str,
        *,
        results_queue_url: str,
        wait_seconds: float,
        hold_seconds: int = 30,
    ) -> Result | None:
        """Wait for the result of ``request_id`` on a queue subscribed to the result topic.

        The matching message is deleted. Other results are held out of sight while looking (at
        most ``hold_seconds`` at a time) and made visible again before returning, so another
        consumer of that queue loses nothing; each look does count as a receive, so point this at
        a queue without a tight redrive policy. Returns None when ``wait_seconds`` pass first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        held: dict[str, str] = {}
        try:
            while (remaining := deadline - loop.time()) > 0:
                response = await self._client.receive_message(
                    QueueUrl=results_queue_url,
                    MaxNumberOfMessages=SQS_BATCH_MAX_ENTRIES,
                    WaitTimeSeconds=int(min(SQS_MAX_WAIT_SECONDS, remaining)),
                    VisibilityTimeout=hold_seconds,
                )
                found: tuple[Result, str] | None = None
                for message in response.get("Messages", []):
                    result = parse_result(message.get("Body", ""))
                    if found is None and result is not None and result.RequestId == request_id:
                        found = (result, message["ReceiptHandle"])
                    else:
                        held[message["MessageId"]] = message["ReceiptHandle"]
                if found is not None:
                    await self._client.delete_message(
                        QueueUrl=results_queue_url, ReceiptHandle=found[1]
                    )
                    return found[0]
            return None
        except (ClientError, BotoCoreError) as exc:
            raise _call_error(exc) from None
        finally:
            await self._release(results_queue_url, list(held.values()))

    async def _release(self, queue_url: str, receipt_handles: list[str]) -> None:
        """Best effort: a hold that already expired has nothing left to release."""
        for start in range(0, len(receipt_handles), SQS_BATCH_MAX_ENTRIES):
            chunk = receipt_handles[start : start + SQS_BATCH_MAX_ENTRIES]
            try:
                await self._client.change_message_visibility_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                        for i, handle in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError):
                continue


def _check_delay(delay_seconds: int, *, fifo: bool) -> None:
    if not 0 <= delay_seconds <= SQS_MAX_DELAY_SECONDS:
        raise ValueError(f"delay_seconds: must be between 0 and {SQS_MAX_DELAY_SECONDS}")
    if fifo and delay_seconds:
        raise ValueError(
            "delay_seconds: FIFO queues take no per-message delay "
            "(set the queue's DelaySeconds instead)"
        )


def _with_request_id(request: ResendRequest) -> ResendRequest:
    if request.RequestId is not None:
        return request
    return request.model_copy(update={"RequestId": new_request_id()})


def _call_error(exc: ClientError | BotoCoreError) -> EnqueueError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        retryable = code in _RETRYABLE_CODES or status >= 500
        operation = exc.operation_name
        return EnqueueError(
            code,
            f"{error.get('Message', '')} (calling {operation})",
            retryable=retryable,
        )
    retryable = isinstance(exc, BotoConnectionError | HTTPClientError)
    return EnqueueError(type(exc).__name__, str(exc), retryable=retryable)


async def _each(items: Requests) -> AsyncIterator[ResendRequest | Mapping[str, Any]]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class SyncResendClient:
    """The same client for scripts: ``with SyncResendClient(queue_url) as client: ...``.

    It runs its own event loop on a private thread, so it works the same from a plain script, a
    thread pool, or code that already runs an event loop (where ``asyncio.run`` would fail).
    Callbacks (``on_outcome``) run on that thread.
    """

    def __init__(self, queue_url: str, **options: Any) -> None:
        self._queue_url = queue_url
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
