"""``resend-client enqueue``: one request from flags, or many from a JSON Lines file.

The request flags are those of ``aws cognito-idp resend-confirmation-code``, so a command that
calls Cognito directly becomes a queued one by changing its first words. Everything is checked
before anything is sent; a bad value is reported against its flag with exit status 2, the way the
AWS CLI reports parameter errors. Sending goes through ``resend_client.client`` (the same code
producers import), so the CLI and the library cannot drift apart.

Exit status: 0 sent (and, with ``--wait``, a ``sent`` or ``duplicate`` result); 1 something was
not sent, or the result says it failed; 2 bad usage or values; 255 SQS refused, or ``--wait``
timed out (the AWS CLI's status for both).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import urllib.parse
from typing import TYPE_CHECKING, Any

from resend_client.enqueue.output import FORMATS, compile_query, render
from resend_client.enqueue.params import (
    CLI_INPUT_JSON,
    CLI_INPUT_YAML,
    COGNITO_PARAMETERS,
    REQUEST_ID,
    REQUEST_PARAMETERS,
    ParameterError,
    assemble,
    validate,
)

if TYPE_CHECKING:
    from resend_contract.models import ResendRequest, Result

    from resend_client.client import BulkOutcome, BulkReport, EnqueueReceipt, ResendClient

EXIT_NOT_SENT = 1
EXIT_USAGE = 2
EXIT_AWS = 255
EXIT_INTERRUPTED = 130
DEFAULT_WAIT_SECONDS = 60.0
MAX_WAIT_SECONDS = 12 * 3600
DEFAULT_CONCURRENCY = 4
SHOWN_PROBLEMS = 100
TITLE = "Enqueue"
# Errors of client set-up that come from one flag's value.
_FLAG_OF_ERROR = {
    "ProfileNotFound": "--profile",
    "InvalidRegionError": "--region",
    "NoRegion": "--region",
    "InvalidEndpoint": "--endpoint-url",
}

_EPILOG = """\
examples:
  resend-client enqueue --client-id 1example23456789 --username jane
  resend-client enqueue --cli-input-json file://request.json --request-id signup-42 --wait
  resend-client enqueue --from-file requests.jsonl      (one JSON request per line; - is stdin)

The queue is --queue-url or RESEND_QUEUE_URL; credentials and region come from the usual AWS
settings (--profile, --region, AWS_* variables). Exit status: 0 sent; 1 not (all) sent, or the
awaited result is not sent/duplicate; 2 bad usage; 255 SQS error or --wait timed out.
"""


class UsageError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``enqueue``; its handler takes the parsed arguments and returns the exit status."""
    parser = subparsers.add_parser(
        "enqueue",
        help="put resend requests on the queue (one from flags, or many from a file)",
        description="Put a ResendConfirmationCode request on the worker's queue. The request "
        "parameters are those of 'aws cognito-idp resend-confirmation-code'; structure and map "
        "parameters take the AWS CLI's shorthand or JSON, and any value can be file://path.",
        epilog=_EPILOG,
        usage="%(prog)s [request parameters | --cli-input-json ... | --from-file PATH]\n"
        "       [--queue-url URL] [queue options] [--wait [SECONDS]] [--output FORMAT] "
        "[--query JMESPATH]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=functools.partial(_handle, parser))


def main(argv: list[str]) -> int:
    """``enqueue`` alone, on a parser of its own; ``argv`` may start with the word ``enqueue``."""
    parser = argparse.ArgumentParser(prog="resend-client")
    add_parser(parser.add_subparsers(dest="command", required=True))
    if not argv or argv[0] != "enqueue":
        argv = ["enqueue", *argv]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return int(args.handler(args))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    request = parser.add_argument_group("request (as for aws cognito-idp resend-confirmation-code)")
    for parameter in COGNITO_PARAMETERS:
        metavar = "<value>" if parameter.kind == "string" else "<shorthand|json>"
        request.add_argument(
            parameter.flag, dest=parameter.dest, metavar=metavar, help=parameter.help
        )
    request.add_argument(
        REQUEST_ID.flag, dest=REQUEST_ID.dest, metavar="<value>", help=REQUEST_ID.help
    )
    inputs = request.add_mutually_exclusive_group()
    inputs.add_argument(
        CLI_INPUT_JSON,
        metavar="<json|file://path>",
        help="the request as JSON (flags given on the line override its members)",
    )
    inputs.add_argument(
        CLI_INPUT_YAML,
        metavar="<yaml|file://path>",
        help="the request as YAML (flags given on the line override its members)",
    )
    request.add_argument(
        "--generate-cli-skeleton",
        nargs="?",
        const="input",
        choices=("input", "yaml-input", "output"),
        help="print a request template (input, yaml-input) or a sample result message (output)",
    )

    queue = parser.add_argument_group("queue")
    queue.add_argument(
        "--queue-url", metavar="<url>", help="the request queue (default: $RESEND_QUEUE_URL)"
    )
    queue.add_argument(
        "--endpoint-url", metavar="<url>", help="an SQS endpoint other than AWS's (local stacks)"
    )
    queue.add_argument(
        "--region", metavar="<region>", help="the queue's region (default: the AWS configuration)"
    )
    queue.add_argument(
        "--profile", metavar="<name>", help="a profile of the AWS configuration files"
    )
    queue.add_argument(
        "--delay-seconds",
        type=_bounded_int(0, 900),
        metavar="<0-900>",
        help="deliver after this delay (standard queues only)",
    )
    queue.add_argument(
        "--message-group-id",
        metavar="<value>",
        help="FIFO only (default: a hash of ClientId and Username, never the username itself)",
    )
    queue.add_argument(
        "--message-deduplication-id",
        metavar="<value>",
        help="FIFO only (default: the RequestId)",
    )

    bulk = parser.add_argument_group("bulk")
    bulk.add_argument(
        "--from-file",
        metavar="<path|->",
        help="send every request of a JSON Lines file (one request object a line; - is stdin)",
    )
    bulk.add_argument(
        "--concurrency",
        type=_bounded_int(1, 64),
        metavar="<1-64>",
        help=f"SendMessageBatch calls under way at once (default {DEFAULT_CONCURRENCY})",
    )
    bulk.add_argument(
        "--validate-only", action="store_true", help="check the file and report; send nothing"
    )

    wait = parser.add_argument_group("result")
    wait.add_argument(
        "--wait",
        nargs="?",
        const=DEFAULT_WAIT_SECONDS,
        type=_wait_seconds,
        metavar="SECONDS",
        help=f"wait for the request's result and print it (default {DEFAULT_WAIT_SECONDS:.0f} s)",
    )
    wait.add_argument(
        "--results-queue-url",
        metavar="<url>",
        help="a queue subscribed to the result topic (default: $RESEND_RESULTS_QUEUE_URL)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--output", choices=FORMATS, help="json, yaml, text or table (default: json)"
    )
    output.add_argument(
        "--query", type=compile_query, metavar="<jmespath>", help="filter the output"
    )


def _bounded_int(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _wait_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_WAIT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_WAIT_SECONDS}")
    return value


# The handler.


def _handle(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from resend_client.client import EnqueueError

    try:
        if args.generate_cli_skeleton is not None:
            from resend_client.enqueue.skeleton import render as render_skeleton

            sys.stdout.write(render_skeleton(args.generate_cli_skeleton))
            return 0
        if args.from_file is not None:
            return _bulk(args)
        return _single(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        for problem in exc.problems:
            sys.stderr.write(f"{parser.prog}: error: {problem}\n")
        return EXIT_USAGE
    except EnqueueError as exc:
        flag = _FLAG_OF_ERROR.get(exc.code)
        if flag is not None:  # the AWS configuration refused a flag's value: a usage error
            parser.print_usage(sys.stderr)
            sys.stderr.write(f"{parser.prog}: error: argument {flag}: {exc.message}\n")
            return EXIT_USAGE
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return EXIT_AWS
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{parser.prog}: interrupted\n")
        return EXIT_INTERRUPTED


def _output_format(args: argparse.Namespace) -> str:
    if args.output:
        return str(args.output)
    configured = os.environ.get("AWS_DEFAULT_OUTPUT", "")
    return configured if configured in FORMATS else "json"


def _print(args: argparse.Namespace, data: Any) -> None:
    sys.stdout.write(render(data, _output_format(args), query=args.query, title=TITLE))
    sys.stdout.flush()


def _queue_url(args: argparse.Namespace, problems: list[str]) -> str:
    url = args.queue_url or os.environ.get("RESEND_QUEUE_URL", "")
    if not url:
        problems.append("argument --queue-url: required (or set RESEND_QUEUE_URL)")
    elif not _is_url(url):
        problems.append("argument --queue-url: must be a queue URL (https://sqs...)")
    for flag, value in (
        ("--endpoint-url", args.endpoint_url),
        ("--results-queue-url", args.results_queue_url),
    ):
        if value is not None and not _is_url(value):
            problems.append(f"argument {flag}: must be an http:// or https:// URL")
    return str(url)


def _is_url(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _fifo_problems(args: argparse.Namespace, fifo: bool) -> list[str]:
    from resend_client.client import valid_fifo_id

    problems = []
    if fifo and args.delay_seconds:
        problems.append(
            "argument --delay-seconds: FIFO queues take no per-message delay "
            "(set the queue's DelaySeconds instead)"
        )
    for flag, value in (
        ("--message-group-id", args.message_group_id),
        ("--message-deduplication-id", args.message_deduplication_id),
    ):
        if value is None:
            continue
        if not fifo:
            problems.append(f"argument {flag}: only for FIFO queues (URL ending .fifo)")
        elif not valid_fifo_id(value):
            problems.append(f"argument {flag}: must be 1 to 128 printable ASCII characters")
    return problems


def _client(args: argparse.Namespace, queue_url: str) -> ResendClient:
    from resend_client.client import ResendClient

    return ResendClient(
        queue_url,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        concurrency=args.concurrency or DEFAULT_CONCURRENCY,
    )


# One request.


def _single(args: argparse.Namespace) -> int:
    problems: list[str] = []
    for flag, given in (
        ("--validate-only", args.validate_only),
        ("--concurrency", args.concurrency is not None),
    ):
        if given:
            problems.append(f"argument {flag}: only with --from-file")
    queue_url = _queue_url(args, problems)
    problems.extend(_fifo_problems(args, queue_url.endswith(".fifo")))
    request = _request(args, problems)
    results_queue_url = args.results_queue_url or os.environ.get("RESEND_RESULTS_QUEUE_URL")
    if args.wait is not None and not results_queue_url:
        problems.append(
            "argument --wait: needs --results-queue-url (or RESEND_RESULTS_QUEUE_URL), "
            "a queue subscribed to the result topic"
        )
    if problems or request is None:
        raise UsageError(problems)

    receipt, result = asyncio.run(_send_one(args, queue_url, request, results_queue_url))
    answer = _receipt_document(receipt)
    if args.wait is None:
        _print(args, answer)
        return 0
    if result is None:
        _print(args, answer)
        sys.stderr.write(
            f"resend-client enqueue: no result for RequestId {receipt.request_id} within "
            f"{args.wait:g} seconds (the request was sent and may still be processed)\n"
        )
        return EXIT_AWS
    answer["Result"] = result.model_dump(mode="json", exclude_none=True)
    _print(args, answer)
    if result.Outcome.value in ("sent", "duplicate"):
        return 0
    code = f" ({result.Error.Code})" if result.Error is not None else ""
    sys.stderr.write(f"resend-client enqueue: the result is {result.Outcome.value}{code}\n")
    return EXIT_NOT_SENT


def _request(args: argparse.Namespace, problems: list[str]) -> ResendRequest | None:
    from resend_client.client import new_request_id

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


async def _send_one(
    args: argparse.Namespace,
    queue_url: str,
    request: ResendRequest,
    results_queue_url: str | None,
) -> tuple[EnqueueReceipt, Result | None]:
    async with _client(args, queue_url) as client:
        receipt = await client.send(
            request,
            delay_seconds=args.delay_seconds or 0,
            message_group_id=args.message_group_id,
            deduplication_id=args.message_deduplication_id,
        )
        if args.wait is None or results_queue_url is None:
            return receipt, None
        result = await client.wait_for_result(
            receipt.request_id, results_queue_url=results_queue_url, wait_seconds=args.wait
        )
        return receipt, result


def _receipt_document(receipt: EnqueueReceipt) -> dict[str, Any]:
    answer: dict[str, Any] = {"RequestId": receipt.request_id, "MessageId": receipt.message_id}
    if receipt.sequence_number is not None:
        answer["SequenceNumber"] = receipt.sequence_number
    return answer


# Many requests.


def _bulk(args: argparse.Namespace) -> int:
    from resend_client.enqueue.bulk import open_source, scan

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
    queue_url = ""
    if not args.validate_only:
        queue_url = _queue_url(args, problems)
        problems.extend(_fifo_problems(args, queue_url.endswith(".fifo")))
    if problems:
        raise UsageError(problems)

    name = "<stdin>" if args.from_file == "-" else args.from_file
    try:
        with open_source(args.from_file) as stream:
            checked = scan(stream)
            _report_lines(name, checked.problems, checked.invalid)
            if args.validate_only:
                _print(args, {"Valid": checked.valid, "Invalid": checked.invalid})
                return 0 if checked.invalid == 0 else EXIT_NOT_SENT
            stream.seek(0)
            report = _send_file(args, queue_url, stream, name, checked.valid)
    except OSError as exc:
        raise UsageError([f"argument --from-file: cannot read {name}: {exc.strerror}"]) from None
    _print(
        args,
        {"Sent": report.sent, "Invalid": checked.invalid + report.invalid, "Failed": report.failed},
    )
    return 0 if checked.invalid == 0 and report.all_sent else EXIT_NOT_SENT


def _report_lines(name: str, problems: list[Any], invalid: int) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        sys.stderr.write(f"{name}:{problem.line}: {problem.reason}\n")
    if invalid > SHOWN_PROBLEMS:
        sys.stderr.write(f"{name}: ... and {invalid - SHOWN_PROBLEMS:,} more invalid lines\n")


def _send_file(
    args: argparse.Namespace, queue_url: str, stream: Any, name: str, total: int
) -> BulkReport:
    from resend_client.enqueue.bulk import valid_requests
    from resend_client.enqueue.progress import ProgressBar

    progress = ProgressBar(total, sys.stderr)
    # Line numbers of requests handed to the sender and not yet answered: bounded by what the
    # sender has in flight, never the whole file.
    lines: dict[int, int] = {}
    shown = 0

    def requests() -> Any:
        for position, (line, request) in enumerate(valid_requests(stream)):
            lines[position] = line
            yield request

    def on_outcome(outcome: BulkOutcome) -> None:
        nonlocal shown
        line = lines.pop(outcome.position)
        progress.advance(failed=outcome.problem is not None)
        if outcome.problem is not None and shown < SHOWN_PROBLEMS:
            shown += 1
            clear = "\r\033[K" if sys.stderr.isatty() else ""
            sys.stderr.write(
                f"{clear}{name}:{line}: {outcome.problem.outcome}: {outcome.problem.reason}\n"
            )

    async def send() -> BulkReport:
        async with _client(args, queue_url) as client:
            return await client.enqueue_many(
                requests(), delay_seconds=args.delay_seconds or 0, on_outcome=on_outcome
            )

    try:
        return asyncio.run(send())
    finally:
        progress.close()
