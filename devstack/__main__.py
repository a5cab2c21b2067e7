"""``python -m devstack``: the local stack in the foreground, for the demo and manual runs.

Prints the endpoint (and, with --provision, the resources as JSON with the worker's environment)
then serves until SIGINT or SIGTERM. Confirmation codes are logged at INFO so a developer sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading
from types import FrameType

from devstack.provision import provision
from devstack.server import DevStack


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--provision", action="store_true", help="create the worker's resources")
    parser.add_argument("--users", type=int, default=3, help="unconfirmed users to create")
    parser.add_argument("--name", default="resend", help="prefix of the resource names")
    parser.add_argument("--fifo", action="store_true", help="FIFO queues and topic")
    parser.add_argument("--region", default="us-east-1")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with DevStack(port=args.port) as stack:
        print(f"devstack listening on {stack.endpoint_url}", flush=True)
        if args.provision:
            resources = asyncio.run(
                provision(
                    stack.endpoint_url,
                    args.region,
                    name=args.name,
                    fifo=args.fifo,
                    users=args.users,
                )
            )
            output = {"resources": resources.to_json(), "worker_env": resources.worker_env()}
            print(json.dumps(output, indent=2), flush=True)
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
