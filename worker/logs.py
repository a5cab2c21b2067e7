"""Structured logging: JSON lines for machines, a readable console format for people.

Lines about a message carry its ids, the client id and a stable hash of the username, never the
username itself (usernames are often email addresses) unless ``RESEND_LOG_USERNAMES=true``. As a
last line of defence a processor masks anything shaped like an email address or a phone number,
and drops values of keys that name secrets, whatever a caller passed.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from worker import users
from worker.settings import LogFormat, Settings

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"\+\d{7,15}\b")
SECRET_KEYS = ("secret", "password", "token", "secrethash", "secret_hash")


def username_hash(client_id: str | None, username: str | None) -> str | None:
    """A stable pseudonym: the same user gets the same 16 hex characters across lines, replicas
    and app clients of one pool (``worker.users``), keyed so a list of emails cannot reverse it."""
    if username is None:
        return None
    return users.current().pseudonym(client_id, username)


def _scrub(value: Any) -> Any:
    # The membership tests skip the regexes for the usual line, which has neither.
    if isinstance(value, str) and ("@" in value or "+" in value):
        return PHONE.sub("<phone>", EMAIL.sub("<email>", value))
    return value


def scrub_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(word in key.lower() for word in SECRET_KEYS):
            event[key] = "<redacted>"
        elif key != "username":
            event[key] = _scrub(event[key])
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
        structlog.processors.format_exc_info,
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
