"""One message's path: parse, dedupe, SECRET_HASH, Cognito, and what to do with the message.

``Processor.process`` never touches the queue or the topic. It returns a disposition (one of
``worker.dispositions``: answer, answer and dead-letter, answer and leave, leave, delete only,
defer) and the consumer carries it out, so the policy for a message reads in one place, top to
bottom, and is testable without SQS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from resend_contract.models import (
    ErrorInfo,
    InvalidRequest,
    Outcome,
    ResendRequest,
    Result,
    parse_body,
)

from worker import dead_letters, metrics
from worker.claims import STORE_DOWN_DEFER_SECONDS, Answered, Claims, Proceed, Wait
from worker.client_secrets import ClientSecrets
from worker.cognito import CallNotStarted, CognitoCaller, Sent
from worker.dedupe import DedupeStoreError
from worker.delivery import Delivery
from worker.dispositions import (
    Answer,
    AnswerAndDeadLetter,
    AnswerAndLeave,
    DeadLetterAndDelete,
    Defer,
    DeleteOnly,
    Disposition,
    Leave,
    Publishing,
    Settled,
)
from worker.logs import username_hash
from worker.recent import AnsweredMessages
from worker.redrive import RedriveLimit
from worker.retry import (
    DAILY_EMAIL_LIMIT,
    OUTCOME_UNKNOWN,
    READ_TIMEOUT,
    Action,
    budget_spent,
    defer_delay,
)
from worker.settings import Settings

log = structlog.get_logger(__name__)

_UNKNOWN = metrics.Children(metrics.unknown_outcomes)

# Error.Code of a request deferred until its delivery budget ran out without an error of its own.
DEFERRAL_BUDGET_EXHAUSTED = "DeferralBudgetExhausted"
# The provisional result of a call under way, answered if its worker vanishes mid-call.
ABANDONED = ErrorInfo(
    Code="CallAbandoned",
    Message="the worker stopped during the Cognito call; a code was probably sent",
    Reason=OUTCOME_UNKNOWN,
)
OnCall = Callable[[], None]


class Processor:
    def __init__(
        self,
        settings: Settings,
        secrets: ClientSecrets,
        caller: CognitoCaller,
        claims: Claims,
        redrive: RedriveLimit | None = None,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._caller = caller
        self._claims = claims
        self._has_dead_letter_queue = settings.dead_letter_queue_url is not None
        self._redrive = redrive or RedriveLimit()
        self._answered = AnsweredMessages(
            settings.answered_max_entries, settings.answered_window_seconds
        )

    async def process(self, delivery: Delivery, on_call: OnCall | None = None) -> Disposition:
        """The disposition of one message; ``on_call`` is told the moment its call may go out.

        From that moment the message must not be handed back: the consumer lets it finish even
        at shutdown.
        """
        repeat = self._repeat(delivery)
        if repeat is not None:
            return repeat
        try:
            request = parse_body(delivery.body)
        except InvalidRequest as exc:
            return self._invalid(delivery, exc)
        request_id = request.RequestId or delivery.message_id
        self._bind(request, request_id)

        claim = await self._claims.claim(request, delivery.message_id, request_id)
        if isinstance(claim, Wait):
            return self._defer_or_fail(delivery, request, request_id, claim.reason, claim.delay)
        if isinstance(claim, Answered):
            result = claim.result.model_copy(update={"Username": request.Username})
            return DeleteOnly(result) if claim.published else Answer(result)
        return await self._call_cognito(delivery, request, request_id, claim, on_call)

    async def _call_cognito(
        self,
        delivery: Delivery,
        request: ResendRequest,
        request_id: str,
        claim: Proceed,
        on_call: OnCall | None,
    ) -> Disposition:
        result: Result | None = None

        async def before_send() -> None:
            provisional = self._result(delivery, request, request_id, Outcome.UNKNOWN, ABANDONED)
            await self._claims.mark_sending(claim, provisional)
            if on_call is not None:
                on_call()

        try:
            secret_hash = self._secrets.secret_hash_for(
                request.ClientId, request.Username, request.SecretHash
            )
            try:
                call = await self._caller.resend(
                    request.cognito_params(secret_hash), before_send=before_send
                )
            except CallNotStarted as exc:
                reason = str(exc)
                return self._defer_or_fail(
                    delivery, request, request_id, reason, STORE_DOWN_DEFER_SECONDS
                )
            structlog.contextvars.bind_contextvars(cognito_calls=call.calls)
            if isinstance(call, Sent):
                result = self._result(delivery, request, request_id, Outcome.SENT)
                result = result.model_copy(
                    update={"CodeDeliveryDetails": call.code_delivery_details}
                )
                return Answer(result, claim)
            verdict = call.verdict
            if verdict.action is not Action.UNKNOWN:
                claim.nothing_sent()
            error = ErrorInfo(Code=verdict.code, Message=verdict.message, Reason=verdict.reason)
            if verdict.action is Action.UNKNOWN:
                cause = "read_timeout" if verdict.code == READ_TIMEOUT else "connection_lost"
                _UNKNOWN(cause).inc()
                result = self._result(delivery, request, request_id, Outcome.UNKNOWN, error)
                return Answer(result, claim)
            if verdict.action is Action.PERMANENT:
                result = self._result(delivery, request, request_id, Outcome.FAILED, error)
                return Answer(result)
            if verdict.reason == DAILY_EMAIL_LIMIT:
                metrics.daily_email_limit.inc()
            delay = defer_delay(verdict, delivery.receive_count, self._settings.defer_max_seconds)
            disposition = self._defer_or_fail(
                delivery, request, request_id, verdict.reason or verdict.code, delay, error
            )
            if isinstance(disposition, Answer):
                result = disposition.result
            return disposition
        finally:
            await self._claims.finish(claim, result)

    async def flush_store(self) -> None:
        """At shutdown: write the dedupe completions still kept in memory, if the store answers."""
        try:
            await self._claims.flush()
        except DedupeStoreError as exc:
            log.error(
                "dedupe completions lost at shutdown; the store is unreachable",
                pending=self._claims.pending_completions,
                error=str(exc),
            )

    async def published(self, answer: Publishing) -> None:
        """The answer went out: remember it, so a redelivery is not answered again."""
        copy_owed = answer.error if isinstance(answer, AnswerAndDeadLetter) else None
        delete = not isinstance(answer, AnswerAndLeave)
        self._answered.remember(answer.result, copy_owed=copy_owed, delete=delete)
        if isinstance(answer, Answer) and answer.claim is not None:
            await self._claims.mark_published(answer.claim, answer.result)

    def dead_lettered(self, delivery: Delivery) -> None:
        """The body's dead-letter copy is made: a redelivery needs only deleting."""
        self._answered.copied(delivery.message_id)

    def _repeat(self, delivery: Delivery) -> Settled | None:
        """A message this replica already answered: finish what is owed, publish nothing."""
        answer = self._answered.get(delivery.message_id)
        if answer is None:
            return None
        metrics.repeat_deliveries.inc()
        structlog.contextvars.bind_contextvars(request_id=answer.result.RequestId, repeat=True)
        if answer.copy_owed is not None:
            return DeadLetterAndDelete(answer.result, answer.copy_owed)
        return DeleteOnly(answer.result) if answer.delete else Leave(answer.result)

    def _defer_or_fail(
        self,
        delivery: Delivery,
        request: ResendRequest,
        request_id: str,
        reason: str,
        delay: int,
        error: ErrorInfo | None = None,
    ) -> Disposition:
        """Defer within the message's budget; once it is spent, answer ``failed``.

        On the last receive the queue's redrive policy allows, the answer is ``failed`` too,
        with the body copied to the dead-letter queue: SQS would otherwise move it there with no
        result at all.
        """
        if self._redrive.is_final_receive(delivery.receive_count):
            metrics.final_receives.inc()
            error = error or ErrorInfo(Code=DEFERRAL_BUDGET_EXHAUSTED, Message=reason)
            result = self._result(delivery, request, request_id, Outcome.FAILED, error)
            if self._can_copy(delivery, error):
                return AnswerAndDeadLetter(result, error)
            return Answer(result)
        if budget_spent(
            receive_count=delivery.receive_count,
            age_seconds=delivery.age_seconds,
            delay=delay,
            max_attempts=self._settings.max_attempts,
            max_age=self._settings.max_message_age_seconds,
        ):
            error = error or ErrorInfo(Code=DEFERRAL_BUDGET_EXHAUSTED, Message=reason)
            return Answer(self._result(delivery, request, request_id, Outcome.FAILED, error))
        return Defer(delay, reason, error.Code if error else None)

    def _invalid(self, delivery: Delivery, exc: InvalidRequest) -> Disposition:
        error = ErrorInfo(Code=exc.code, Message=exc.message)
        result = Result(
            Outcome=Outcome.INVALID,
            RequestId=exc.request_id or delivery.message_id,
            MessageId=delivery.message_id,
            ClientId=exc.client_id,
            Username=exc.username,
            Error=error,
            Attempts=delivery.receive_count,
        )
        structlog.contextvars.bind_contextvars(
            request_id=result.RequestId,
            client_id=exc.client_id,
            user=username_hash(exc.client_id, exc.username),
        )
        if self._can_copy(delivery, error):
            return AnswerAndDeadLetter(result, error)
        # No dead-letter queue of ours: leave the body to the queue's redrive policy and
        # answer once, on the first delivery.
        return AnswerAndLeave(result) if delivery.receive_count == 1 else Leave(result)

    def _can_copy(self, delivery: Delivery, error: ErrorInfo) -> bool:
        """A dead-letter queue is configured and the body fits it (attributes trimmed if need be).

        A body too large for it is left to the queue's own redrive policy, answered once.
        """
        return self._has_dead_letter_queue and (
            dead_letters.copy_attributes(
                delivery.body,
                delivery.message_id,
                error,
                self._settings.dead_letter_max_message_bytes,
            )
            is not None
        )

    def _result(
        self,
        delivery: Delivery,
        request: ResendRequest,
        request_id: str,
        outcome: Outcome,
        error: ErrorInfo | None = None,
    ) -> Result:
        return Result(
            Outcome=outcome,
            RequestId=request_id,
            MessageId=delivery.message_id,
            ClientId=request.ClientId,
            Username=request.Username,
            Error=error,
            Attempts=delivery.receive_count,
        )

    def _bind(self, request: ResendRequest, request_id: str) -> None:
        context: dict[str, Any] = {
            "request_id": request_id,
            "client_id": request.ClientId,
            "user": username_hash(request.ClientId, request.Username),
        }
        if self._settings.log_usernames:
            context["username"] = request.Username
        structlog.contextvars.bind_contextvars(**context)
