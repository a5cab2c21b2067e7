"""The request lanes: a queue's priority at the shared Cognito budget.

A person waiting at the sign-up screen sends an interactive request; a campaign, a migration or a
replay after an outage sends bulk ones by the ten thousand. Both draw on one small quota, so the
lane decides who waits: interactive requests take every token they want, bulk takes the rest with
a floor (``worker.rate_limit.turns``). The values are the metrics' ``lane`` label.
"""

from __future__ import annotations

from enum import StrEnum


class Lane(StrEnum):
    INTERACTIVE = "interactive"
    BULK = "bulk"
