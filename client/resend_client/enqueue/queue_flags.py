"""The queue's flags, checked together before anything is sent: lane, URL, FIFO ids, delay."""

from __future__ import annotations

import argparse
import os
import urllib.parse
from dataclasses import dataclass

from resend_client.lanes import BULK_SETTING, INTERACTIVE_SETTING, SETTINGS, Priority
from resend_client.request_entries import valid_fifo_id


@dataclass(frozen=True)
class QueueChoice:
    """The request queue chosen, and a note for stderr when the choice needs saying."""

    url: str
    note: str | None = None


def queue_url(
    args: argparse.Namespace, problems: list[str], *, bulk_send: bool = False
) -> QueueChoice:
    """The request queue, by these rules (``bulk_send``: ``--from-file``):

    - ``--queue-url`` wins: a queue URL names its lane, so ``--priority`` with it is a problem;
    - ``--priority`` picks its lane's variable, and a lane without one is a problem;
    - without either, one request goes to the interactive lane, and a bulk send to the bulk lane
      when ``RESEND_BULK_QUEUE_URL`` is set, else to the interactive one with a note saying so.
    """
    for flag, value in (
        ("--endpoint-url", args.endpoint_url),
        ("--results-queue-url", args.results_queue_url),
    ):
        if value is not None and not is_url(value):
            problems.append(f"argument {flag}: must be an http:// or https:// URL")
    if args.queue_url is not None:
        if args.priority is not None:
            problems.append(
                "argument --priority: not allowed with --queue-url "
                "(a queue URL names its lane: give one or the other)"
            )
        if not is_url(args.queue_url):
            problems.append("argument --queue-url: must be a queue URL (https://sqs...)")
        return QueueChoice(str(args.queue_url))
    priority: Priority = args.priority or "interactive"
    note = None
    if args.priority is None and bulk_send:
        if os.environ.get(BULK_SETTING):
            priority = "bulk"
        else:
            note = (
                f"no bulk lane is configured ({BULK_SETTING} is not set): these requests "
                f"share the interactive lane, {INTERACTIVE_SETTING}"
            )
    setting = SETTINGS[priority]
    url = os.environ.get(setting, "")
    if not url:
        if priority == "bulk":
            problems.append(
                f"argument --priority: the bulk lane needs {BULK_SETTING} "
                "(the bulk lane's queue URL), or give --queue-url"
            )
        else:
            problems.append(f"argument --queue-url: required (or set {INTERACTIVE_SETTING})")
        return QueueChoice("")
    if not is_url(url):
        problems.append(f"{setting}: must be a queue URL (https://sqs...)")
    return QueueChoice(url, note)


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
