"""``resend-worker``: run the worker, the demo, the local stack, or enqueue requests."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from worker import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resend-worker",
        description="Resend Cognito sign-up confirmation codes requested over SQS.",
    )
    parser.add_argument("--version", action="version", version=f"resend-worker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the worker (configured by RESEND_* environment variables; see the README)",
        description="Run the worker until SIGTERM or SIGINT. All settings come from the "
        "environment (RESEND_*, AWS_*); see the README's settings table.",
    )
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo",
        help="run the worker end to end on the embedded local stack (no AWS account needed)",
    )
    demo.add_argument("--port", type=_port, default=0, help="local stack port (default: any free)")
    demo.add_argument(
        "--metrics-port", type=_port, default=9102, help="worker metrics port (default 9102)"
    )
    demo.set_defaults(handler=_demo)

    devstack = commands.add_parser(
        "devstack",
        help="run the local stack alone (moto with ResendConfirmationCode)",
        add_help=False,
    )
    devstack.add_argument("args", nargs=argparse.REMAINDER)
    devstack.set_defaults(handler=_devstack)

    from worker.enqueue.cli import add_parser as add_enqueue_parser

    add_enqueue_parser(commands)
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    from worker.app import StartupError, run_worker
    from worker.logs import configure_logging
    from worker.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"resend-worker: bad setting: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        asyncio.run(run_worker(settings))
    except StartupError as exc:
        print(f"resend-worker: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from worker.demo import run_demo

    return run_demo(stack_port=args.port, metrics_port=args.metrics_port)


def _devstack(args: argparse.Namespace) -> int:
    from worker.devstack.__main__ import main as devstack_main

    return devstack_main(list(args.args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
