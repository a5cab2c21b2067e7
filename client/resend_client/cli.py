"""``resend-client``, the producer's command: ``enqueue`` puts requests on the queue."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from resend_client.enqueue.cli import add_parser as add_enqueue_parser


def _version() -> str:
    try:
        return version("resend-client")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resend-client",
        description="Queue Cognito resend-confirmation-code requests for resend-worker.",
    )
    parser.add_argument("--version", action="version", version=f"resend-client {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_enqueue_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
