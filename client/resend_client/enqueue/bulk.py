"""Bulk input: a JSON Lines file of requests, read twice and never held in memory.

The first pass checks every line with the worker's own parser and keeps only the problems, so
bad lines are reported before anything is sent; the second pass parses again and yields the
good requests to the sender as fast as it takes them. Standard input cannot be read twice, so
it is first copied to an anonymous temporary file. A line longer than a message can be is
skipped to its end rather than read whole.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from resend_contract.models import MAX_BODY_BYTES, InvalidRequest, ResendRequest, parse_body

# A line may end with "\r\n"; anything longer than this cannot be a valid message.
_LINE_LIMIT = MAX_BODY_BYTES + 2
_SPOOL_CHUNK = 1 << 20


@dataclass(frozen=True)
class LineProblem:
    line: int
    reason: str


@dataclass
class Scan:
    """The first pass: exact counts, and the first ``max_problems`` problems."""

    valid: int = 0
    invalid: int = 0
    blank: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    max_problems: int = 1000


@contextmanager
def open_source(path: str, stdin: BinaryIO | None = None) -> Iterator[BinaryIO]:
    """The file to read, rewindable: ``-`` is standard input, spooled to a temporary file."""
    if path == "-":
        with tempfile.TemporaryFile(prefix="resend-enqueue-") as spool:
            shutil.copyfileobj(stdin or sys.stdin.buffer, spool, _SPOOL_CHUNK)
            spool.seek(0)
            yield spool
    else:
        with open(path, "rb") as stream:
            yield stream


def numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, str | None, str | None]]:
    """``(line number, text, problem)`` for each line; exactly one of text and problem is set."""
    number = 0
    while chunk := stream.readline(_LINE_LIMIT):
        number += 1
        if len(chunk) >= _LINE_LIMIT and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(_SPOOL_CHUNK)
            yield number, None, f"body: larger than {MAX_BODY_BYTES} bytes"
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, f"not UTF-8 text (byte {exc.start + 1} of the line)"
            continue
        yield number, text.removeprefix("\ufeff") if number == 1 else text, None


def parse_line(text: str) -> ResendRequest | None:
    """None for a blank line; raises ``InvalidRequest`` as the worker would for that body."""
    body = text.strip()
    return parse_body(body) if body else None


def scan(stream: BinaryIO) -> Scan:
    result = Scan()
    for number, text, problem in numbered_lines(stream):
        try:
            if problem is not None:
                raise InvalidRequest(problem)
            assert text is not None
            if parse_line(text) is None:
                result.blank += 1
                continue
        except InvalidRequest as exc:
            result.invalid += 1
            if len(result.problems) < result.max_problems:
                result.problems.append(LineProblem(number, exc.message))
            continue
        result.valid += 1
    return result


def valid_requests(stream: BinaryIO) -> Iterator[tuple[int, str, ResendRequest]]:
    """The second pass: ``(line number, line, request)`` for each valid line."""
    for number, text, problem in numbered_lines(stream):
        if problem is not None or text is None:
            continue
        try:
            request = parse_line(text)
        except InvalidRequest:
            continue
        if request is not None:
            yield number, text, request
