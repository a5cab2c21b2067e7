"""The command's exit statuses: the AWS CLI v2's, plus 1 for "not everything went through".

Scripts written against ``aws`` keep working: 252 and 253 mean nothing was sent; 254 means SQS
answered with an error; 255 is anything else, connection failures and a ``--wait`` that ran out
of time included. 1 is this command's own (the AWS CLI uses it for partial ``s3`` transfers):
some lines of ``--from-file`` were not sent, or the awaited result is ``failed`` or ``invalid``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK loads only when something is sent
    from resend_client.errors import EnqueueError

OK = 0
NOT_ALL = 1
USAGE = 252
CONFIGURATION = 253
SERVICE = 254
OTHER = 255
INTERRUPTED = 130


def for_error(error: EnqueueError) -> int:
    if error.kind == "configuration":
        return CONFIGURATION
    if error.kind == "service":
        return SERVICE
    return OTHER


class UsageError(Exception):
    """Bad command line: every problem at once, each naming its flag; exit 252."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ConfigurationError(Exception):
    """An unusable AWS configuration (a profile, a setting); exit 253."""
