"""The dedupe protocol around one Cognito call: claim, mark sending, call, complete.

The semantics follow Powertools' idempotency utility (INPROGRESS and COMPLETED records with expiry
and a stored result) with two changes for a long-running process: the INPROGRESS claim is a short
lease, renewed while the call runs, so a worker that dies before calling frees its users within
seconds; and the record turns SENDING, for the whole window, before the request is written, so a
worker that dies mid-call leaves a record that answers for it ("outcome unknown") instead of a
lapsed lease that lets a second call through.

``sent`` and ``unknown`` results are stored as COMPLETED: both mean a code was (probably) sent,
which is what must not happen twice. An answer proving nothing was sent (a permanent failure, a
throttle that outlasted the retries) releases the record.

Nothing sent is forgotten: a completion the store could not take is kept and written before this
replica claims anything else, and every send is also remembered in memory (``RecentSends``),
which answers this replica's own duplicates before the store is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic_core import PydanticSerializationError
from resend_contract.models import OriginalRef, Outcome, ResendRequest, Result

from worker import metrics
from worker.cognito import CallNotStarted
from worker.dedupe import (
    DedupeStore,
    DedupeStoreError,
    ResultJson,
    Status,
    dedupe_key,
    result_json,
)
from worker.recent import RecentSends

log = structlog.get_logger(__name__)

_HITS = metrics.Children(metrics.dedupe_hits)
_UNKNOWN = metrics.Children(metrics.unknown_outcomes)

# How long a request waits for another one in progress for the same user before deferring.
IN_PROGRESS_WAIT_SECONDS = 10.0
IN_PROGRESS_POLL_SECONDS = 0.05
# Set in a stored result once it has been published.
PUBLISHED = "Published"
# Deferral when the store is unreachable or another request holds the user for too long.
STORE_DOWN_DEFER_SECONDS = 30
IN_PROGRESS_DEFER_SECONDS = 15


@dataclass
class Proceed:
    """This request may call Cognito; it holds the claim (unless dedupe is off or failed open)."""

    key: str | None
    owner: str | None
    # The outcome-unknown result written with SENDING; set once the call may go out.
    provisional: ResultJson | None = None
    # The result stored at the end and its JSON, kept to mark it published without serialising
    # it again.
    stored: tuple[Result, ResultJson] | None = field(default=None, repr=False)

    @property
    def holds_claim(self) -> bool:
        return self.owner is not None

    def nothing_sent(self) -> None:
        """Cognito's answer proved no code went out: the record may be released."""
        self.provisional = None


@dataclass(frozen=True)
class Answered:
    """The store already answers this request: a duplicate, or a redelivery's stored result.

    ``published`` says the stored result already went out (only the delete was lost), so the
    redelivered message needs deleting, not answering again.
    """

    result: Result
    published: bool = False


@dataclass(frozen=True)
class Wait:
    """Come back later: another request holds the user, or the store is unreachable."""

    delay: int
    reason: str


ClaimOutcome = Proceed | Answered | Wait


class Claims:
    def __init__(
        self,
        store: DedupeStore | None,
        *,
        window_seconds: float,
        lease_seconds: float,
        fail_open: bool,
        recent_max_entries: int = 100_000,
    ) -> None:
        self._store = store
        self._window = window_seconds
        self._lease = lease_seconds
        self._fail_open = fail_open
        # A store in this process is never unreachable and restarts only with it: a second copy
        # of its records here would only double their memory.
        self._recent = (
            None
            if store is None or store.in_process
            else RecentSends(recent_max_entries, window_seconds)
        )
        # Completions (a document) and releases (None) the store could not take, by (key, owner),
        # written before the next claim. A release is kept too: a SENDING mark that timed out may
        # still land, and must not be left to answer "unknown" for a call never made.
        self._pending: dict[tuple[str, str], ResultJson | None] = {}
        self._flush_lock = asyncio.Lock()
        # Claims held, by (key, owner), with when each was taken or last renewed: one task
        # renews them all, as the consumer extends every message's visibility from one loop,
        # instead of a task (and a timer) per claim.
        self._held: dict[tuple[str, str], float] = {}
        self._renewer: asyncio.Task[None] | None = None

    @property
    def pending_completions(self) -> int:
        return len(self._pending)

    async def claim(self, request: ResendRequest, message_id: str, request_id: str) -> ClaimOutcome:
        if self._store is None:
            return Proceed(None, None)
        key = dedupe_key(request.ClientId, request.Username)
        remembered = None if self._recent is None else self._recent.get(key)
        if remembered is not None:
            return self._answer(remembered, message_id, request_id)
        owner = f"{message_id}/{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + IN_PROGRESS_WAIT_SECONDS
        try:
            await self.flush()
            while True:
                claim = await self._store.claim(key, owner, self._lease)
                if claim.won:
                    self._hold(key, owner)
                    return Proceed(key, owner)
                existing = claim.existing
                if existing is not None and existing.status is Status.COMPLETED:
                    return self._answer(existing.result or {}, message_id, request_id)
                if existing is not None and existing.abandoned(time.time()):
                    # Its owner vanished mid-call: a code may have gone out; never call again.
                    return self._answer(
                        existing.result or {}, message_id, request_id, abandoned=True
                    )
                if time.monotonic() >= deadline:
                    _HITS("in_progress").inc()
                    return Wait(IN_PROGRESS_DEFER_SECONDS, "dedupe_in_progress")
                # Another request for this user is calling Cognito: wait for its outcome.
                await asyncio.sleep(IN_PROGRESS_POLL_SECONDS)
        except DedupeStoreError as exc:
            log.warning("dedupe store unavailable", error=str(exc), fail_open=self._fail_open)
            if self._fail_open:
                return Proceed(key, None)
            return Wait(STORE_DOWN_DEFER_SECONDS, "dedupe_unavailable")

    async def flush(self) -> None:
        """Write the completions the store could not take; raises DedupeStoreError if still down."""
        if not self._pending or self._store is None:
            return
        async with self._flush_lock:
            for (key, owner), document in list(self._pending.items()):
                if document is None:
                    await self._store.release(key, owner)
                    del self._pending[(key, owner)]
                    continue
                written = await self._store.complete(key, owner, document, self._window)
                del self._pending[(key, owner)]
                if not written:
                    # The store lost the record (restarted empty): only memory remembers it now.
                    log.warning("dedupe record lost before its completion was written")
            log.info("deferred dedupe writes done")

    def _answer(
        self, record: dict[str, Any], message_id: str, request_id: str, *, abandoned: bool = False
    ) -> Answered:
        # Stored without the username (often an email); the caller fills in its own.
        document = dict(record)
        published = bool(document.pop(PUBLISHED, False))
        stored = Result.model_validate({**document, "Username": None})
        if stored.MessageId == message_id or stored.RequestId == request_id:
            # This very request was handled before (the publish or the delete was lost), or its
            # worker died mid-call: it gets the one result its record holds.
            _HITS("abandoned" if abandoned else "redelivery").inc()
            if abandoned:
                _UNKNOWN("abandoned").inc()
            if stored.MessageId != message_id:
                # The producer sent the request again as a new message: it waits on this
                # message's result, so it is answered, with the first message named as original.
                return Answered(_repeat(stored, message_id))
            return Answered(stored, published)
        _HITS("abandoned" if abandoned else "completed").inc()
        duplicate = Result(
            Outcome=Outcome.DUPLICATE,
            RequestId=request_id,
            MessageId=message_id,
            ClientId=stored.ClientId,
            Username=None,  # filled by the caller with this request's own spelling
            CodeDeliveryDetails=stored.CodeDeliveryDetails,
            Attempts=0,
            Original=OriginalRef(
                RequestId=stored.RequestId,
                MessageId=stored.MessageId,
                Outcome=stored.Outcome,
                ProcessedAt=stored.ProcessedAt,
            ),
        )
        return Answered(duplicate)

    async def mark_sending(self, proceed: Proceed, provisional: Result) -> None:
        """Record that the call is under way, before its request is written.

        Raises CallNotStarted when the store cannot say so (unreachable, or the lease was lost):
        a call whose record could lapse mid-way could be made twice. With fail-open the call
        goes ahead unrecorded, as the operator chose.
        """
        document = _stored(provisional)
        # Set only once the call may go out: a cancellation before that must release.
        if self._store is None or proceed.key is None or proceed.owner is None:
            proceed.provisional = document
            return
        try:
            marked = await self._store.mark_sending(
                proceed.key, proceed.owner, document, self._lease, self._window
            )
        except DedupeStoreError as exc:
            log.warning("dedupe store unavailable", error=str(exc), fail_open=self._fail_open)
            if not self._fail_open:
                raise CallNotStarted("dedupe_unavailable") from None
            marked = True
        if not marked:
            log.warning("dedupe lease lost before calling Cognito")
            raise CallNotStarted("dedupe_lease_lost")
        proceed.provisional = document

    def _hold(self, key: str, owner: str) -> None:
        self._held[(key, owner)] = time.monotonic()
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_held())

    async def _renew_held(self) -> None:
        """Every third of a lease, renew each claim not renewed for half of that.

        So no claim goes more than half a lease unrenewed. The task ends when nothing is held;
        the next claim starts it again.
        """
        interval = self._lease / 3
        while self._held:
            await asyncio.sleep(interval)
            now = time.monotonic()
            due = [held for held, since in self._held.items() if now - since >= interval / 2]
            if due:
                await asyncio.gather(*(self._renew(key, owner) for key, owner in due))

    async def _renew(self, key: str, owner: str) -> None:
        assert self._store is not None
        try:
            renewed = await self._store.renew(key, owner, self._lease)
        except DedupeStoreError as exc:
            log.warning("dedupe lease renewal failed", error=str(exc))
            return
        if (key, owner) not in self._held:
            return  # finished while the renewal was under way: a refusal means nothing
        if renewed:
            self._held[(key, owner)] = time.monotonic()
        else:
            log.warning("dedupe lease lost while calling Cognito")
            del self._held[(key, owner)]

    async def close(self) -> None:
        """Stop renewing (at shutdown, once no message is in hand)."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer

    async def mark_published(self, proceed: Proceed, result: Result) -> None:
        """Note in the stored record that the result went out.

        A worker that dies between the publish and the delete then leaves a redelivery that is
        deleted without a second result. Best effort: failing here costs at most that repeat.
        """
        if self._store is None or proceed.key is None:
            return
        stored = proceed.stored
        document = _published(stored[1] if stored and stored[0] is result else _stored(result))
        if self._recent is not None:
            self._recent.update(proceed.key, document)
        if proceed.owner is None:
            return
        try:
            await self._store.update_result(proceed.key, proceed.owner, document)
        except DedupeStoreError as exc:
            log.warning("dedupe store update failed", error=str(exc))

    async def finish(self, proceed: Proceed, result: Result | None) -> None:
        """Store a ``sent`` or ``unknown`` result for the window, or release the record.

        ``result`` None after the call may have gone out (an exception, a cancellation) is
        recorded as the provisional outcome-unknown result: never released.
        """
        if proceed.key is not None and proceed.owner is not None:
            self._held.pop((proceed.key, proceed.owner), None)
        if self._store is None or proceed.key is None:
            return
        document: ResultJson | None = None
        if result is not None and result.Outcome in (Outcome.SENT, Outcome.UNKNOWN):
            document = _stored(result)
            proceed.stored = (result, document)
        elif result is None and proceed.provisional is not None:
            document = proceed.provisional
        if document is not None and self._recent is not None:
            self._recent.remember(proceed.key, document)
        if proceed.owner is None:
            return
        try:
            if document is not None:
                await self._store.complete(proceed.key, proceed.owner, document, self._window)
            else:
                await self._store.release(proceed.key, proceed.owner)
        except DedupeStoreError as exc:
            # Kept, and written before this replica claims anything else.
            self._pending[(proceed.key, proceed.owner)] = document
            log.warning("dedupe store write deferred until the store answers", error=str(exc))


def _repeat(stored: Result, message_id: str) -> Result:
    """The stored result for a second message of the same request: same outcome, own message."""
    original = OriginalRef(
        RequestId=stored.RequestId,
        MessageId=stored.MessageId,
        Outcome=stored.Outcome,
        ProcessedAt=stored.ProcessedAt,
    )
    return stored.model_copy(update={"MessageId": message_id, "Original": original})


def _stored(result: Result) -> ResultJson:
    """A result as the store keeps it: without the username, which is often an email.

    pydantic writes the same JSON text as ``result_json`` of its ``model_dump``, in one pass
    instead of two; only a string it cannot encode (a lone surrogate) takes the longer way,
    where ``result_json`` keeps it as the store always has.
    """
    try:
        return ResultJson(result.model_dump_json(exclude={"Username"}))
    except PydanticSerializationError:
        return result_json(result.model_dump(mode="json", exclude={"Username"}))


def _published(stored: ResultJson) -> ResultJson:
    """The stored JSON with ``Published`` set, as ``{**document, PUBLISHED: True}`` would be."""
    if stored == "{}":
        return ResultJson(f'{{"{PUBLISHED}":true}}')
    return ResultJson(f'{stored[:-1]},"{PUBLISHED}":true}}')
