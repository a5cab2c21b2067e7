"""The queue's flags, checked together before anything is sent: URL, FIFO ids, delay."""

from __future__ import annotations

import argparse
import os
import urllib.parse

from resend_client.request_entries import valid_fifo_id


def queue_url(args: argparse.Namespace, problems: list[str]) -> str:
    url = args.queue_url or os.environ.get("RESEND_QUEUE_URL", "")
    if not url:
        problems.append("argument --queue-url: required (or set RESEND_QUEUE_URL)")
    elif not is_url(url):
        problems.append("argument --queue-url: must be a queue URL (https://sqs...)")
    for flag, value in (
        ("--endpoint-url", args.endpoint_url),
        ("--results-queue-url", args.results_queue_url),
    ):
        if value is not None and not is_url(value):
            problems.append(f"argument {flag}: must be an http:// or https:// URL")
    return str(url)


def is_url(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def fifo_problems(args: argparse.Namespace, fifo: bool) -> list[str]:
    problems = []
    if fifo and args.delay_seconds:
        problems.append(
            "argument --delay-seconds: FIFO queues take no per-message delay "
            "(set the queue's DelaySeconds instead)"
        )
    for flag, value in (
        ("--message-group-id", args.message_group_id),
        ("--message-deduplication-id", args.message_deduplication_id),
    ):
        if value is None:
            continue
        if not fifo:
            problems.append(f"argument {flag}: only for FIFO queues (URL ending .fifo)")
        elif not valid_fifo_id(value):
            problems.append(f"argument {flag}: must be 1 to 128 printable ASCII characters")
    return problems
