"""Every bound on what a producer may send, in one place.

Any service that can write to the queue is a producer, and producers have bugs. Everything the
worker reads from a message is bounded here before anything else looks at it, so no body can make
the parser, the validator, the logs or the result cost more than a fixed amount, and no rejection
depends on which module happened to trip over the input first.

A rejection raises :class:`BoundExceeded` with a message that names the problem and never the
producer's text (no member names, no values): results, dead-letter attributes and logs are read by
people other than the producer, and a member may be named after an email address or a secret.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

# SNS's message limit; a valid request is far smaller (five strings of at most 128 characters,
# UserContextData, ClientMetadata). SQS itself takes up to 1 MiB.
MAX_BODY_BYTES = 256 * 1024
# A valid request nests three deep (body, ClientMetadata or UserContextData, value).
MAX_DEPTH = 8
# Every member of a valid request is a string: a number is always an error, and Python's int()
# of a huge literal costs quadratic time (it refuses beyond 4,300 digits with a ValueError).
MAX_NUMBER_CHARS = 40
MAX_MEMBER_NAME_CHARS = 128
# Cognito's model bounds each ClientMetadata key and value at 131,072 characters and says
# nothing of the map; the worker's own bounds keep a request small enough to answer and copy.
CLIENT_METADATA_MAX_ENTRIES = 50
CLIENT_METADATA_MAX_BYTES = 16 * 1024
# Error.Message and dead-letter attribute values never exceed this.
MAX_ERROR_MESSAGE_CHARS = 1024

# Trace attributes copied from a request onto its result.
TRACEPARENT_CHARS = 55  # version 00: 2 + 1 + 32 + 1 + 16 + 1 + 2
MAX_TRACESTATE_CHARS = 512  # W3C: at most 32 list members, "SHOULD" stay under 512
MAX_AWS_TRACE_HEADER_CHARS = 256

# Bidirectional overrides and isolates ("Trojan source") and zero-width characters: invisible
# in logs and consoles, so a username containing them reads as someone else's.
INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# Cognito's Username pattern, [\p{L}\p{M}\p{S}\p{N}\p{P}]+, as Unicode major categories.
USERNAME_CATEGORIES = frozenset("LMSNP")


class BoundExceeded(ValueError):
    """The input is outside a bound; the message is safe to show anyone."""


def count_phrase(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _refuse_constant(name: str) -> Any:
    raise BoundExceeded(f"{name} is not a JSON number")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise BoundExceeded(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise BoundExceeded(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return float(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in pairs:
        if len(name) > MAX_MEMBER_NAME_CHARS:
            raise BoundExceeded(f"a member name longer than {MAX_MEMBER_NAME_CHARS} characters")
        if name in document:
            raise BoundExceeded("a member name appears twice in one object")
        document[name] = value
    return document


def body_size_problem(text: str) -> str | None:
    """Why the text is too large to read, or None; costs at most one encoding of the text."""
    # Four bytes per character at most: a short text needs no encoding to be known small.
    if len(text) * 4 > MAX_BODY_BYTES and (
        len(text) > MAX_BODY_BYTES
        or len(text.encode("utf-8", errors="surrogatepass")) > MAX_BODY_BYTES
    ):
        return f"larger than {MAX_BODY_BYTES} bytes"
    return None


def load_json(text: str) -> Any:
    """``json.loads`` with every bound applied; raises BoundExceeded or ValueError.

    The hooks run as the parser meets each number and object, so a huge number is refused
    before it is converted and a huge member name before it is kept.
    """
    problem = body_size_problem(text)
    if problem is not None:
        raise BoundExceeded(problem)
    try:
        document = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object,
        )
    except RecursionError:
        raise BoundExceeded(f"nested deeper than {MAX_DEPTH} levels") from None
    check_document(document)
    return document


def check_document(document: Any) -> None:
    """Depth and string contents of a parsed document; iterative, so depth costs no stack."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BoundExceeded(f"nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    check_text(key, "a member name")
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            check_text(value, "a string")


def check_text(value: str, what: str) -> None:
    """Refuse lone surrogates: no UTF-8 encoding exists for them, so SNS and Cognito cannot take
    them, and any later ``encode`` (a log line, a hash, a result) would raise."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BoundExceeded(f"{what} contains a lone surrogate (not valid Unicode)") from None


def identifier_problem(value: str) -> str | None:
    """Why a free-form identifier (ClientMetadata, UserContextData) is refused, or None."""
    for char in value:
        if (char < " " and char not in "\t\n\r") or char == "\x7f" or char in INVISIBLE:
            return "contains a control, zero-width or bidirectional character"
    return None


def username_problem(value: str) -> str | None:
    """Cognito's Username pattern: letters, marks, symbols, numbers and punctuation only."""
    for char in value:
        if unicodedata.category(char)[0] not in USERNAME_CATEGORIES:
            return (
                "must contain only letters, marks, symbols, numbers and punctuation "
                "(no whitespace, control, zero-width or bidirectional characters)"
            )
    return None


def client_metadata_problem(metadata: dict[str, str]) -> str | None:
    """ClientMetadata within the worker's count and size bounds, and free of invisible text."""
    if len(metadata) > CLIENT_METADATA_MAX_ENTRIES:
        return f"more than {CLIENT_METADATA_MAX_ENTRIES} entries"
    size = 0
    for key, value in metadata.items():
        size += len(key.encode("utf-8")) + len(value.encode("utf-8"))
        if identifier_problem(key) or identifier_problem(value):
            return "a key or value contains a control, zero-width or bidirectional character"
    if size > CLIENT_METADATA_MAX_BYTES:
        return f"keys and values larger than {CLIENT_METADATA_MAX_BYTES} bytes in all"
    return None


def clip(text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """At most ``limit`` characters, marked when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
