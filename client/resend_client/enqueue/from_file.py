"""``--from-file``: every line checked first, then sent, with a summary whatever happens.

The summary (``Sent``, ``Invalid``, ``Failed``; ``Skipped`` with ``--receipts-file``; ``Unsent``
after a stop) is printed however the send ends: the end of the file, a queue that refuses, an
endpoint that cannot be reached, or Ctrl-C. The first Ctrl-C stops the reading and lets the calls
under way finish, so their requests are counted; a second one abandons them. With
``--receipts-file`` each accepted line is recorded as SQS takes it, and a rerun with the same
file skips those lines: an interrupted backfill resumes without sending anything twice.
Without ``--queue-url`` or ``--priority`` the lines go to the bulk lane when one is configured,
else to the interactive lane with a note saying so (``queue_flags.queue_url``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from resend_contract.models import ResendRequest

from resend_client import async_client
from resend_client.enqueue import exits
from resend_client.enqueue.bulk import open_source, scan, valid_requests
from resend_client.enqueue.emit import Printer, ReceiptsFile, line_digest, note
from resend_client.enqueue.exits import UsageError
from resend_client.enqueue.output import QueryFailed, check_query
from resend_client.enqueue.params import CLI_INPUT_JSON, CLI_INPUT_YAML, REQUEST_PARAMETERS
from resend_client.enqueue.progress import ProgressBar
from resend_client.enqueue.queue_flags import QueueChoice, fifo_problems, queue_url
from resend_client.enqueue.settings import client_options, output_format
from resend_client.errors import EnqueueError
from resend_client.receipts import BulkOutcome, BulkReport

SHOWN_PROBLEMS = 100
_SAMPLE = {"Sent": 0, "Invalid": 0, "Failed": 0, "Skipped": 0, "Unsent": 0}


def _checked(args: argparse.Namespace) -> tuple[QueueChoice, dict[str, Any]]:
    """The queue and client options, or ``UsageError`` with every problem at once."""
    conflicting = [p.flag for p in REQUEST_PARAMETERS if getattr(args, p.dest) is not None]
    for flag, value in (
        (CLI_INPUT_JSON, args.cli_input_json),
        (CLI_INPUT_YAML, args.cli_input_yaml),
        ("--message-group-id", args.message_group_id),
        ("--message-deduplication-id", args.message_deduplication_id),
        ("--wait", args.wait),
    ):
        if value is not None:
            conflicting.append(flag)
    problems = []
    if conflicting:
        problems.append(
            f"argument --from-file: not allowed with {', '.join(conflicting)} "
            "(each line is a whole request)"
        )
    queue = QueueChoice("")
    if not args.validate_only:
        queue = queue_url(args, problems, bulk_send=True)
        problems.extend(fifo_problems(args, queue.url.endswith(".fifo")))
    options = client_options(args, problems)
    if args.query is not None:
        why = check_query(args.query, [_SAMPLE, {"Valid": 0, "Invalid": 0}])
        if why is not None:
            problems.append(f"argument --query: {why}")
    if problems:
        raise UsageError(problems)
    return queue, options


def run(args: argparse.Namespace) -> int:
    queue, options = _checked(args)
    url = queue.url
    printer = Printer(output_format(args), args.query)

    name = "<stdin>" if args.from_file == "-" else args.from_file
    try:
        with open_source(args.from_file) as stream:
            if queue.note is not None:
                note(queue.note)  # before the first pass: a long file can still be stopped
            checked = scan(stream)
            _report_lines(name, checked.problems, checked.invalid)
            if args.validate_only:
                _show(printer, {"Valid": checked.valid, "Invalid": checked.invalid})
                return exits.OK if checked.invalid == 0 else exits.NOT_ALL
            receipts = ReceiptsFile(args.receipts_file) if args.receipts_file else None
            stream.seek(0)
            try:
                send = _Send(args, url, options, stream, name, checked.valid, receipts)
                report = asyncio.run(send())
            finally:
                if receipts is not None:
                    receipts.close()
    except OSError as exc:
        raise UsageError([f"argument --from-file: cannot read {name}: {exc.strerror}"]) from None
    summary = {
        "Sent": report.sent,
        "Invalid": checked.invalid + report.invalid,
        "Failed": report.failed,
    }
    if receipts is not None:
        summary["Skipped"] = send.skipped
    if report.stopped == "interrupted":
        summary["Unsent"] = checked.valid - send.skipped - report.total - send.in_flight
    if not _show(printer, summary):
        return exits.OTHER
    return _status(report, checked.invalid, send)


def _status(report: BulkReport, invalid: int, send: _Send) -> int:
    """The AWS CLI's status for what stopped the send; 1 when some lines were not sent."""
    if report.stopped == "interrupted":
        if send.in_flight:
            note(f"{send.in_flight} requests were under way when stopped: they may have been sent")
        return exits.INTERRUPTED
    if isinstance(report.stop_error, EnqueueError):
        note(f"stopped: {report.stop_error}; the lines not sent are counted as failed")
        return exits.for_error(report.stop_error)
    return exits.OK if invalid == 0 and report.all_sent else exits.NOT_ALL


def _show(printer: Printer, summary: dict[str, int]) -> bool:
    """False when the query failed; a reader that went away is no failure (the AWS CLI's 0)."""
    try:
        printer.print(summary)
    except QueryFailed as exc:
        note(f"error: argument --query: {exc}; the summary: {summary}")
        return False
    return True


def _report_lines(name: str, problems: list[Any], invalid: int) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        sys.stderr.write(f"{name}:{problem.line}: {problem.reason}\n")
    if invalid > SHOWN_PROBLEMS:
        sys.stderr.write(f"{name}: ... and {invalid - SHOWN_PROBLEMS:,} more invalid lines\n")


class _Send:
    """The second pass, sending; one instance per run, so the callbacks share state plainly."""

    def __init__(
        self,
        args: argparse.Namespace,
        url: str,
        options: dict[str, Any],
        stream: BinaryIO,
        name: str,
        total: int,
        receipts: ReceiptsFile | None,
    ) -> None:
        self.args = args
        self.url = url
        self.options = options
        self.stream = stream
        self.name = name
        self.receipts = receipts
        self.progress = ProgressBar(total, sys.stderr)
        # Line number and digest of each request handed to the sender and not yet answered:
        # bounded by what the sender has in flight, never the whole file.
        self.lines: dict[int, tuple[int, str]] = {}
        self.shown = 0
        self.skipped = 0
        self.in_flight = 0
        # Counted here too: a second Ctrl-C abandons the client's own report.
        self.tally = BulkReport()

    def requests(self) -> Iterator[ResendRequest]:
        recorded = self.receipts.recorded if self.receipts is not None else set()
        position = 0
        for number, text, request in valid_requests(self.stream):
            digest = line_digest(text)
            if (number, digest) in recorded:
                self.skipped += 1
                continue
            self.lines[position] = (number, digest)
            position += 1
            yield request

    def on_outcome(self, outcome: BulkOutcome) -> None:
        line, digest = self.lines.pop(outcome.position)
        self.progress.advance(failed=outcome.problem is not None)
        if outcome.receipt is not None and self.receipts is not None:
            self.receipts.record(outcome.receipt, line, digest)
        self.tally.add(outcome)
        if outcome.problem is not None and self.shown < SHOWN_PROBLEMS:
            self.shown += 1
            clear = "\r\033[K" if sys.stderr.isatty() else ""
            sys.stderr.write(
                f"{clear}{self.name}:{line}: {outcome.problem.outcome}: {outcome.problem.reason}\n"
            )

    async def __call__(self) -> BulkReport:
        stop = asyncio.Event()
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            if stop.is_set():
                task.cancel()  # the second Ctrl-C: do not wait for the calls under way
            stop.set()

        loop.add_signal_handler(signal.SIGINT, interrupt)
        client = async_client.ResendClient(
            self.url,
            concurrency=self.args.concurrency or async_client.DEFAULT_CONCURRENCY,
            **self.options,
        )
        try:
            async with client:
                run = client.enqueue_many(
                    self.requests(),
                    delay_seconds=self.args.delay_seconds or 0,
                    on_outcome=self.on_outcome,
                    stop=stop,
                )
                report = await run
        except asyncio.CancelledError:
            report = self.tally
            report.stopped = "interrupted"
            self.in_flight = len(self.lines)  # handed over, fate unknown
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            self.progress.close()
        return report
