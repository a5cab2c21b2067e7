"""The one backoff formula of the project, shared by the worker's retry loops and the client's.

Full jitter (a uniform wait under an exponential ceiling): senders that failed together, say
a fleet throttled by the same quota, spread their retries instead of retrying in step.
"""

from __future__ import annotations

import random


def full_jitter(retry: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``retry`` (0 for the first): uniform in [0, ceiling].

    The ceiling is ``base * 2**retry``, never above ``cap``.
    """
    if retry < 0:
        raise ValueError("the retry number must not be negative")
    ceiling = cap if retry >= 64 else min(cap, base * 2**retry)
    return random.uniform(0, ceiling)
