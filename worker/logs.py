"""Structured logging: JSON lines for machines, a readable console format for people.

Lines about a message carry its ids, the client id and a stable hash of the username, never the
username itself (usernames are often email addresses) unless ``RESEND_LOG_USERNAMES=true``. As a
last line of defence a processor masks anything shaped like an email address or a phone number,
and drops values of keys that name secrets, whatever a caller passed.

Every logged value can come from a producer (a trace attribute, an error about its body), so the
processor must cost linear time whatever it meets: values are cut to ``MAX_FIELD_CHARS`` before
any pattern runs, and the patterns have bounded repetitions (the unbounded email pattern once
took 10 s on a 64 KB trace attribute, blocking the event loop, the probes and lease renewal).
Exceptions are logged as their frames and type, never their message, which may quote a value.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

import structlog

from worker import users
from worker.settings import LogFormat, Settings

# Bounded repetitions: at most 64 + 63 * 9 steps from each position, so linear in the value.
EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
PHONE = re.compile(r"\+\d{7,15}(?!\d)")
SECRET_KEYS = ("secret", "password", "token", "secrethash", "secret_hash")
MAX_FIELD_CHARS = 1024
MAX_EXCEPTION_CHARS = 8192
_SCALARS = (bool, int, float, type(None))


def username_hash(client_id: str | None, username: str | None) -> str | None:
    """A stable pseudonym: the same user gets the same 16 hex characters across lines, replicas
    and app clients of one pool (``worker.users``), keyed so a list of emails cannot reverse it."""
    if username is None:
        return None
    return users.current().pseudonym(client_id, username)


def describe_error(exc: BaseException) -> str:
    """An exception as a log field: its type, and for an AWS error its code and operation.

    Never ``repr(exc)`` or ``str(exc)``: their text may quote a value from a producer's body or
    an answer that echoes one.
    """
    text = type(exc).__name__
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            text += f" {str(code)[:64]}"
        operation = getattr(exc, "operation_name", None)
        if operation:
            text += f" ({str(operation)[:64]})"
    elif isinstance(getattr(exc, "code", None), str):
        text += f" {exc.code[:64]}"  # type: ignore[attr-defined]
    return text


def clip(value: str, limit: int = MAX_FIELD_CHARS) -> str:
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...({len(value) - limit} characters cut)"


def _scrub(value: Any, limit: int = MAX_FIELD_CHARS) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if not isinstance(value, str):
        value = str(value)
    value = clip(value, limit)
    # The membership tests skip the regexes for the usual line, which has neither.
    if "@" in value:
        value = EMAIL.sub("<email>", value)
    if "+" in value:
        value = PHONE.sub("<phone>", value)
    return value


# Field names come from the code (a few dozen), so whether one names a secret is decided once;
# the bound keeps a caller that makes up names from growing it.
_SECRET_KEY: dict[str, bool] = {}
_SECRET_KEY_MAX = 1024


def _names_a_secret(key: str) -> bool:
    known = _SECRET_KEY.get(key)
    if known is None:
        lowered = key.lower()
        known = any(word in lowered for word in SECRET_KEYS)
        if len(_SECRET_KEY) < _SECRET_KEY_MAX:
            _SECRET_KEY[key] = known
    return known


def scrub_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.startswith("_"):
            continue  # structlog's own (the stdlib record), never rendered
        if _names_a_secret(key):
            event[key] = "<redacted>"
        elif key == "exception":
            event[key] = _scrub(event[key], MAX_EXCEPTION_CHARS)
        elif key != "username":
            event[key] = _scrub(event[key])
    return event


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _exc_info(value: Any) -> ExcInfo | None:
    if value is True:
        value = sys.exc_info()
    elif isinstance(value, BaseException):
        value = (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and value[0] is not None:
        return value
    return None


def format_exception_safely(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``exc_info`` as the traceback's frames and the exception's type, without its message."""
    info = _exc_info(event.pop("exc_info", None))
    if info is not None:
        frames = "".join(traceback.format_tb(info[2]))
        event["exception"] = f"Traceback (most recent call last):\n{frames}{info[0].__qualname__}"
    return event


def configure_logging(settings: Settings) -> None:
    log_format = settings.log_format
    if log_format is LogFormat.AUTO:
        log_format = LogFormat.CONSOLE if sys.stdout.isatty() else LogFormat.JSON
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
        if log_format is LogFormat.CONSOLE
        else structlog.processors.JSONRenderer()
    )
    level = logging.getLevelNamesMapping()[settings.log_level.value]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        format_exception_safely,
        scrub_event,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library: route them through the same renderer.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.WARNING))
    logging.getLogger("worker").setLevel(level)
