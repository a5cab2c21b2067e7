"""``make demo``: the whole product on the embedded local stack, no AWS account needed.

Starts the devstack in this process, provisions a queue with its DLQ, a result topic with a
subscribed queue, a user pool with a secret app client and a few users, runs the real worker
against it, sends one request of each kind and prints each result as it arrives. Ctrl-C stops it
the way SIGTERM stops a deployed worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from typing import Any

from aiobotocore.session import AioSession

from devstack import DevResources, DevStack, provision
from worker.logs import configure_logging
from worker.settings import load_settings

SAMPLE_PAUSE_SECONDS = 0.3


def run_demo(*, stack_port: int, metrics_port: int) -> int:
    with DevStack(port=stack_port) as stack, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_demo(stack.endpoint_url, metrics_port))
    print("\nworker stopped; local stack shut down")
    return 0


def _samples(resources: DevResources) -> list[tuple[str, str]]:
    user = resources.unconfirmed_users[0].username
    confirmed = resources.confirmed_users[0].username
    client_id = resources.client_id

    def body(**fields: Any) -> str:
        return json.dumps(fields)

    return [
        ("a good request", body(ClientId=client_id, Username=user, RequestId="demo-good")),
        ("the same user again", body(ClientId=client_id, Username=user, RequestId="demo-dup")),
        ("an unknown user", body(ClientId=client_id, Username="nobody", RequestId="demo-unknown")),
        ("a confirmed user", body(ClientId=client_id, Username=confirmed, RequestId="demo-conf")),
        ("a malformed body", '{"ClientId": "' + client_id + '", "Username": '),
    ]


async def _demo(endpoint_url: str, metrics_port: int) -> None:
    resources = await provision(endpoint_url, users=3)
    os.environ.update(resources.worker_env())
    os.environ.update(
        {
            "RESEND_METRICS_PORT": str(metrics_port),
            "RESEND_METRICS_HOST": "127.0.0.1",
            "RESEND_RECEIVE_WAIT_SECONDS": "1",
            "RESEND_LOG_FORMAT": os.environ.get("RESEND_LOG_FORMAT", "console"),
            "RESEND_LOG_LEVEL": os.environ.get("RESEND_LOG_LEVEL", "WARNING"),
        }
    )
    settings = load_settings()
    configure_logging(settings)
    # The local Cognito logs each code it "sends": that is the demo's mailbox.
    logging.getLogger("devstack").setLevel(logging.INFO)

    from worker.app import run_worker

    ready = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, ready=ready))
    await asyncio.wait(
        {worker, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    if worker.done():
        await worker
        return
    print(f"local stack:  {endpoint_url}")
    print(f"metrics:      http://127.0.0.1:{metrics_port}/metrics  (also /healthz, /readyz)")
    print(f"user pool:    {resources.user_pool_id}, app client {resources.client_id} (with secret)")
    print("sending one request of each kind; results appear below. Ctrl-C to stop.\n")

    session = AioSession()
    async with session.create_client("sqs", region_name=resources.region) as sqs:
        printer = asyncio.create_task(_print_results(sqs, resources.results_queue_url))
        try:
            for label, body in _samples(resources):
                await sqs.send_message(QueueUrl=resources.queue_url, MessageBody=body)
                print(f"-> sent {label}")
                await asyncio.sleep(SAMPLE_PAUSE_SECONDS)
            await worker
        finally:
            printer.cancel()


async def _print_results(sqs: Any, results_queue_url: str) -> None:
    while True:
        answer = await sqs.receive_message(
            QueueUrl=results_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in answer.get("Messages", []):
            print(describe(json.loads(message["Body"])))
            await sqs.delete_message(
                QueueUrl=results_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )


def describe(result: dict[str, Any]) -> str:
    """One readable line per result, for people watching the demo."""
    outcome = result.get("Outcome", "?")
    line = f"<- {outcome:<9} request {result.get('RequestId')!s:<13} user {result.get('Username')}"
    details = result.get("CodeDeliveryDetails") or {}
    if details:
        line += f"  code sent by {details.get('DeliveryMedium')} to {details.get('Destination')}"
    if result.get("Original"):
        line += f"  (duplicate of {result['Original'].get('RequestId')})"
    error = result.get("Error")
    if error:
        reason = f" [{error['Reason']}]" if error.get("Reason") else ""
        line += f"  {error.get('Code')}{reason}: {error.get('Message')}"
    return line


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__)
    parser.add_argument(
        "--port", type=_port, default=0, help="local stack port (default: any free)"
    )
    parser.add_argument(
        "--metrics-port", type=_port, default=9102, help="worker metrics port (default 9102)"
    )
    args = parser.parse_args(argv)
    return run_demo(stack_port=args.port, metrics_port=args.metrics_port)


if __name__ == "__main__":
    sys.exit(main())
