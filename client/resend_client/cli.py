"""``resend-client``, the producer's command: ``enqueue`` puts requests on the queue."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from resend_client.enqueue.cli import build_parser
from resend_client.enqueue.parser import globals_after_command


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(globals_after_command(words, "enqueue"))
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
