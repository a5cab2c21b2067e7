"""An argparse parser that fails the AWS CLI's way: usage, the problem, exit status 252."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from resend_client.enqueue import exits


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(exits.USAGE)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"resend-client {version('resend-client')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "resend-client 0+unknown"


def globals_after_command(argv: list[str], command: str) -> list[str]:
    """``resend-client --debug enqueue ...`` as ``resend-client enqueue --debug ...``.

    The AWS CLI takes its global options before or after the command; argparse takes a
    subcommand's options only after it, so the words before the command are moved behind it.
    """
    if command not in argv or argv[0] == command:
        return argv
    at = argv.index(command)
    return [command, *argv[:at], *argv[at + 1 :]]
