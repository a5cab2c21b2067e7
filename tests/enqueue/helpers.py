"""Queues on the devstack, read back synchronously; the enqueue CLI run in-process."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from resend_client.enqueue.cli import main

REGION = "us-east-1"
KEY_ID = SECRET_KEY = "testing"
CREDENTIALS = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY}


@dataclass
class Queues:
    """Makes queues and reads them back, synchronously."""

    endpoint_url: str
    sqs: Any

    def create(self, *, fifo: bool = False, **attributes: str) -> str:
        name = f"enqueue-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
        if fifo:
            attributes = {"FifoQueue": "true", **attributes}
        return str(self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message on the queue, deleted as read; stops at the first empty receive."""
        messages: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=60,
                MessageSystemAttributeNames=["All"],
            )
            batch = answer.get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )

    def bodies(self, queue_url: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain(queue_url)]

    def depth(self, queue_url: str) -> int:
        """Messages on the queue: visible, in flight and delayed."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
        return sum(int(attributes["Attributes"][name]) for name in names)


@dataclass
class Run:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    capsys.readouterr()
    status = main(list(argv))
    captured = capsys.readouterr()
    return Run(status, captured.out, captured.err)


def command(
    *argv: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> Run:
    """The real command as a producer runs it: a process of its own, its exit status and output."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "resend_client", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)
