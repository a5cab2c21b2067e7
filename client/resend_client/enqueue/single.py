"""One request from flags: check everything, send, and say what was sent whatever happens next.

Order matters: every flag, the query and the configuration are checked first (252, 253), and
with ``--wait`` the results queue is looked at too, so that nothing is sent that the command
could not follow up. Once SQS has accepted the request, its receipt is recorded at once (the
receipts file), and any later failure (the results queue, the query, a closed pipe, Ctrl-C)
still prints the receipt or names it on stderr. An awaited result is deleted from the results
queue only after it was printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from resend_contract.models import ErrorInfo, OriginalRef, Outcome, ResendRequest, Result

from resend_client import async_client
from resend_client.enqueue import exits
from resend_client.enqueue.emit import Printer, ReceiptsFile, note, sent_note
from resend_client.enqueue.exits import UsageError
from resend_client.enqueue.output import QueryFailed, check_query
from resend_client.enqueue.params import (
    CLI_INPUT_JSON,
    CLI_INPUT_YAML,
    REQUEST_PARAMETERS,
    ParameterError,
    assemble,
    validate,
)
from resend_client.enqueue.queue_flags import fifo_problems, queue_url
from resend_client.enqueue.settings import client_options, output_format
from resend_client.errors import AWS_CALL_ERRORS, EnqueueError, call_error
from resend_client.receipts import EnqueueReceipt
from resend_client.request_entries import new_request_id


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    for flag, given in (
        ("--validate-only", args.validate_only),
        ("--concurrency", args.concurrency is not None),
    ):
        if given:
            problems.append(f"argument {flag}: only with --from-file")
    url = queue_url(args, problems).url
    fifo = url.endswith(".fifo")
    problems.extend(fifo_problems(args, fifo))
    request = _request(args, problems)
    results_url = args.results_queue_url or os.environ.get("RESEND_RESULTS_QUEUE_URL")
    if args.wait is not None and not results_url:
        problems.append(
            "argument --wait: needs --results-queue-url (or RESEND_RESULTS_QUEUE_URL), "
            "a queue subscribed to the result topic"
        )
    options = client_options(args, problems)
    if args.query is not None:
        why = check_query(args.query, _samples(fifo, args.wait is not None))
        if why is not None:
            problems.append(f"argument --query: {why}")
    if problems or request is None:
        raise UsageError(problems)
    printer = Printer(output_format(args), args.query)
    receipts = ReceiptsFile(args.receipts_file) if args.receipts_file else None
    try:
        return asyncio.run(_Send(args, url, request, results_url, options, printer, receipts)())
    finally:
        if receipts is not None:
            receipts.close()


def _request(args: argparse.Namespace, problems: list[str]) -> ResendRequest | None:
    flags = {p.member: getattr(args, p.dest) for p in REQUEST_PARAMETERS}
    cli_input = None
    if args.cli_input_json is not None:
        cli_input = (CLI_INPUT_JSON, args.cli_input_json)
    elif args.cli_input_yaml is not None:
        cli_input = (CLI_INPUT_YAML, args.cli_input_yaml)
    try:
        request = validate(assemble(flags, cli_input))
    except ParameterError as exc:
        if exc.missing:
            problems.append(f"the following arguments are required: {', '.join(exc.missing)}")
        problems.extend(f"argument {where}: {reason}" for where, reason in exc.problems)
        return None
    if request.RequestId is None:
        request = request.model_copy(update={"RequestId": new_request_id()})
    return request


def _samples(fifo: bool, wait: bool) -> list[Any]:
    """Answers of every shape this command can print, to try a query on before sending."""
    receipt: dict[str, Any] = {"RequestId": "r", "MessageId": "m"}
    if fifo:
        receipt["SequenceNumber"] = "1"
    if not wait:
        return [receipt]
    common: dict[str, Any] = {"RequestId": "r", "MessageId": "m", "ClientId": "c", "Username": "u"}
    details = {"Destination": "d", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    original = OriginalRef(RequestId="r", MessageId="m", Outcome=Outcome.SENT, ProcessedAt="t")
    results = [
        Result(Outcome=Outcome.SENT, CodeDeliveryDetails=details, **common),
        Result(Outcome=Outcome.DUPLICATE, Attempts=0, Original=original, **common),
        Result(Outcome=Outcome.FAILED, Error=ErrorInfo(Code="c", Message="m"), **common),
    ]
    documents = [r.model_dump(mode="json", exclude_none=True) for r in results]
    return [receipt, *({**receipt, "Result": document} for document in documents)]


class _Send:
    """The asynchronous part; Ctrl-C cancels it, and it says what was sent before exiting."""

    def __init__(
        self,
        args: argparse.Namespace,
        url: str,
        request: ResendRequest,
        results_url: str | None,
        options: dict[str, Any],
        printer: Printer,
        receipts: ReceiptsFile | None,
    ) -> None:
        self.args = args
        self.url = url
        self.request = request
        self.results_url = results_url
        self.options = options
        self.printer = printer
        self.receipts = receipts
        self.receipt: EnqueueReceipt | None = None
        self.sending = False  # the request may be on its way from here on

    async def __call__(self) -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            return await self._steps()
        except asyncio.CancelledError:
            return self._interrupted()
        except EnqueueError as exc:
            return self._failed(exc)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    async def _steps(self) -> int:
        client = async_client.ResendClient(self.url, concurrency=1, **self.options)
        async with client:
            if self.args.wait is not None and self.results_url is not None:
                await _check_results_queue(client, self.results_url)
            self.sending = True
            self.receipt = await client.send(
                self.request,
                delay_seconds=self.args.delay_seconds or 0,
                message_group_id=self.args.message_group_id,
                deduplication_id=self.args.message_deduplication_id,
            )
            if self.receipts is not None:
                self.receipts.record(self.receipt)
            if self.args.wait is None or self.results_url is None:
                return self._show(self.receipt.document())
            return await self._wait(client, self.results_url)

    async def _wait(self, client: async_client.ResendClient, results_url: str) -> int:
        assert self.receipt is not None
        found = await client.find_result(
            self.receipt.request_id, results_queue_url=results_url, wait_seconds=self.args.wait
        )
        answer = self.receipt.document()
        if found is None:
            status = self._show(answer)
            note(
                f"no result for RequestId {self.receipt.request_id} within {self.args.wait:g} "
                "seconds (the request was sent and may still be processed)"
            )
            return exits.OTHER if status == exits.OK else status
        answer["Result"] = found.result.model_dump(mode="json", exclude_none=True)
        status = self._show(answer)
        if status != exits.OK or self.printer.pipe_closed:
            return status  # not seen: left on the results queue, visible again after its hold
        await client.delete_result(found)
        if found.result.Outcome.value in ("sent", "duplicate"):
            return exits.OK
        error = found.result.Error
        code = f" ({error.Code})" if error is not None else ""
        note(f"the result is {found.result.Outcome.value}{code}")
        return exits.NOT_ALL

    def _show(self, answer: dict[str, Any]) -> int:
        try:
            self.printer.print(answer)
        except QueryFailed as exc:
            assert self.receipt is not None
            note(f"error: argument --query: {exc}; {sent_note(self.receipt)}")
            return exits.OTHER
        return exits.OK

    def _interrupted(self) -> int:
        if not self.sending:
            note("interrupted; nothing was sent")
        elif self.receipt is None:
            note(
                f"interrupted; RequestId {self.request.RequestId} may have been sent "
                "(SQS's answer did not arrive)"
            )
        else:
            self._show(self.receipt.document())
            note(f"interrupted while waiting for the result; {sent_note(self.receipt)}")
        return exits.INTERRUPTED

    def _failed(self, error: EnqueueError) -> int:
        note(f"error: {error}")
        if self.receipt is not None:
            self._show(self.receipt.document())
            note(sent_note(self.receipt))
        return exits.for_error(error)


async def _check_results_queue(client: async_client.ResendClient, results_url: str) -> None:
    """A queue that is not there is found before sending, not after; the look hides nothing."""
    try:
        await client.sqs.receive_message(
            QueueUrl=results_url, MaxNumberOfMessages=1, WaitTimeSeconds=0, VisibilityTimeout=0
        )
    except AWS_CALL_ERRORS as exc:
        raise call_error(exc, "ReceiveMessage") from None
