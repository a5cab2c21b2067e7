"""``resend-client enqueue``: one request from flags, or many from a JSON Lines file.

The request flags are those of ``aws cognito-idp resend-confirmation-code``, and the AWS CLI's
global options are accepted, so a command that calls Cognito directly becomes a queued one by
changing its first words. Everything is checked before anything is sent, and the exit statuses
are the AWS CLI v2's (``resend_client.enqueue.exits``). Sending goes through the Python client
(the same code producers import), so the command and the library cannot drift apart.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from resend_client.enqueue import exits
from resend_client.enqueue.arguments import add_arguments
from resend_client.enqueue.parser import Parser, globals_after_command, version_text

_EPILOG = """\
examples:
  resend-client enqueue --client-id 1example23456789 --username jane
  resend-client enqueue --cli-input-json file://request.json --request-id signup-42 --wait
  resend-client enqueue --from-file requests.jsonl --receipts-file sent.jsonl
  resend-client enqueue --priority bulk --client-id 1example23456789 --username jane

The queue is --queue-url, or a lane's: --priority interactive is RESEND_QUEUE_URL (the default
for one request), --priority bulk is RESEND_BULK_QUEUE_URL (the default for --from-file when it
is set). Credentials, region and output come from the usual AWS settings (--profile, --region,
AWS_* variables, the config file). Exit status (the AWS CLI v2's): 0 sent; 1 not every line
sent, or the awaited result is failed or invalid; 130 Ctrl-C; 252 bad command line; 253 bad
configuration; 254 SQS answered with an error; 255 anything else (connection failures, --wait
timed out). Nothing is sent with 252 or 253.
"""


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
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
    add_arguments(parser, version_text())
    parser.set_defaults(handler=functools.partial(handle, parser))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="resend-client",
        description="Queue Cognito resend-confirmation-code requests for resend-worker.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    add_parser(commands)
    return parser


def main(argv: list[str]) -> int:
    """``enqueue`` alone; ``argv`` may start with the word ``enqueue``, or global options."""
    argv = globals_after_command(list(argv), "enqueue")
    if not argv or argv[0] != "enqueue":
        argv = ["enqueue", *argv]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else exits.USAGE
    return int(args.handler(args))


def handle(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from resend_client.enqueue.emit import note
    from resend_client.enqueue.settings import global_problems, start_debug_log
    from resend_client.errors import EnqueueError

    try:
        start_debug_log(args)
        if problems := global_problems(args):
            raise exits.UsageError(problems)
        if args.generate_cli_skeleton is not None:
            from resend_client.enqueue.skeleton import render as render_skeleton

            sys.stdout.write(render_skeleton(args.generate_cli_skeleton))
            return exits.OK
        if args.from_file is not None:
            from resend_client.enqueue import from_file

            return from_file.run(args)
        from resend_client.enqueue import single

        return single.run(args)
    except exits.UsageError as exc:
        parser.print_usage(sys.stderr)
        for problem in exc.problems:
            sys.stderr.write(f"{parser.prog}: error: {problem}\n")
        return exits.USAGE
    except exits.ConfigurationError as exc:
        note(f"error: {exc}")
        return exits.CONFIGURATION
    except EnqueueError as exc:  # before anything was sent: opening the client
        note(f"error: {exc}")
        return exits.for_error(exc)
    except KeyboardInterrupt:
        note("interrupted; nothing was sent")
        return exits.INTERRUPTED
