"""The shared full-jitter formula: bounded by its ceiling and by its cap, and spread out."""

from __future__ import annotations

import pytest
from resend_contract.backoff import full_jitter


def test_waits_stay_under_the_exponential_ceiling() -> None:
    for retry in range(6):
        waits = [full_jitter(retry, 0.1, 100.0) for _ in range(500)]
        assert min(waits) >= 0
        assert max(waits) <= 0.1 * 2**retry
        # Full jitter spreads the waits over the whole range, not near the ceiling only.
        assert min(waits) < 0.1 * 2**retry * 0.2
        assert max(waits) > 0.1 * 2**retry * 0.8


def test_the_cap_bounds_late_retries_even_for_huge_retry_numbers() -> None:
    assert all(full_jitter(retry, 0.1, 2.0) <= 2.0 for retry in (5, 30, 64, 10_000))


def test_a_negative_retry_number_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        full_jitter(-1, 0.1, 1.0)
