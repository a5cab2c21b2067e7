"""The flags of ``enqueue``: the request's (as the AWS CLI's), the queue's, bulk, result, output.

Also the AWS CLI's global options that make sense for a queue send, so that a command line
written for ``aws`` works unchanged; ``--no-sign-request`` is accepted by the parser only to be
refused with its reason (SQS takes signed requests only) rather than as an unknown option.
"""

from __future__ import annotations

import argparse
from typing import Any

from resend_client.enqueue.output import FORMATS, compile_query
from resend_client.enqueue.params import (
    CLI_INPUT_JSON,
    CLI_INPUT_YAML,
    COGNITO_PARAMETERS,
    REQUEST_ID,
)
from resend_client.lanes import PRIORITIES, Priority

DEFAULT_WAIT_SECONDS = 60.0
MAX_WAIT_SECONDS = 12 * 3600
DEFAULT_CONCURRENCY = 4


def add_arguments(parser: argparse.ArgumentParser, version: str) -> None:
    _request(parser)
    _queue(parser)
    _bulk(parser)
    _result(parser)
    add_global_options(parser, version)


def _request(parser: argparse.ArgumentParser) -> None:
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


def _queue(parser: argparse.ArgumentParser) -> None:
    queue = parser.add_argument_group("queue")
    queue.add_argument(
        "--queue-url",
        metavar="<url>",
        help="the request queue, which names its lane (default: the --priority lane's queue)",
    )
    queue.add_argument(
        "--priority",
        type=_priority,
        metavar="{interactive,bulk}",
        help="the lane: interactive ($RESEND_QUEUE_URL) when a person is waiting, bulk "
        "($RESEND_BULK_QUEUE_URL) for what a job generates (default: interactive; bulk for "
        "--from-file when $RESEND_BULK_QUEUE_URL is set); not with --queue-url",
    )
    queue.add_argument(
        "--delay-seconds",
        type=bounded_int(0, 900),
        metavar="<0-900>",
        help="deliver after this delay (standard queues only)",
    )
    queue.add_argument(
        "--message-group-id",
        metavar="<value>",
        help="FIFO only (default: a hash of ClientId and Username, never the username itself)",
    )
    queue.add_argument(
        "--message-deduplication-id", metavar="<value>", help="FIFO only (default: the RequestId)"
    )
    queue.add_argument(
        "--receipts-file",
        metavar="<path>",
        help="append each accepted request's RequestId and MessageId as a JSON line, as soon as "
        "SQS takes it; with --from-file, a rerun with the same file skips the lines it records",
    )


def _bulk(parser: argparse.ArgumentParser) -> None:
    bulk = parser.add_argument_group("bulk")
    bulk.add_argument(
        "--from-file",
        metavar="<path|->",
        help="send every request of a JSON Lines file (one request object a line; - is stdin)",
    )
    bulk.add_argument(
        "--concurrency",
        type=bounded_int(1, 64),
        metavar="<1-64>",
        help=f"SendMessageBatch calls under way at once (default {DEFAULT_CONCURRENCY})",
    )
    bulk.add_argument(
        "--validate-only", action="store_true", help="check the file and report; send nothing"
    )


def _result(parser: argparse.ArgumentParser) -> None:
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


def add_global_options(parser: argparse.ArgumentParser, version: str) -> None:
    """The AWS CLI's global options, as ``aws help`` lists them."""
    options = parser.add_argument_group("global options (as the AWS CLI's)")
    options.add_argument("--debug", action="store_true", help="log each SQS call on stderr")
    options.add_argument(
        "--endpoint-url", metavar="<url>", help="an SQS endpoint other than AWS's (local stacks)"
    )
    options.add_argument(
        "--no-verify-ssl", action="store_true", help="do not verify TLS certificates"
    )
    options.add_argument(
        "--no-paginate", action="store_true", help="accepted; nothing here is paginated"
    )
    options.add_argument(
        "--output",
        choices=FORMATS,
        help="json, yaml, yaml-stream, text or table (default: the profile's, or json)",
    )
    options.add_argument(
        "--query", type=compile_query, metavar="<jmespath>", help="filter the output"
    )
    options.add_argument(
        "--profile", metavar="<name>", help="a profile of the AWS configuration files"
    )
    options.add_argument(
        "--region", metavar="<region>", help="the queue's region (default: the AWS configuration)"
    )
    options.add_argument("--version", action="version", version=version)
    options.add_argument(
        "--color", choices=("on", "off", "auto"), help="accepted; the output has no colour"
    )
    options.add_argument(
        "--no-sign-request",
        action="store_true",
        help="refused: SQS takes signed requests only",
    )
    options.add_argument("--ca-bundle", metavar="<path>", help="CA certificates to verify TLS")
    options.add_argument(
        "--cli-read-timeout",
        type=bounded_int(0, 3600),
        metavar="<seconds>",
        help="socket read timeout (0: none; default 30)",
    )
    options.add_argument(
        "--cli-connect-timeout",
        type=bounded_int(0, 3600),
        metavar="<seconds>",
        help="socket connect timeout (0: none; default 5)",
    )
    options.add_argument(
        "--no-cli-pager", action="store_true", help="accepted; the output is never paged"
    )
    options.add_argument(
        "--no-cli-auto-prompt", action="store_true", help="accepted; there is no prompt"
    )


def bounded_int(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _priority(text: str) -> Priority:
    for priority in PRIORITIES:
        if text == priority:
            return priority
    raise argparse.ArgumentTypeError("must be interactive or bulk")


def _wait_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds") from None
    if not 0 < value <= MAX_WAIT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_WAIT_SECONDS}")
    return value
