"""What a dead-letter copy carries, sized so the copy always fits the queue.

The copy is the body as it came, plus attributes saying why. Attributes count toward the queue's
MaximumMessageSize: a body near the limit once made the copy with attributes fail, the message
came back, and was answered again. Attributes are cut or dropped, least useful first, until the
copy fits; a body that does not fit even alone cannot be copied (``None``), and the message is
left for the queue's own redrive policy instead.

No I/O here.
"""

from __future__ import annotations

from resend_contract.models import ErrorInfo

EMPTY_BODY = "(empty body)"
_STRING = "String"


def copy_body(body: str) -> str:
    # SQS refuses an empty body.
    return body or EMPTY_BODY


def _size(name: str, value: str) -> int:
    return len(name.encode()) + len(_STRING) + len(value.encode())


def copy_attributes(
    body: str, message_id: str, error: ErrorInfo, max_bytes: int
) -> tuple[dict[str, dict[str, str]], bool] | None:
    """The attributes of the copy, and whether any had to be cut or dropped; None: cannot fit."""
    budget = max_bytes - len(copy_body(body).encode("utf-8", errors="surrogatepass"))
    if budget < 0:
        return None
    wanted = [
        ("source_message_id", message_id),
        ("error_code", error.Code),
        ("error_message", error.Message[:1024] or "-"),
    ]
    attributes: dict[str, dict[str, str]] = {}
    trimmed = False
    for name, value in wanted:
        room = budget - _size(name, "")
        if len(value.encode()) > room:
            trimmed = True
            if name != "error_message" or room < 16:
                continue  # an id or a code is useless cut; a shorter attribute may still fit
            value = value.encode()[:room].decode("utf-8", errors="ignore")
        attributes[name] = {"DataType": _STRING, "StringValue": value}
        budget -= _size(name, value)
    return attributes, trimmed
