"""The AIMD rule on its own, with the time passed in."""

from __future__ import annotations

import math

import pytest

from worker.rate_limit.aimd import AimdPolicy, AimdRate


@pytest.mark.parametrize(
    ("max_rps", "floor"),
    [(10.0, 0.5), (50.0, 2.5), (200.0, 10.0), (0.2, 0.2)],
)
def test_floor_is_five_percent_or_half_an_rps_never_above_the_maximum(
    max_rps: float, floor: float
) -> None:
    assert AimdPolicy.for_max(max_rps).min_rps == pytest.approx(floor)


def test_throttle_halves_once_per_cooldown() -> None:
    aimd = AimdRate(AimdPolicy.for_max(40.0))
    assert aimd.throttled(now=100.0)
    assert aimd.rate == 20.0
    # The other calls that were in flight come back throttled within the cooldown.
    assert not aimd.throttled(now=100.3)
    assert not aimd.throttled(now=100.99)
    assert aimd.rate == 20.0
    assert aimd.throttled(now=101.0)
    assert aimd.rate == 10.0


def test_throttles_stop_at_the_floor() -> None:
    policy = AimdPolicy.for_max(40.0)
    aimd = AimdRate(policy)
    for second in range(20):
        aimd.throttled(now=float(second))
    assert aimd.rate == policy.min_rps == 2.0


def test_a_batch_of_successes_equals_the_same_successes_one_by_one() -> None:
    policy = AimdPolicy.for_max(50.0)
    one_by_one, batched = AimdRate(policy), AimdRate(policy)
    for aimd in (one_by_one, batched):
        aimd.throttled(now=0.0)
        aimd.throttled(now=2.0)
    for _ in range(17):
        one_by_one.succeeded(now=3.0)
    batched.succeeded(now=3.0, successes=17)
    assert 12.5 < batched.rate < 50.0
    assert one_by_one.rate == pytest.approx(batched.rate)


def seconds_to_recover(aimd: AimdRate, now: float) -> float:
    """Successes arriving at the allowed rate until the maximum is back."""
    start = now
    while aimd.rate < aimd.policy.max_rps:
        now += 1.0 / aimd.rate
        aimd.succeeded(now)
        assert now - start < 60, "never recovered"
    return now - start


@pytest.mark.parametrize("max_rps", [10.0, 25.0, 50.0])
def test_recovery_takes_seconds_not_minutes(max_rps: float) -> None:
    aimd = AimdRate(AimdPolicy.for_max(max_rps))
    aimd.throttled(now=0.0)
    # From half the maximum: fast to 90% of the ceiling, (0.9 - 0.5) / 0.1 = 4 seconds, then a
    # probe of 2% of the ceiling per second over the last tenth, 5 seconds.
    assert 8.0 < seconds_to_recover(aimd, now=0.0) < 10.5
    for second in range(10, 40):
        aimd.throttled(now=float(second))
    assert aimd.rate == aimd.policy.min_rps
    # Throttled at the floor: no ceiling is learnt (someone else holds the quota), so the climb
    # back is the fast one, about 10 seconds (9.5 plus the long first gaps at a low rate).
    assert aimd.ceiling is None
    assert 8.5 < seconds_to_recover(aimd, now=40.0) < 11.5


def test_ceiling_is_probed_slowly_and_forgotten() -> None:
    aimd = AimdRate(AimdPolicy.for_max(60.0))
    aimd.rate = 20.0
    aimd.throttled(now=0.0)
    assert (aimd.ceiling, aimd.rate) == (20.0, 10.0)
    now = 0.0
    while aimd.rate < 18.0:
        now += 1.0 / aimd.rate
        aimd.succeeded(now)
    assert now < 2.0  # fast up to 90% of the ceiling
    start = now
    while aimd.rate < 20.0:
        now += 1.0 / aimd.rate
        aimd.succeeded(now)
    assert 4.0 < now - start < 6.0  # then 2% of the ceiling per second
    aimd.succeeded(11.0)
    assert aimd.ceiling is None  # forgotten 10 s after the cut


def test_passing_the_ceiling_by_a_tenth_forgets_it() -> None:
    """The quota grew (another caller gave its share back): climb fast again, not at 2%/s."""
    aimd = AimdRate(AimdPolicy.for_max(40.0))
    aimd.throttled(0.0)
    aimd.rate, aimd.ceiling = 20.0, 20.0  # probing at the ceiling learnt from the throttle
    now = 0.1
    while aimd.ceiling is not None:
        now += 1.0 / aimd.rate
        aimd.succeeded(now)
    assert 22.0 <= aimd.rate <= 22.2
    probing = now
    while aimd.rate < 36.0:
        now += 1.0 / aimd.rate
        aimd.succeeded(now)
    # 14 RPS more in about 3.5 s: the fast climb (4 RPS a second), where the probe would have
    # taken 35 s (0.4 RPS a second).
    assert now - probing < 5.0


def test_recovery_grows_linearly_in_time() -> None:
    aimd = AimdRate(AimdPolicy.for_max(20.0))
    aimd.throttled(now=0.0)
    start = aimd.rate
    now = 0.0
    while now < 2.0:
        now += 1.0 / aimd.rate
        aimd.succeeded(now)
    # Two seconds at the allowed rate gain about 2 x max / 10 = 4 RPS.
    assert math.isclose(aimd.rate - start, 4.0, rel_tol=0.2)


def test_no_success_no_increase_and_never_above_the_maximum() -> None:
    aimd = AimdRate(AimdPolicy.for_max(10.0))
    aimd.succeeded(now=0.0, successes=1000)
    assert aimd.rate == 10.0
    aimd.throttled(now=1.0)
    aimd.succeeded(now=2.0, successes=0)
    assert aimd.rate == 5.0


def test_state_is_forgotten_after_idling() -> None:
    aimd = AimdRate(AimdPolicy.for_max(10.0, idle_reset=60.0))
    aimd.throttled(now=0.0)
    aimd.touch(now=59.0)
    assert aimd.rate == 5.0
    aimd.touch(now=119.5)
    assert aimd.rate == 10.0
    # The cooldown went with it: a throttle right after cuts at once.
    assert aimd.throttled(now=119.6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_rps": 10.0, "min_rps": 0.0},
        {"max_rps": 10.0, "min_rps": 11.0},
        {"max_rps": 10.0, "min_rps": 1.0, "decrease_factor": 1.0},
        {"max_rps": 10.0, "min_rps": 1.0, "increase_per_second": 0.0},
        {"max_rps": 10.0, "min_rps": 1.0, "cooldown": -1.0},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AimdPolicy(**kwargs)
