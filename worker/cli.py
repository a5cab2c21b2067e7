"""``resend-worker``: the service's command. ``resend-worker run`` runs the worker."""

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

    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
