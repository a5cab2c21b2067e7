"""The dedupe protocol around one Cognito call: claim, wait, answer from the store, complete.

The semantics follow Powertools' idempotency utility (INPROGRESS and COMPLETED records with expiry
and a stored result) with one change for a long-running process: the INPROGRESS claim is a short
lease, renewed while the call runs, so a worker that dies frees its users within seconds.

Only ``sent`` results are stored as COMPLETED: they are what must not happen twice. A permanent
failure releases the claim, since calling Cognito again for it costs nothing and sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from resend_contract.models import OriginalRef, Outcome, ResendRequest, Result

from worker import metrics
from worker.dedupe import DedupeStore, DedupeStoreError, Record, Status, dedupe_key

log = structlog.get_logger(__name__)

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
    renewer: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def holds_claim(self) -> bool:
        return self.owner is not None


@dataclass(frozen=True)
class Answered:
    """The store already answers this request: a duplicate, or a redelivery's stored result.

    ``published`` says the stored result already went out (only the delete was lost), so the
    redelivered message needs deleting, not answering again.
    """

    result: Result
    kind: str
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
        case_sensitive: bool,
        fail_open: bool,
    ) -> None:
        self._store = store
        self._window = window_seconds
        self._lease = lease_seconds
        self._case_sensitive = case_sensitive
        self._fail_open = fail_open

    async def claim(self, request: ResendRequest, message_id: str, request_id: str) -> ClaimOutcome:
        if self._store is None:
            return Proceed(None, None)
        key = dedupe_key(request.ClientId, request.Username)
        owner = f"{message_id}/{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + IN_PROGRESS_WAIT_SECONDS
        try:
            while True:
                claim = await self._store.claim(key, owner, self._lease)
                if claim.won:
                    return Proceed(key, owner, asyncio.create_task(self._renew(key, owner)))
                existing = claim.existing
                if existing is not None and existing.status is Status.COMPLETED:
                    return self._answer(existing, message_id, request_id)
                if time.monotonic() >= deadline:
                    metrics.dedupe_hits.labels("in_progress").inc()
                    return Wait(IN_PROGRESS_DEFER_SECONDS, "dedupe_in_progress")
                # Another request for this user is calling Cognito: wait for its outcome.
                await asyncio.sleep(IN_PROGRESS_POLL_SECONDS)
        except DedupeStoreError as exc:
            log.warning("dedupe store unavailable", error=str(exc), fail_open=self._fail_open)
            if self._fail_open:
                return Proceed(None, None)
            return Wait(STORE_DOWN_DEFER_SECONDS, "dedupe_unavailable")

    def _answer(self, record: Record, message_id: str, request_id: str) -> Answered:
        # Stored without the username (often an email); the caller fills in its own.
        document = dict(record.result or {})
        published = bool(document.pop(PUBLISHED, False))
        stored = Result.model_validate({**document, "Username": None})
        if stored.MessageId == message_id or stored.RequestId == request_id:
            # This very request was handled before (the publish or the delete was lost).
            metrics.dedupe_hits.labels("redelivery").inc()
            return Answered(stored, "redelivery", published)
        metrics.dedupe_hits.labels("completed").inc()
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
        return Answered(duplicate, "completed")

    async def _renew(self, key: str, owner: str) -> None:
        assert self._store is not None
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                if not await self._store.renew(key, owner, self._lease):
                    log.warning("dedupe lease lost while calling Cognito")
                    return
            except DedupeStoreError as exc:
                log.warning("dedupe lease renewal failed", error=str(exc))

    async def mark_published(self, proceed: Proceed, result: Result) -> None:
        """Note in the stored record that the result went out.

        A worker that dies between the publish and the delete then leaves a redelivery that is
        deleted without a second result. Best effort: failing here costs at most that repeat.
        """
        if self._store is None or proceed.key is None or proceed.owner is None:
            return
        document = {**_stored(result), PUBLISHED: True}
        try:
            await self._store.update_result(proceed.key, proceed.owner, document)
        except DedupeStoreError as exc:
            log.warning("dedupe store update failed", error=str(exc))

    async def finish(self, proceed: Proceed, result: Result | None) -> None:
        """Store a ``sent`` result for the window, or release the claim for anything else."""
        if proceed.renewer is not None:
            proceed.renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await proceed.renewer
        if self._store is None or proceed.key is None or proceed.owner is None:
            return
        try:
            if result is not None and result.Outcome is Outcome.SENT:
                await self._store.complete(
                    proceed.key, proceed.owner, _stored(result), self._window
                )
            else:
                await self._store.release(proceed.key, proceed.owner)
        except DedupeStoreError as exc:
            # A lost COMPLETED record can only let a later duplicate through; the lease frees
            # a lost release. Neither may fail the request.
            log.warning("dedupe store update failed", error=str(exc))


def _stored(result: Result) -> dict[str, Any]:
    """A result as the store keeps it: without the username, which is often an email."""
    return result.model_dump(mode="json", exclude={"Username"})
