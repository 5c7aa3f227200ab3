"""``statusd.deliver.schedule``: backoff with jitter, give up after 24 h, disable after 3 days."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.deliver.schedule import (
    BACKOFF,
    DISABLE_AFTER,
    GIVE_UP_AFTER,
    next_attempt,
    retry_at,
    should_disable,
)

NOW = 1_800_000_000.0


class Fixed(random.Random):
    """``uniform`` answers one end of the range: 0 the low end, 1 the high end."""

    def __init__(self, end: float) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.end


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 10.0), (2, 30.0), (3, 120.0), (4, 600.0), (5, 3600.0), (6, 3600.0), (40, 3600.0)],
)
def test_backoff_steps(attempts: int, delay: float) -> None:
    assert retry_at(attempts, NOW, Fixed(0.5)) == pytest.approx(NOW + delay)
    assert retry_at(attempts, NOW, Fixed(0.0)) == pytest.approx(NOW + delay * 0.8)
    assert retry_at(attempts, NOW, Fixed(1.0)) == pytest.approx(NOW + delay * 1.2)


@given(st.integers(min_value=1, max_value=100), st.integers(min_value=0, max_value=2**32))
def test_jitter_stays_within_20_percent(attempts: int, seed: int) -> None:
    delay = retry_at(attempts, NOW, random.Random(seed)) - NOW
    base = BACKOFF[min(attempts, len(BACKOFF)) - 1]
    assert 0.8 * base <= delay <= 1.2 * base


def test_jitter_spreads_entries_failing_together() -> None:
    rng = random.Random(7)
    times = {round(retry_at(1, NOW, rng), 3) for _ in range(100)}
    assert len(times) > 90


def test_retries_last_24_hours_from_creation() -> None:
    created = NOW - GIVE_UP_AFTER + 100.0
    assert next_attempt(1, NOW, NOW, Fixed(0.5)) == pytest.approx(NOW + 10.0)
    # An hourly retry would fall past the 24 h mark: the last attempt is at the mark.
    assert next_attempt(9, created, NOW, Fixed(0.5)) == pytest.approx(created + GIVE_UP_AFTER)
    assert next_attempt(10, created, created + GIVE_UP_AFTER, Fixed(0.5)) is None


def test_a_schedule_of_failures_ends_after_about_28_attempts() -> None:
    rng = random.Random(1)
    now, attempts = NOW, 0
    while (at := next_attempt(attempts + 1, NOW, now, rng)) is not None:
        attempts += 1
        now = at
    assert now == pytest.approx(NOW + GIVE_UP_AFTER)
    assert 24 <= attempts <= 32


def test_webhook_disabled_after_three_days_failing() -> None:
    assert not should_disable(None, NOW)
    assert not should_disable(NOW - DISABLE_AFTER + 1, NOW)
    assert should_disable(NOW - DISABLE_AFTER, NOW)
