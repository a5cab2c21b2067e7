"""The worker's two request lanes, and which queue each one is.

The worker drains two queues into one Cognito budget. The interactive lane
(``RESEND_QUEUE_URL``) is for a person waiting at the sign-up screen: its requests take every
token they want. The bulk lane (``RESEND_BULK_QUEUE_URL``, optional) is for anything a job
generates (campaigns, migrations, replays): it gets what is left, so a campaign never delays a
person. A user asked for in both lanes still gets one code.

A queue URL names its lane, so a producer picks a lane either by the queue URL it sends to or by
a priority, which reads that lane's variable, the same one the worker reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, get_args

Priority = Literal["interactive", "bulk"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

INTERACTIVE_SETTING = "RESEND_QUEUE_URL"
BULK_SETTING = "RESEND_BULK_QUEUE_URL"
SETTINGS: dict[Priority, str] = {"interactive": INTERACTIVE_SETTING, "bulk": BULK_SETTING}


def lane_queue_url(priority: Priority, environ: Mapping[str, str] | None = None) -> str:
    """The queue of a lane, from its variable; ``ValueError`` naming the variable when unset."""
    if priority not in SETTINGS:
        raise ValueError("priority: must be 'interactive' or 'bulk'")
    setting = SETTINGS[priority]
    url = (os.environ if environ is None else environ).get(setting, "")
    if not url:
        raise ValueError(f"priority {priority!r}: {setting} is not set (the lane's queue URL)")
    return url


def resolve_queue_url(queue_url: str | None, priority: Priority | None) -> str:
    """The clients' rule: a queue URL, or a priority that reads its lane's variable; not both."""
    if queue_url is not None and priority is not None:
        raise ValueError("give queue_url or priority, not both (a queue URL names its lane)")
    if priority is not None:
        return lane_queue_url(priority)
    if not queue_url:
        raise ValueError("queue_url: required (or priority='interactive' or 'bulk')")
    return queue_url
